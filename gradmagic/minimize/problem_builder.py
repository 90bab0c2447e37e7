"""Building a :class:`~gradmagic.minimize.problem.Problem` from a ``%minimize`` line or cell.

The objective can be

* an expression: ``a*x**2 + b*x + c`` (jax.numpy names the notebook lacks are available),
* the name of a zero-argument function reading notebook globals: ``f`` (called as ``f()``),
* a call: ``f(x)``,
* a target of the last ``%%tape``: ``y``,
* a cell (``%%minimize``): its last expression, or ``--of NAME``.

Its variables are ``--wrt`` names (floats, arrays, or pytrees whose floating leaves change)
and ``--data`` names the arrays the loop feeds it in minibatches.  Everything is checked
here, before anything is traced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradmagic.cell import LAST_EXPRESSION, analyse_cell
from gradmagic.cell_program import floats_read, frozen_values
from gradmagic.errors import GradmagicError
from gradmagic.expressions import expression_program, jax_numpy_fallback
from gradmagic.minimize.problem import Problem
from gradmagic.pytrees import Leaf, checked_leaves, is_container, is_differentiable, leaf_value
from gradmagic.values import describe, is_floating


def _zero_argument_function(text: str, namespace: dict[str, Any]) -> bool:
    import inspect

    value = namespace.get(text)
    if not text.isidentifier() or not callable(value) or is_floating(value):
        return False
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in signature.parameters.values()
    )


def problem_from_magic(
    objective: str,
    cell: str | None,
    filename: str | None,
    namespace: dict[str, Any],
    wrt: Sequence[str],
    of: str | None,
    data: Sequence[str] = (),
) -> Problem:
    """The problem of a ``%minimize OBJECTIVE`` line, or of a ``%%minimize`` cell
    (``data``: the ``--data`` names)."""
    if cell is not None:
        return problem_from_cell(cell, filename or "<cell>", namespace, wrt, of, data)
    if of is not None:
        raise GradmagicError(
            "--of is for the cell form (%%minimize); in a line, the expression is the objective."
        )
    return problem_from_line(objective, namespace, wrt, namespace.get("_tape"), data)


def problem_from_line(
    objective: str,
    namespace: dict[str, Any],
    wrt: Sequence[str],
    last_tape: Any = None,
    data: Sequence[str] = (),
) -> Problem:
    """Build the problem for ``%minimize OBJECTIVE``."""
    if not objective:
        raise GradmagicError("Give an objective, e.g. %minimize a*x**2 + b*x + c --wrt x")
    if (
        last_tape is not None
        and objective in last_tape.targets
        and not callable(namespace.get(objective))
    ):
        program = last_tape.program
        output = last_tape.target_name(objective)
        return _problem(program, output, objective, namespace, wrt, data)
    source = f"{objective}()" if _zero_argument_function(objective, namespace) else objective
    program = expression_program(source, namespace, "%%minimize", "--start")
    return _problem(program, LAST_EXPRESSION, objective, namespace, wrt, data)


def problem_from_cell(
    cell: str,
    filename: str,
    namespace: dict[str, Any],
    wrt: Sequence[str],
    of: str | None,
    data: Sequence[str] = (),
) -> Problem:
    """Build the problem for ``%%minimize``: the cell's last expression or ``--of NAME``."""
    from gradmagic.cell_program import CellProgram

    try:
        analysis = analyse_cell(cell, filename)
    except SyntaxError as error:
        raise GradmagicError(
            f"The cell is not valid Python: {error.msg} (line {error.lineno})."
        ) from None
    if of is not None:
        if of not in analysis.assigns:
            raise GradmagicError(
                f"--of {of}: the cell does not assign {of}. Name a variable it assigns, "
                "or end the cell with the objective expression."
            )
        output, label = of, of
    elif analysis.last_expression is not None:
        output, label = LAST_EXPRESSION, analysis.last_expression
    else:
        raise GradmagicError(
            "End the cell with the objective (an expression), or name it with --of NAME."
        )
    program = CellProgram(
        analysis,
        namespace,
        frozen_values(analysis.reads, namespace),
        jax_numpy_fallback(analysis, namespace),
    )
    return _problem(program, output, label, namespace, wrt, data)


def _check_data_names(data: Sequence[str], wrt: Sequence[str], namespace: dict[str, Any]) -> None:
    for name in data:
        if name not in namespace:
            raise GradmagicError(
                f"--data {name}: {name} is not defined in the notebook. Define it first "
                f"(e.g. {name} = np.asarray(...), one row per example)."
            )
        if name in wrt:
            raise GradmagicError(
                f"--data {name} and --wrt {name}: {name} cannot be both data and a variable "
                "to optimise; drop it from one of them."
            )


def _problem(
    program: Any,
    output: str,
    label: str,
    namespace: dict[str, Any],
    wrt: Sequence[str],
    data: Sequence[str] = (),
) -> Problem:
    from gradmagic.program_cache import constants_key, structure_key

    _check_data_names(data, wrt, namespace)
    candidates = [n for n in floats_read(program.analysis.reads, namespace) if n not in data]
    if not wrt:
        trees = [
            n
            for n in program.analysis.reads
            if n in namespace
            and n not in data
            and is_container(namespace[n])
            and is_differentiable(namespace[n])
        ]
        if len(candidates) + len(trees) != 1:
            found = [*candidates, *trees]
            listed = ", ".join(found) if found else "none"
            raise GradmagicError(
                f"Which variables should change? The objective reads {len(found)} floating "
                f"names ({listed}); name them with --wrt, e.g. --wrt {found[0] if found else 'x'}."
            )
        wrt = [*candidates, *trees]
    variables: list[str] = []
    leaves: list[Leaf | None] = []
    for name in wrt:
        for leaf in _variable_leaves(name, namespace):
            variables.append(name if leaf is None else leaf.label)
            leaves.append(leaf)
    frozen = dict(program.frozen)
    for name in [*wrt, *candidates, *data]:
        frozen.setdefault(name, namespace[name])
    program.frozen = frozen
    names = set(wrt)
    dynamic = tuple(n for n in candidates if n not in names) + tuple(
        n
        for n, v in frozen.items()
        if is_floating(v) and n not in names and n not in candidates and n not in data
    )
    cache_key = (
        "minimize",
        program.analysis.source,
        output,
        tuple(variables),
        dynamic,
        tuple(data),
        constants_key(frozen, skip=names | set(data)),
    )
    start = tuple(
        namespace[v] if leaf is None else leaf_value(namespace[leaf.name], leaf.index)
        for v, leaf in zip(variables, leaves, strict=True)
    )
    has_trees = any(leaf is not None for leaf in leaves)
    return Problem(
        program,
        output,
        label,
        tuple(variables),
        start,
        dynamic,
        cache_key,
        leaves=tuple(leaves) if has_trees else (),
        data=tuple(data),
        saved_as=(  # the baked-in values themselves: fingerprinted the same in any kernel
            cache_key[:-1],
            {
                n: structure_key(v) if n in names else v
                for n, v in frozen.items()
                if not is_floating(v) and n not in data
            },
            sorted(program.fallback),
        ),
    )


def _variable_leaves(name: str, namespace: dict[str, Any]) -> list[Leaf | None]:
    """What ``--wrt name`` optimises: the value itself (``[None]``) or a pytree's floating
    leaves; anything else is refused with the fix."""
    if name not in namespace:
        raise GradmagicError(
            f"--wrt {name}: {name} is not defined in the notebook. Define it first (e.g. {name} = 1.0)."
        )
    value = namespace[name]
    if is_floating(value):
        return [None]
    if is_container(value):
        return list(checked_leaves(name, value, "--wrt"))
    if isinstance(value, bool | int) or getattr(value, "dtype", None) is not None:
        example = f"{float(value)!r}" if isinstance(value, bool | int) else "1.0"
        raise GradmagicError(
            f"--wrt {name}: {name} is {describe(value)}; an optimised variable must be "
            f"floating. Make it a float (e.g. {name} = {example})."
        )
    raise GradmagicError(f"--wrt {name}: {name} is {describe(value)}, not a number to optimise.")

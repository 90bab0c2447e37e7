"""What ``%minimize`` minimises: an objective built from notebook code, without IPython.

A :class:`Problem` is a cell program (see :mod:`gradmagic.cell_program`), the output that is the
objective, the variables to optimise and their starting values.  It can come from

* an expression: ``a*x**2 + b*x + c`` (jax.numpy names the notebook lacks are available),
* the name of a zero-argument function reading notebook globals: ``f`` (called as ``f()``),
* a call: ``f(x)``,
* a target of the last ``%%tape``: ``y``,
* a cell (``%%minimize``): its last expression, or ``--of NAME``.

Other floating values the objective reads (directly, or as globals of a function it
calls) are passed to the compiled loop as arguments, never baked in, so changing them
in the notebook and re-running reuses the compiled program.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gradmagic.cell import LAST_EXPRESSION, analyse_cell
from gradmagic.cell_program import floats_read, frozen_values
from gradmagic.errors import GradmagicError
from gradmagic.expressions import expression_program, jax_numpy_fallback
from gradmagic.pytrees import Leaf, checked_leaves, is_container, is_differentiable, leaf_value
from gradmagic.values import describe, is_floating


@dataclass
class Problem:
    """An objective, its variables and where they start."""

    program: Any  # gradmagic.cell_program.CellProgram
    output: str
    label: str  # the objective as the user wrote it
    variables: tuple[str, ...]  # one per optimised array: a name, or a leaf path params['w']
    start: tuple[Any, ...]
    dynamic: tuple[str, ...]  # other floating names read: passed as arguments
    cache_key: tuple
    notebook_start: tuple[Any, ...] | None = None  # the notebook's values, when ``start`` differs
    leaves: tuple[Leaf | None, ...] = ()  # per variable: its pytree leaf (None: the whole name)

    @property
    def names(self) -> tuple[str, ...]:
        """The notebook names being optimised (a pytree is one name, many variables)."""
        if not self.leaves:
            return self.variables
        return tuple(
            dict.fromkeys(
                v if leaf is None else leaf.name
                for v, leaf in zip(self.variables, self.leaves, strict=True)
            )
        )

    def by_name(self, values: Sequence[Any], written: bool = False) -> dict[str, Any]:
        """Per-variable ``values`` regrouped per notebook name: a pytree's leaves back in its
        structure (``written``: with each leaf's own type, as written back to the notebook;
        otherwise other leaves are None, as ``jax.grad`` gives them)."""
        from gradmagic.pytrees import assembled, like, written_back

        grouped: dict[str, list[tuple[Leaf | None, Any]]] = {}
        leaves = self.leaves or (None,) * len(self.variables)
        for variable, leaf, value in zip(self.variables, leaves, values, strict=True):
            grouped.setdefault(variable if leaf is None else leaf.name, []).append((leaf, value))
        result = {}
        for name, pairs in grouped.items():
            if pairs[0][0] is None:
                value = pairs[0][1]
                result[name] = like(self.program.frozen[name], value) if written else value
                continue
            tree = self.program.frozen[name]
            combine = written_back if written else assembled
            result[name] = combine(tree, [leaf for leaf, _ in pairs], [v for _, v in pairs])
        return result

    def scipy_x(self, values: Sequence[Any], written: bool = True) -> Any:
        """SciPy's ``x`` (or ``jac``, not ``written``): the one variable's value (a pytree
        stays one), else a dict by name."""
        named = self.by_name(values, written=written)
        return next(iter(named.values())) if len(named) == 1 else named

    def starting_at(self, values: Mapping[str, float]) -> Problem:
        """The same problem from other starting values (``--start x=4,y=0.5``); variables
        not named keep the notebook's values."""
        import numpy as np

        for name in values:
            if name not in self.variables:
                raise GradmagicError(
                    f"--start {name}=…: {name} is not a variable being optimised "
                    f"(--wrt {','.join(self.variables)}); start only those."
                )
        start = []
        for name, value in zip(self.variables, self.start, strict=True):
            if name not in values:
                start.append(value)
            elif np.shape(value) != ():
                raise GradmagicError(
                    f"--start {name}=…: {name} has shape {np.shape(value)}; --start sets "
                    "scalar variables only (assign the array in the notebook instead)."
                )
            elif isinstance(value, float):
                start.append(float(values[name]))
            else:
                start.append(np.asarray(values[name], dtype=np.asarray(value).dtype))
        return replace(self, start=tuple(start), notebook_start=self.start)

    @property
    def moved_start(self) -> dict[str, float]:
        """The ``--start`` values that reproduce ``start`` from the notebook (only those
        that differ), or ``{}``."""
        return start_difference(self, self.start)

    def objective(self, params: tuple, aux: dict[str, Any]) -> Any:
        """The objective as ``f(params, aux)``, the form the optimisation engine takes."""
        from gradmagic.pytrees import with_leaves

        overrides = dict(aux)
        if not self.leaves:
            overrides.update(zip(self.variables, params, strict=True))
        else:
            replaced: dict[str, dict[int, Any]] = {}
            for variable, leaf, value in zip(self.variables, self.leaves, params, strict=True):
                if leaf is None:
                    overrides[variable] = value
                else:
                    replaced.setdefault(leaf.name, {})[leaf.index] = value
            for name, replacements in replaced.items():
                overrides[name] = with_leaves(self.program.frozen[name], replacements)
        return self.program.run(overrides, None, [self.output])[self.output]

    def aux(self) -> dict[str, Any]:
        from gradmagic.cell_program import as_array

        return {name: as_array(self.program.frozen[name]) for name in self.dynamic}

    def run(
        self,
        *,
        optimizer: str = "sgd",
        lr: float = 0.01,
        steps: int = 1000,
        momentum: float | None = None,
        tol: float | None = None,
        start: Sequence[Any] | None = None,
        on_progress: Callable[[int, float], None] | None = None,
        **engine: Any,
    ) -> Any:
        """One optimisation run from ``start`` (default: the notebook's values); ``engine``
        passes ``bounds``, ``schedule`` and ``callback`` on to the driver's ``minimize``."""
        from gradmagic.minimize.driver import minimize

        return minimize(
            self.objective,
            tuple(start) if start is not None else self.start,
            aux=self.aux(),
            optimizer=optimizer,
            lr=lr,
            steps=steps,
            momentum=momentum,
            tol=tol,
            cache_key=self.cache_key,
            on_progress=on_progress,
            names=self.variables,
            **engine,
        )

    def solve(
        self,
        *,
        start: Sequence[Any] | None = None,
        curvature: Any = None,
        **settings: Any,
    ) -> Any:
        """One run (``settings`` as :meth:`run` takes them) as a
        :class:`~gradmagic.minimize.result.MinimizeResult`; a diverged run gets step-size
        advice from ``curvature`` (a :class:`Curvature` the caller already has, as the panel
        does) or else the curvature at its start (compiled once per problem, like the loop)."""
        from gradmagic.minimize.curvature import curvature_at
        from gradmagic.minimize.optimizers import resolve_optimizer
        from gradmagic.minimize.result import MinimizeResult
        from gradmagic.minimize.step_size import StepSizeAdvice

        begin = tuple(start) if start is not None else self.start
        run = self.run(start=begin, **settings)
        advice = None
        # A NaN gradient is not a divergence: no curvature, no learning-rate advice.
        wanted = run.diverged_at is not None and run.nonfinite_gradient is None
        if wanted and curvature is None:
            curvature = curvature_at(self.objective, begin, self.aux(), cache_key=self.cache_key)
        if wanted:
            advice = StepSizeAdvice.for_optimizer(
                curvature, resolve_optimizer(run.optimizer), run.momentum
            )
        return MinimizeResult(self, begin, run, advice)


def start_difference(problem: Problem, start: Sequence[Any]) -> dict[str, float]:
    """The scalar variables whose value in ``start`` differs from the notebook's, by name."""
    import numpy as np

    notebook = problem.notebook_start if problem.notebook_start is not None else problem.start
    return {
        name: float(value)
        for name, value, there in zip(problem.variables, start, notebook, strict=True)
        if np.shape(value) == () and float(value) != float(there)
    }


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
) -> Problem:
    """The problem of a ``%minimize OBJECTIVE`` line, or of a ``%%minimize`` cell."""
    if cell is not None:
        return problem_from_cell(cell, filename or "<cell>", namespace, wrt, of)
    if of is not None:
        raise GradmagicError(
            "--of is for the cell form (%%minimize); in a line, the expression is the objective."
        )
    return problem_from_line(objective, namespace, wrt, namespace.get("_tape"))


def problem_from_line(
    objective: str,
    namespace: dict[str, Any],
    wrt: Sequence[str],
    last_tape: Any = None,
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
        return _problem(program, output, objective, namespace, wrt)
    source = f"{objective}()" if _zero_argument_function(objective, namespace) else objective
    program = expression_program(source, namespace, "%%minimize", "--start")
    return _problem(program, LAST_EXPRESSION, objective, namespace, wrt)


def problem_from_cell(
    cell: str, filename: str, namespace: dict[str, Any], wrt: Sequence[str], of: str | None
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
    return _problem(program, output, label, namespace, wrt)


def _problem(
    program: Any, output: str, label: str, namespace: dict[str, Any], wrt: Sequence[str]
) -> Problem:
    from gradmagic.program_cache import constants_key

    candidates = floats_read(program.analysis.reads, namespace)
    if not wrt:
        trees = [
            n
            for n in program.analysis.reads
            if n in namespace and is_container(namespace[n]) and is_differentiable(namespace[n])
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
    for name in [*wrt, *candidates]:
        frozen.setdefault(name, namespace[name])
    program.frozen = frozen
    names = set(wrt)
    dynamic = tuple(n for n in candidates if n not in names) + tuple(
        n for n, v in frozen.items() if is_floating(v) and n not in names and n not in candidates
    )
    cache_key = (
        "minimize",
        program.analysis.source,
        output,
        tuple(variables),
        dynamic,
        constants_key(frozen, skip=names),
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

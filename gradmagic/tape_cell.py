"""Recording a ``%%tape`` cell: choose its inputs and targets, differentiate it, run it.

The magics module parses the line and calls :func:`record_tape` with the notebook namespace
and an ``execute`` callback that runs code for real (so IPython can show its usual
traceback).  Order matters for the promise that bad input leaves the namespace as it was:
everything that can be checked is checked, and the derivatives are traced silently,
*before* the cell runs for real.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import CodeType
from typing import Any

from gradmagic.at_point import default_inputs, evaluated_at, require_read
from gradmagic.cell import LAST_EXPRESSION, CellAnalysis, analyse_cell, compile_cell
from gradmagic.errors import GradmagicError
from gradmagic.pytrees import is_differentiable
from gradmagic.sources import input_sources


def resolve_sources(analysis: CellAnalysis, namespace: dict[str, Any], wrt: Sequence[str]) -> list:
    """``--wrt`` names (or the default: differentiable names read) as ``Source`` objects; a
    name holding a pytree gives one source per floating leaf (``params['w']``)."""
    from gradmagic.cell_program import Source

    if not wrt:
        chosen = [n for n in analysis.reads if n in namespace and is_differentiable(namespace[n])]
        if not chosen:
            raise GradmagicError(
                "The cell reads no floating value to differentiate with respect to. "
                "Make an input a float (x = 2.0) or name one with --wrt."
            )
        return [s for name in chosen for s in input_sources(name, namespace[name], "--wrt")]
    sources = []
    for name in wrt:
        read_first = name in analysis.reads
        if (read_first or name not in analysis.assigns) and name in namespace:
            sources.extend(input_sources(name, namespace[name], "--wrt"))
        elif name in analysis.assigns:
            sources.append(Source(name, intermediate=True))
        else:
            raise GradmagicError(
                f"--wrt {name}: {name} is not defined in the notebook and the cell does not assign "
                f"it. Define it first (e.g. {name} = 1.0), give it a value with --at {name}=1.0, "
                "or fix the name."
            )
    return sources


def resolve_targets(analysis: CellAnalysis, of: Sequence[str]) -> list[str] | None:
    """``--of`` names as core output names (the last expression by its text or ``_``)."""
    if not of:
        return None
    targets = []
    for name in of:
        if name in analysis.assigns:
            targets.append(name)
        elif name == "_" and analysis.last_expression is not None:
            targets.append(LAST_EXPRESSION)
        else:
            assigned = ", ".join(analysis.assigns) or "nothing"
            raise GradmagicError(
                f"--of {name}: the cell does not assign {name} (it assigns {assigned}). "
                "Name a variable the cell assigns, or _ for its last expression."
            )
    return targets


def record_tape(
    source: str,
    filename: str,
    namespace: dict[str, Any],
    wrt: Sequence[str],
    of: Sequence[str],
    options: Any,
    execute: Callable[[CodeType], None],
    at: Mapping[str, Any] | None = None,
) -> Any:
    """Differentiate a cell as ``options`` (a :class:`~gradmagic.tape.TapeOptions`) ask,
    run it for real once, and return its :class:`~gradmagic.tape.Tape`.

    ``at`` (``--at x=5``): the cell is differentiated *and run for real* with these values
    instead of the notebook's, so the tape, its table and what the cell assigns all
    describe that point (``%%tape --at x=5`` is ``Tape.at(x=5)`` of the cell, plus the
    cell's own effects).  The ``--at`` names themselves are not left in the notebook: each
    gets its old value back, or is removed when the notebook had none, unless the cell
    assigns it."""
    __tracebackhide__ = True
    if options.order < 1:
        raise GradmagicError(f"--order must be 1 or more, got {options.order} (e.g. --order 2).")
    with evaluated_at(namespace, at or {}):
        return _record(source, filename, namespace, wrt, of, options, execute, at or {})


def _record(
    source: str,
    filename: str,
    namespace: dict[str, Any],
    wrt: Sequence[str],
    of: Sequence[str],
    options: Any,
    execute: Callable[[CodeType], None],
    at: Mapping[str, Any],
) -> Any:
    __tracebackhide__ = True
    from gradmagic.cell_program import CellProgram, frozen_values
    from gradmagic.finite_differences import finite_differences
    from gradmagic.tape import Tape
    from gradmagic.tape_derivatives import compute_derivatives

    analysis = analyse_cell(source, filename)
    require_read(analysis, namespace, list(at), "cell")
    sources = resolve_sources(analysis, namespace, default_inputs(analysis, namespace, wrt, at))
    targets = resolve_targets(analysis, of)
    frozen = frozen_values(analysis.reads, namespace)
    for source_ in sources:
        if not source_.intermediate and source_.name not in frozen:
            frozen[source_.name] = namespace[source_.name]
    program = CellProgram(analysis, namespace, frozen)
    failure: Exception | None = None
    try:
        derivatives = compute_derivatives(program, sources, targets, options)
    except GradmagicError:
        raise
    except Exception as error:
        failure = error
    if failure is not None:
        # The cell itself failed while traced: run it for real, outside the handler above,
        # so the user sees the usual traceback (once, without gradmagic's frames).
        execute(compile_cell(analysis))
        raise GradmagicError(
            "The cell ran, but gradmagic could not differentiate it: "
            f"{type(failure).__name__}: {failure}"
        )
    if not derivatives.targets:
        raise GradmagicError(
            "No floating value the cell computes depends on "
            + ", ".join(dict.fromkeys(s.name for s in sources))
            + ". Assign a result (y = …), end the cell with an expression, or name a target with --of."
        )
    if targets is not None and (options.hessian or options.order > 1):
        for name in targets:
            shape = tuple(derivatives.values[name].shape)
            if shape != ():
                option = "--hessian" if options.hessian else "--order"
                raise GradmagicError(
                    f"{option} needs scalar targets; {program.label(name)} has shape {shape}. "
                    "Reduce it (e.g. jnp.sum) or drop it from --of."
                )
    checks = finite_differences(program, derivatives) if options.check else None
    execute(compile_cell(analysis))
    concrete = {name: namespace[name] for name in analysis.assigns if name in namespace}
    if LAST_EXPRESSION in namespace:
        concrete[LAST_EXPRESSION] = namespace.pop(LAST_EXPRESSION)
    return Tape(program, derivatives, options, concrete, checks)

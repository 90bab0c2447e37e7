"""What the differentiation magics do, without IPython.

The magics module parses the line and calls these functions with the notebook namespace
and an ``execute`` callback that runs code for real (so IPython can show its usual
traceback).  Order matters for the promise that bad input leaves the namespace as it was:
everything that can be checked is checked, and the derivatives are traced silently,
*before* the cell runs for real.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import CodeType
from typing import Any

from gradmagic.cell import LAST_EXPRESSION, CellAnalysis, analyse_cell, compile_cell
from gradmagic.errors import GradmagicError
from gradmagic.values import describe, is_floating


@dataclass(frozen=True)
class TapeRequest:
    """A parsed ``%%tape`` line."""

    wrt: tuple[str, ...] = ()
    of: tuple[str, ...] = ()
    hessian: bool = False
    order: int = 1
    check: bool = False
    jit: bool = False
    show_tape: bool = False
    unconnected: str = "zero"


def resolve_sources(analysis: CellAnalysis, namespace: dict[str, Any], wrt: Sequence[str]) -> list:
    """``--wrt`` names (or the default: floating names read) as core ``Source`` objects."""
    from gradmagic.core import Source

    if not wrt:
        chosen = [n for n in analysis.reads if n in namespace and is_floating(namespace[n])]
        if not chosen:
            raise GradmagicError(
                "The cell reads no floating value to differentiate with respect to. "
                "Make an input a float (x = 2.0) or name one with --wrt."
            )
        return [Source(name) for name in chosen]
    sources = []
    for name in wrt:
        read_first = name in analysis.reads
        if read_first and name in namespace:
            if not is_floating(namespace[name]):
                raise GradmagicError(
                    f"--wrt {name}: {name} is {describe(namespace[name])}, not a floating value. "
                    f"Make it a float (e.g. {name} = {_float_example(namespace[name])}) to differentiate "
                    "with respect to it."
                )
            sources.append(Source(name))
        elif name in analysis.assigns:
            sources.append(Source(name, intermediate=True))
        elif name in namespace:
            if not is_floating(namespace[name]):
                raise GradmagicError(
                    f"--wrt {name}: {name} is {describe(namespace[name])}, not a floating value."
                )
            sources.append(Source(name))  # read indirectly, e.g. by a function's globals
        else:
            raise GradmagicError(
                f"--wrt {name}: {name} is not defined in the notebook and the cell does not assign "
                f"it. Define it first (e.g. {name} = 1.0) or fix the name."
            )
    return sources


def _float_example(value: Any) -> str:
    if isinstance(value, bool | int):
        return f"{float(value)!r}"
    return "1.0"


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
    request: TapeRequest,
    execute: Callable[[CodeType], None],
) -> Any:
    """Differentiate a cell, run it for real once, and return its :class:`Tape`."""
    __tracebackhide__ = True
    from gradmagic.core import CellProgram, differentiate, finite_differences
    from gradmagic.tape import Tape, TapeOptions

    if request.order < 1:
        raise GradmagicError(f"--order must be 1 or more, got {request.order} (e.g. --order 2).")
    analysis = analyse_cell(source, filename)
    sources = resolve_sources(analysis, namespace, request.wrt)
    targets = resolve_targets(analysis, request.of)
    frozen = {name: namespace[name] for name in analysis.reads if name in namespace}
    for source_ in sources:
        if not source_.intermediate and source_.name not in frozen:
            frozen[source_.name] = namespace[source_.name]
    program = CellProgram(analysis, namespace, frozen)
    options = TapeOptions(
        hessian=request.hessian,
        order=request.order,
        check=request.check,
        jit=request.jit,
        show_tape=request.show_tape,
        unconnected=request.unconnected,
    )
    failure: Exception | None = None
    try:
        derivatives = differentiate(
            program,
            sources,
            targets,
            hessian=request.hessian,
            order=request.order,
            record=request.show_tape,
            compiled=request.jit,
        )
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
            + ", ".join(s.name for s in sources)
            + ". Assign a result (y = …), end the cell with an expression, or name a target with --of."
        )
    if targets is not None and (request.hessian or request.order > 1):
        for name in targets:
            shape = tuple(derivatives.values[name].shape)
            if shape != ():
                option = "--hessian" if request.hessian else "--order"
                raise GradmagicError(
                    f"{option} needs scalar targets; {program.label(name)} has shape {shape}. "
                    "Reduce it (e.g. jnp.sum) or drop it from --of."
                )
    checks = finite_differences(program, derivatives) if request.check else None
    execute(compile_cell(analysis))
    concrete = {name: namespace[name] for name in analysis.assigns if name in namespace}
    if LAST_EXPRESSION in namespace:
        concrete[LAST_EXPRESSION] = namespace.pop(LAST_EXPRESSION)
    return Tape(program, derivatives, options, concrete, checks)


# --------------------------------------------------------------------------- %grad / %hessian


def jax_numpy_fallback(analysis: CellAnalysis, namespace: dict[str, Any]) -> dict[str, Any]:
    """jax.numpy functions for the names a cell reads that neither the notebook nor
    Python's builtins define (so one-liners can say ``exp(w)``)."""
    import jax.numpy as jnp

    return {
        name: getattr(jnp, name)
        for name in analysis.reads
        if name not in namespace and not hasattr(builtins, name) and hasattr(jnp, name)
    }


def expression_program(expression: str, namespace: dict[str, Any], statements_magic: str) -> Any:
    """One expression as a cell program that also sees jax.numpy names the notebook lacks.

    ``statements_magic`` is the cell magic to suggest when the text is not one expression.
    """
    from gradmagic.core import CellProgram

    try:
        analysis = analyse_cell(expression, "<gradmagic-expression>")
    except SyntaxError as error:
        raise GradmagicError(
            f"Not a valid Python expression: {expression!r} ({error.msg})."
        ) from None
    if analysis.last_expression is None or analysis.assigns:
        raise GradmagicError(
            f"Expected one expression, got {expression!r}. For statements use {statements_magic}."
        )
    fallback = jax_numpy_fallback(analysis, namespace)
    undefined = [
        name
        for name in analysis.reads
        if name not in namespace and name not in fallback and not hasattr(builtins, name)
    ]
    if undefined:
        raise GradmagicError(
            f"{undefined[0]} is not defined in the notebook nor a jax.numpy function. "
            f"Define it first (e.g. {undefined[0]} = 1.0)."
        )
    frozen = {name: namespace[name] for name in analysis.reads if name in namespace}
    return CellProgram(analysis, namespace, frozen, fallback)


def _one_line_program(expression: str, namespace: dict[str, Any]) -> Any:
    if not expression:
        raise GradmagicError("Give an expression, e.g. %grad a*x**2 + b*x + c --wrt x")
    return expression_program(expression, namespace, "%%tape")


def _scalar_function(program: Any, sources: Sequence[Any]) -> tuple[Callable[..., Any], tuple]:
    """The expression as ``f(*sources) -> scalar`` and the sources' values."""
    import jax

    from gradmagic.core import as_array, cell_function, explain_trace_error

    function = cell_function(program, sources, [LAST_EXPRESSION])
    primals = tuple(as_array(program.frozen[s.name]) for s in sources)
    try:
        shape = jax.eval_shape(function, *primals)[0].shape
    except GradmagicError:
        raise
    except jax.errors.JAXTypeError as error:
        raise explain_trace_error(error, program.analysis, compiled=False) from None
    if shape != ():
        raise GradmagicError(
            f"The expression has shape {shape}; a gradient or Hessian needs a scalar. "
            "Reduce it (e.g. sum(...)) or use %%tape for its Jacobian."
        )
    return (lambda *p: function(*p)[0]), primals


def one_line_sources(program: Any, namespace: dict[str, Any], wrt: Sequence[str]) -> list:
    """``--wrt`` for an expression: defined floating names only (no intermediates)."""
    sources = resolve_sources(program.analysis, namespace, wrt)
    for source in sources:
        if source.intermediate:
            raise GradmagicError(f"--wrt {source.name}: {source.name} is not defined.")
        program.frozen.setdefault(source.name, namespace[source.name])
    return sources


def gradient_of_expression(expression: str, namespace: dict[str, Any], wrt: Sequence[str]) -> Any:
    """``%grad``: one name → its derivative; several → a tuple; none given → a dict."""
    import jax

    program = _one_line_program(expression, namespace)
    sources = one_line_sources(program, namespace, wrt)
    function, primals = _scalar_function(program, sources)
    gradients = jax.grad(function, argnums=tuple(range(len(sources))))(*primals)
    if not wrt:
        return {s.name: g for s, g in zip(sources, gradients, strict=True)}
    return gradients[0] if len(sources) == 1 else tuple(gradients)


def hessian_of_expression(expression: str, namespace: dict[str, Any], wrt: Sequence[str]) -> Any:
    """``%hessian``: a matrix; a tuple of blocks when several inputs include an array."""
    import jax
    import jax.numpy as jnp

    program = _one_line_program(expression, namespace)
    sources = one_line_sources(program, namespace, wrt)
    function, primals = _scalar_function(program, sources)
    if len(primals) == 1:
        return jax.hessian(function)(*primals)
    if all(p.shape == () for p in primals):
        flat = jnp.stack(primals)
        return jax.hessian(lambda v: function(*v))(flat)
    blocks = jax.hessian(function, argnums=tuple(range(len(primals))))(*primals)
    return tuple(tuple(row) for row in blocks)

"""One-line expressions: ``%grad``, ``%hessian``, and ``%minimize``'s objective.

An expression becomes a cell program (:mod:`gradmagic.cell_program`) that also sees the
``jax.numpy`` functions the notebook lacks, so ``%grad exp(w) --wrt w`` works without an
import.  Everything here is checked before anything is traced.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

from gradmagic.cell import LAST_EXPRESSION, CellAnalysis, analyse_cell
from gradmagic.errors import GradmagicError
from gradmagic.tape_cell import resolve_sources


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
    from gradmagic.cell_program import CellProgram

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

    from gradmagic.cell_program import as_array, cell_function
    from gradmagic.derivatives import explain_trace_error

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

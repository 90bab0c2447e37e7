"""One-line expressions: ``%grad``, ``%hessian``, and ``%minimize``'s objective.

An expression becomes a cell program (:mod:`gradmagic.cell_program`) that also sees the
``jax.numpy`` functions the notebook lacks, so ``%grad exp(w) --wrt w`` works without an
import.  Everything here is checked before anything is traced.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gradmagic.at_point import default_inputs, evaluated_at, require_read
from gradmagic.cell import LAST_EXPRESSION, CellAnalysis, analyse_cell
from gradmagic.errors import GradmagicError
from gradmagic.program_cache import ProgramCache
from gradmagic.tape_cell import resolve_sources
from gradmagic.values import is_floating

ONE_LINERS = ProgramCache()  # compiled %grad / %hessian programs


def jax_numpy_fallback(analysis: CellAnalysis, namespace: dict[str, Any]) -> dict[str, Any]:
    """jax.numpy functions for the names a cell reads that neither the notebook nor
    Python's builtins define (so one-liners can say ``exp(w)``)."""
    import jax.numpy as jnp

    return {
        name: getattr(jnp, name)
        for name in analysis.reads
        if name not in namespace and not hasattr(builtins, name) and hasattr(jnp, name)
    }


def expression_program(
    expression: str, namespace: dict[str, Any], statements_magic: str, point_option: str
) -> Any:
    """One expression as a cell program that also sees jax.numpy names the notebook lacks.

    ``statements_magic`` is the cell magic to suggest when the text is not one expression;
    ``point_option`` the option that gives an undefined name a value (``--at``, ``--start``).
    """
    from gradmagic.cell_program import CellProgram, frozen_values

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
            f"Define it first (e.g. {undefined[0]} = 1.0) or give it a value with "
            f"{point_option} {undefined[0]}=1.0."
        )
    frozen = frozen_values(analysis.reads, namespace)
    return CellProgram(analysis, namespace, frozen, fallback)


_MISSING = object()
_RECENT = ProgramCache(size=64)  # (seen, program, sources) per line: see _program_and_sources


def _program_and_sources(
    expression: str, namespace: dict[str, Any], wrt: Sequence[str], at: Mapping[str, Any]
) -> tuple[Any, list]:
    """The one-liner's program and sources, with the ``--at`` point already in
    ``namespace``: its names must be read, and are inputs when ``--wrt`` is not given.

    Re-running a line whose names all still hold the *same objects* reuses the last
    program and sources: analysing and checking them again is most of a re-run's own
    work.  Contents changed in place are still seen (the compiled program's key
    fingerprints them, and values are read at each call); pytree inputs and ``--at``
    points (new arrays every run) always take the full path."""
    recent_key = (expression, tuple(wrt))
    recent = None if at else _RECENT.get(recent_key)
    if recent is not None:
        seen, program, sources = recent
        if all(namespace.get(name, _MISSING) is value for name, value in seen):
            return program, sources
    if not expression:
        raise GradmagicError("Give an expression, e.g. %grad a*x**2 + b*x + c --wrt x")
    program = expression_program(expression, namespace, "%%tape", "--at")
    require_read(program.analysis, namespace, list(at), "expression")
    wrt = default_inputs(program.analysis, namespace, wrt, at)
    sources = one_line_sources(program, namespace, wrt)
    if not at and all(s.leaf is None for s in sources):
        names = dict.fromkeys([*program.analysis.reads, *program.frozen])
        seen = tuple((name, namespace.get(name, _MISSING)) for name in names)
        _RECENT.put(recent_key, (seen, program, sources))
    return program, sources


def _compiled_derivative(program: Any, sources: Sequence[Any], kind: str) -> Any:
    """``kind`` ('grad' or 'hessian') of the expression at the notebook's values, from a
    compiled program cached by everything that shapes it, so re-running the same line with
    inputs of the same shapes never traces again.

    Other floating values the expression reads (directly or through notebook functions)
    are arguments of the program, so changing them reuses it too.
    """
    from gradmagic.cell_program import as_array
    from gradmagic.program_cache import arguments_key, constants_key

    names = tuple(dict.fromkeys(s.name for s in sources))
    primals = tuple(as_array(program.source_value(s)) for s in sources)
    dynamic = {
        name: as_array(value)
        for name, value in sorted(program.frozen.items())
        if name not in names and is_floating(value)
    }
    key = (
        kind,
        program.analysis.source,
        tuple(sources),
        tuple(sorted(program.fallback)),
        arguments_key(primals, dynamic),
        constants_key(program.frozen, skip=names),
    )
    compiled = ONE_LINERS.get_or_build(
        key, lambda: _compile(program, sources, kind, primals, dynamic)
    )
    return compiled(primals, dynamic)


def _compile(
    program: Any, sources: Sequence[Any], kind: str, primals: tuple, dynamic: dict[str, Any]
) -> Callable[..., Any]:
    """Check that the expression is one real number, then compile its derivative."""
    import jax
    import jax.numpy as jnp

    from gradmagic.derivatives import explain_trace_error

    def scalar(values: tuple, dynamic: dict[str, Any]) -> Any:
        outputs = program.run_sources(sources, values, [LAST_EXPRESSION], dynamic)
        return jnp.asarray(outputs[LAST_EXPRESSION])

    try:
        shape = jax.eval_shape(scalar, primals, dynamic).shape
    except GradmagicError:
        raise
    except jax.errors.JAXTypeError as error:
        raise explain_trace_error(error, program.analysis, compiled=False) from None
    if shape != ():
        raise GradmagicError(
            f"The expression has shape {shape}; a gradient or Hessian needs a scalar. "
            "Reduce it (e.g. sum(...)) or use %%tape for its Jacobian."
        )
    argnums = tuple(range(len(primals)))

    def gradient(values: tuple, dynamic: dict[str, Any]) -> Any:
        return jax.grad(lambda *p: scalar(p, dynamic), argnums=argnums)(*values)

    leaves = any(s.leaf is not None for s in sources)  # a pytree: blocks per pair of leaves

    def hessian(values: tuple, dynamic: dict[str, Any]) -> Any:
        if leaves:
            blocks = jax.hessian(lambda *p: scalar(p, dynamic), argnums=argnums)(*values)
            return tuple(tuple(row) for row in blocks)
        if len(values) == 1:
            return jax.hessian(lambda p: scalar((p,), dynamic))(values[0])
        if all(jnp.shape(p) == () for p in values):  # several scalars: one matrix
            return jax.hessian(lambda v: scalar(tuple(v), dynamic))(jnp.stack(values))
        blocks = jax.hessian(lambda *p: scalar(p, dynamic), argnums=argnums)(*values)
        return tuple(tuple(row) for row in blocks)

    # Called through jit's own dispatch (faster than an ahead-of-time executable's); the
    # key guarantees the same shapes, so it never traces again.
    return jax.jit(gradient if kind == "grad" else hessian)


def one_line_sources(program: Any, namespace: dict[str, Any], wrt: Sequence[str]) -> list:
    """``--wrt`` for an expression: defined floating names or pytrees (no intermediates)."""
    sources = resolve_sources(program.analysis, namespace, wrt)
    for source in sources:
        if source.intermediate:
            raise GradmagicError(
                f"--wrt {source.name}: {source.name} is not defined; define it first or give "
                f"it a value with --at {source.name}=1.0."
            )
        program.frozen.setdefault(source.name, namespace[source.name])
    return sources


def gradient_of_expression(
    expression: str,
    namespace: dict[str, Any],
    wrt: Sequence[str],
    at: Mapping[str, Any] | None = None,
) -> Any:
    """``%grad``: one name → its derivative; several → a tuple; none given → a dict.

    ``at`` (``--at``) evaluates at these values instead of the notebook's, which is left
    as it was (see :mod:`gradmagic.at_point`)."""
    with evaluated_at(namespace, at or {}):
        program, sources = _program_and_sources(expression, namespace, wrt, at or {})
        gradients = by_name(program, sources, _compiled_derivative(program, sources, "grad"))
    if not wrt:
        return gradients
    return gradients[wrt[0]] if len(wrt) == 1 else tuple(gradients[name] for name in wrt)


def by_name(program: Any, sources: Sequence[Any], results: Sequence[Any]) -> dict[str, Any]:
    """Results per source, regrouped per notebook name: a pytree input's leaves go back
    into its structure (``%grad loss(params) --wrt params`` gives a dict like ``params``)."""
    from gradmagic.pytrees import regrouped

    items = [(s.name, s.leaf, r) for s, r in zip(sources, results, strict=True)]
    return regrouped(items, program.frozen)


def hessian_of_expression(
    expression: str,
    namespace: dict[str, Any],
    wrt: Sequence[str],
    at: Mapping[str, Any] | None = None,
) -> Any:
    """``%hessian``: a matrix; a tuple of blocks when several inputs include an array
    (``at`` as for :func:`gradient_of_expression`)."""
    with evaluated_at(namespace, at or {}):
        program, sources = _program_and_sources(expression, namespace, wrt, at or {})
        hessian = _compiled_derivative(program, sources, "hessian")
    names = list(dict.fromkeys(s.name for s in sources))
    if len(names) == 1 and sources[0].leaf is not None:  # one pytree: nested like it
        rows = [by_name(program, sources, row)[names[0]] for row in hessian]
        return by_name(program, sources, rows)[names[0]]
    return hessian

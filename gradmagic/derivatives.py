"""Derivatives of a cell's targets with respect to its sources, computed eagerly.

``jax.linearize`` runs the cell once with concrete primal values, so Python ``if``/``while``
on values works; the linear map gives every Jacobian entry and, read as a jaxpr, which
target depends on which source.  Hessians and higher orders are computed on demand.  The
compiled (``--jit``) path in :mod:`gradmagic.compiled_tape` returns the same
:class:`Derivatives`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gradmagic.cell import LAST_EXPRESSION, CellAnalysis
from gradmagic.cell_program import CellProgram, Source, as_array, cell_function
from gradmagic.errors import GradmagicError
from gradmagic.recording import Operation, dependencies, operations


@dataclass
class Derivatives:
    """Everything a tape shows, as arrays: the pure result of differentiating a cell."""

    sources: tuple[Source, ...]
    source_values: tuple[jax.Array, ...]
    targets: tuple[str, ...]
    values: dict[str, jax.Array]
    jacobians: dict[str, tuple[jax.Array, ...]]  # target -> one block per source
    connected: dict[str, tuple[bool, ...]]  # target -> per source
    hessians: dict[str, jax.Array] = field(default_factory=dict)  # scalar target -> n×n
    # above hessian_limit, instead of hessians: scalar target -> gradmagic.spectrum.Spectrum
    spectra: dict[str, Any] = field(default_factory=dict)
    orders: dict[tuple[str, str], tuple[jax.Array, ...]] = field(default_factory=dict)
    operations: list[Operation] | None = None
    operations_linearised: bool = False


def _primals(program: CellProgram, sources: Sequence[Source]) -> tuple[jax.Array, ...]:
    """Source values at the recorded point: inputs' values, zero perturbations."""
    intermediates = [s.name for s in sources if s.intermediate]
    shapes: dict[str, Any] = {}
    if intermediates:
        plain = program.run(outputs=intermediates)
        shapes = {name: as_array(plain[name]) for name in intermediates}
    return tuple(
        jnp.zeros_like(shapes[s.name]) if s.intermediate else as_array(program.source_value(s))
        for s in sources
    )


def _cell_line_of(error: BaseException, filename: str) -> int | None:
    lines = [
        frame.f_lineno
        for frame, _ in _walk_traceback(error.__traceback__)
        if frame.f_code.co_filename == filename
    ]
    return lines[-1] if lines else None


def _walk_traceback(traceback: Any) -> Iterator[tuple[Any, int]]:
    while traceback is not None:
        yield traceback.tb_frame, traceback.tb_lineno
        traceback = traceback.tb_next


def explain_trace_error(error: Exception, analysis: CellAnalysis, compiled: bool) -> GradmagicError:
    """Turn JAX's tracing errors into one message naming the cell line and the fix."""
    line = _cell_line_of(error, analysis.filename)
    where = f"Line {line}: `{analysis.line(line)}`" if line else "The cell"
    if isinstance(error, jax.errors.ConcretizationTypeError):
        if compiled:
            return GradmagicError(
                f"{where} branches on the value of an input (Python if/while/bool/int), which "
                "--jit cannot know while compiling. Fix: drop --jit (Python control flow works "
                "without it), or write the branch with jnp.where / jax.lax.cond."
            )
        return GradmagicError(
            f"{where} needs a concrete value where gradmagic traces one. Fix: write the branch "
            "with jnp.where / jax.lax.cond."
        )
    if isinstance(error, jax.errors.TracerArrayConversionError):
        return GradmagicError(
            f"{where} passes a traced value to NumPy, which JAX cannot differentiate. "
            "Fix: use jax.numpy (jnp.exp, jnp.sum, …) instead of numpy."
        )
    return GradmagicError(f"{where} cannot be differentiated: {type(error).__name__}: {error}")


def _linearise(
    program: CellProgram, sources: Sequence[Source], outputs: Sequence[str] | None
) -> tuple[list[str], tuple[jax.Array, ...], Callable[..., Any], tuple[jax.Array, ...]]:
    """Linearise the cell at the recorded point: (output names, values, jvp, primals)."""
    primals = _primals(program, sources)
    names: list[str] = []

    def function(*source_values: Any) -> tuple[jax.Array, ...]:
        values = program.run_sources(sources, source_values, outputs)
        names[:] = list(values)
        return tuple(jnp.asarray(value) for value in values.values())

    values, jvp = jax.linearize(function, *primals)
    return names, values, jvp, primals


def connectivity(jaxpr: Any, n_outputs: int, source_positions: range) -> list[tuple[bool, ...]]:
    depends = dependencies(jaxpr)[-n_outputs:]
    return [tuple(position in d for position in source_positions) for d in depends]


def _forward_jacobians(
    jvp: Callable[..., Any], primals: tuple[jax.Array, ...], wanted: Sequence[int]
) -> list[list[jax.Array]]:
    """Jacobian blocks [output][source] by pushing every basis vector through ``jvp``."""
    blocks: list[list[jax.Array]] = [[] for _ in wanted]
    for j, primal in enumerate(primals):
        size = max(int(np.prod(primal.shape)), 1)
        basis = jnp.eye(size, dtype=primal.dtype).reshape((size, *primal.shape))

        def push(tangent: jax.Array, j: int = j) -> Any:
            tangents = [jnp.zeros_like(p) for p in primals]
            tangents[j] = tangent
            return jvp(*tangents)

        pushed = jax.vmap(push)(basis)
        for row, output_index in enumerate(wanted):
            columns = pushed[output_index]  # (size, *output_shape)
            moved = jnp.moveaxis(columns, 0, -1)
            blocks[row].append(moved.reshape((*columns.shape[1:], *primal.shape)))
    return blocks


def _flat_scalar(
    program: CellProgram, sources: Sequence[Source], target: str, primals: tuple[jax.Array, ...]
) -> tuple[Callable[[jax.Array], jax.Array], jax.Array]:
    function = cell_function(program, sources, [target])
    flat, unravel = ravel_pytree(list(primals))
    return (lambda theta: function(*unravel(theta))[0]), flat


def hessian_matrix(
    program: CellProgram, sources: Sequence[Source], target: str, primals: tuple[jax.Array, ...]
) -> jax.Array:
    """The Hessian of a scalar target with respect to all sources, flattened to n×n."""
    scalar, flat = _flat_scalar(program, sources, target, primals)
    return jax.hessian(scalar)(flat)


def higher_orders(
    function: Callable[..., tuple[jax.Array, ...]],
    primals: tuple[jax.Array, ...],
    output_index: int,
    source_index: int,
    order: int,
) -> tuple[jax.Array, ...]:
    """d^k(output)/d(source)^k for k = 1..order, for a scalar output and scalar source."""

    def along(value: jax.Array) -> jax.Array:
        arguments = list(primals)
        arguments[source_index] = value
        return function(*arguments)[output_index]

    results = []
    derivative = along
    for _ in range(order):
        derivative = jax.grad(derivative)
        results.append(derivative(primals[source_index]))
    return tuple(results)


def _scalar_pairs(
    targets: Sequence[str],
    sources: Sequence[Source],
    values: dict[str, Any],
    primals: Sequence[Any],
) -> list[tuple[int, int]]:
    return [
        (t, s)
        for t, s in itertools.product(range(len(targets)), range(len(sources)))
        if jnp.shape(values[targets[t]]) == () and jnp.shape(primals[s]) == ()
    ]


def default_targets(
    candidates: Sequence[str], connected: dict[str, tuple[bool, ...]], last_expression: str | None
) -> list[str]:
    """Assigned floating names that depend on a source, in cell order, then the last
    expression (shown even when it does not depend on any) unless it merely names one
    of those targets (a cell ending in ``y``)."""
    chosen = [n for n in candidates if n != LAST_EXPRESSION and any(connected.get(n, ()))]
    if LAST_EXPRESSION in connected and last_expression not in chosen:
        chosen.append(LAST_EXPRESSION)
    return chosen


def _check_targets(
    program: CellProgram, requested: Sequence[str], available: Sequence[str]
) -> None:
    for name in requested:
        if name not in available:
            raise GradmagicError(
                f"--of {program.label(name)}: the cell gives it no floating value to differentiate "
                "(is it an int, a list or not assigned?). Make it a float array or drop it."
            )


def differentiate(
    program: CellProgram,
    sources: Sequence[Source],
    targets: Sequence[str] | None = None,
    *,
    hessian: bool = False,
    order: int = 1,
    record: bool = False,
) -> Derivatives:
    """Differentiate the cell's targets (default: see :func:`default_targets`)."""
    sources = tuple(sources)
    try:
        names, values, jvp, primals = _linearise(program, sources, targets)
        linear = jax.make_jaxpr(jvp)(*primals)
    except (jax.errors.JAXTypeError, TypeError) as error:
        if isinstance(error, TypeError) and not is_tracer_error(error):
            raise
        raise explain_trace_error(error, program.analysis, compiled=False) from None
    connected_list = connectivity(linear, len(names), range(len(sources)))
    connected = dict(zip(names, connected_list, strict=True))
    value_by_name = dict(zip(names, values, strict=True))
    if targets is None:
        chosen = default_targets(names, connected, program.analysis.last_expression)
    else:
        _check_targets(program, targets, names)
        chosen = list(targets)
    wanted = [names.index(name) for name in chosen]
    blocks = _forward_jacobians(jvp, primals, wanted) if chosen else []
    result = Derivatives(
        sources=sources,
        source_values=primals,
        targets=tuple(chosen),
        values={name: value_by_name[name] for name in chosen},
        jacobians={name: tuple(block) for name, block in zip(chosen, blocks, strict=True)},
        connected={name: connected[name] for name in chosen},
    )
    scalar_targets = [name for name in chosen if jnp.shape(value_by_name[name]) == ()]
    if hessian:
        for name in scalar_targets:
            result.hessians[name] = hessian_matrix(program, sources, name, primals)
    if order > 1 and chosen:
        function = cell_function(program, sources, chosen)
        for t, s in _scalar_pairs(chosen, sources, result.values, primals):
            result.orders[(chosen[t], sources[s].label)] = higher_orders(
                function, primals, t, s, order
            )
    if record and chosen:
        result.operations, result.operations_linearised = _record(
            program, sources, chosen, primals, linear, names
        )
    return result


def is_tracer_error(error: TypeError) -> bool:
    return "Tracer" in str(error) or "traced" in str(error).lower()


def _record(
    program: CellProgram,
    sources: Sequence[Source],
    targets: Sequence[str],
    primals: tuple[jax.Array, ...],
    linear: Any,
    linear_names: Sequence[str],
) -> tuple[list[Operation], bool]:
    """The forward operations; where the cell branches on values, the linearised ones."""
    labels = [s.label for s in sources]
    try:
        forward = jax.make_jaxpr(cell_function(program, sources, targets))(*primals)
    except jax.errors.ConcretizationTypeError:
        out_labels = [program.label(n) for n in linear_names]
        return operations(linear, labels, out_labels, program.analysis.filename), True
    out_labels = [program.label(n) for n in targets]
    return operations(forward, labels, out_labels, program.analysis.filename), False

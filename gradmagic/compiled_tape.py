"""``%%tape --jit``: the derivative computation as one cached, compiled program.

One ``jax.jit`` program computes values, Jacobians, Hessians and higher orders.  It is kept
in a :class:`~gradmagic.program_cache.ProgramCache` keyed by everything that changes its
shape (cell source, sources, targets, options, input shapes/dtypes, and the non-floating
values the cell reads), so re-running an unchanged cell never recompiles; floating values
are passed as arguments.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradmagic.cell_program import CellProgram, Source, as_array
from gradmagic.derivatives import (
    Derivatives,
    connectivity,
    default_targets,
    explain_trace_error,
    higher_orders,
    is_tracer_error,
)
from gradmagic.errors import GradmagicError
from gradmagic.program_cache import ProgramCache, arguments_key, constants_key
from gradmagic.recording import Operation, operations
from gradmagic.values import is_floating


@dataclass
class _CompiledTape:
    """A cached compiled derivative program and what was learnt while tracing it."""

    program: Callable[..., Any]
    targets: tuple[str, ...]
    connected: dict[str, tuple[bool, ...]]
    intermediate_shapes: dict[str, jax.ShapeDtypeStruct]
    operations: list[Operation]


PROGRAMS = ProgramCache()


def differentiate_compiled(
    program: CellProgram,
    sources: Sequence[Source],
    targets: Sequence[str] | None,
    *,
    hessian: bool,
    order: int,
    record: bool,
    explain: bool = True,
) -> Derivatives | None:
    """What :func:`gradmagic.derivatives.differentiate` computes, from a cached program.

    A cell that cannot be compiled (Python control flow on an input's value) raises a
    message naming the line and the fix with ``explain`` (``--jit`` insists), and otherwise
    returns None, remembered for that cell, so the caller computes eagerly without trying
    again."""
    sources = tuple(sources)
    source_names = {s.name for s in sources if not s.intermediate}
    dynamic_names = tuple(
        sorted(n for n, v in program.frozen.items() if is_floating(v) and n not in source_names)
    )
    external = {s.label: as_array(program.source_value(s)) for s in sources if not s.intermediate}
    dynamic = {name: as_array(program.frozen[name]) for name in dynamic_names}
    key = (
        program.analysis.source,
        sources,
        None if targets is None else tuple(targets),
        hessian,
        order,
        arguments_key(external, dynamic),
        constants_key(program.frozen, skip=source_names),
    )

    def build() -> _CompiledTape | GradmagicError:
        try:
            return _build_compiled(program, sources, targets, dynamic_names, hessian, order)
        except (jax.errors.JAXTypeError, TypeError) as error:
            if isinstance(error, TypeError) and not is_tracer_error(error):
                raise
            # Cached in place of a program: the cell is not tried again, and --jit can
            # still say which line needs values.
            return explain_trace_error(error, program.analysis, compiled=True)

    entry = PROGRAMS.get_or_build(key, build)
    if isinstance(entry, GradmagicError):
        if explain:
            raise entry
        return None
    primals = tuple(
        jnp.zeros(entry.intermediate_shapes[s.name].shape, entry.intermediate_shapes[s.name].dtype)
        if s.intermediate
        else external[s.label]
        for s in sources
    )
    outputs = entry.program(primals, dynamic)
    result = Derivatives(
        sources=sources,
        source_values=primals,
        targets=entry.targets,
        values=dict(zip(entry.targets, outputs["values"], strict=True)),
        jacobians={name: tuple(outputs["jacobians"][i]) for i, name in enumerate(entry.targets)},
        connected=entry.connected,
        hessians=outputs["hessians"],
        orders={tuple(k.split("\0")): v for k, v in outputs["orders"].items()},
    )
    if record:
        result.operations = entry.operations
    return result


def _build_compiled(
    program: CellProgram,
    sources: tuple[Source, ...],
    targets: Sequence[str] | None,
    dynamic_names: tuple[str, ...],
    hessian: bool,
    order: int,
) -> _CompiledTape:
    """Trace once abstractly (dependencies, shapes), then jit the derivative program."""
    intermediates = [s.name for s in sources if s.intermediate]
    external_primals = {
        s.label: as_array(program.source_value(s)) for s in sources if not s.intermediate
    }
    dynamic_example = {name: as_array(program.frozen[name]) for name in dynamic_names}

    def plain(dynamic: dict[str, Any]) -> dict[str, Any]:
        values = program.run_sources(
            [s for s in sources if not s.intermediate],
            [external_primals[s.label] for s in sources if not s.intermediate],
            intermediates or None,
            dynamic,
        )
        return {name: jnp.asarray(values[name]) for name in intermediates}

    shapes = jax.eval_shape(plain, dynamic_example) if intermediates else {}
    names: list[str] = []

    def run(primals: tuple[Any, ...], dynamic: dict[str, Any], outputs: Sequence[str] | None):
        values = program.run_sources(sources, primals, outputs, dynamic)
        if outputs is None:
            names[:] = list(values)
        return tuple(jnp.asarray(values[name]) for name in (outputs or names))

    example = tuple(
        jax.ShapeDtypeStruct(shapes[s.name].shape, shapes[s.name].dtype)
        if s.intermediate
        else external_primals[s.label]
        for s in sources
    )
    n = len(sources)
    tangent_jaxpr = jax.make_jaxpr(
        lambda primals, tangents, dynamic: jax.jvp(
            lambda *p: run(p, dynamic, targets), primals, tangents
        )
    )(example, example, dynamic_example)
    all_names = list(targets) if targets is not None else list(names)
    connected_list = connectivity(tangent_jaxpr, len(all_names), range(n, 2 * n))
    connected = dict(zip(all_names, connected_list, strict=True))
    if targets is None:
        chosen = tuple(default_targets(all_names, connected, program.analysis.last_expression))
    else:
        chosen = tuple(targets)
    forward = jax.make_jaxpr(lambda *p: run(p, dynamic_example, chosen))(*example)
    out_avals = dict(zip(chosen, forward.out_avals, strict=True))
    scalar = [name for name in chosen if out_avals[name].shape == ()]
    pairs = [
        (t, s)
        for t, s in itertools.product(range(len(chosen)), range(n))
        if out_avals[chosen[t]].shape == () and example[s].shape == ()
    ]

    def derivative_program(primals: tuple[Any, ...], dynamic: dict[str, Any]) -> dict[str, Any]:
        def function(*p: Any) -> tuple[jax.Array, ...]:
            return run(p, dynamic, chosen)

        values = function(*primals)
        # Forward mode, as the eager path: the same table whether or not the cell compiles
        # (the two modes differ where a jnp.where hides a non-finite branch).
        jacobians = jax.jacfwd(function, argnums=tuple(range(n)))(*primals) if chosen else ()
        hessians = {}
        if hessian:
            flat, unravel = ravel_pytree(list(primals))
            for name in scalar:
                index = chosen.index(name)
                hessians[name] = jax.hessian(lambda theta, i=index: function(*unravel(theta))[i])(
                    flat
                )
        orders = {}
        if order > 1:
            for t, s in pairs:
                orders[f"{chosen[t]}\0{sources[s].label}"] = higher_orders(
                    function, primals, t, s, order
                )
        return {"values": values, "jacobians": jacobians, "hessians": hessians, "orders": orders}

    return _CompiledTape(
        program=jax.jit(derivative_program),
        targets=chosen,
        connected={name: connected[name] for name in chosen},
        intermediate_shapes=dict(shapes),
        operations=operations(
            forward,
            [s.label for s in sources],
            [program.label(name) for name in chosen],
            program.analysis.filename,
        ),
    )

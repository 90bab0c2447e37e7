"""The differentiation core: a notebook cell as a pure JAX function, and its derivatives.

No IPython here.  A :class:`CellProgram` is a cell's code plus the namespace it runs in and
the values its inputs had before it ran.  Running it *patches* the namespace with the
values being traced and restores it exactly afterwards, so functions defined in the
notebook that read globals (``def f(): return x**2``) see traced values too, while the
notebook itself never sees a tracer.  Output printed during tracing is swallowed: the
user sees the cell's prints once, from the real run the magic does.

Two ways to differentiate, one result type (:class:`Derivatives`):

* eager (default): ``jax.linearize`` runs the cell once with concrete primal values, so
  Python ``if``/``while`` on values works; the linear map gives every Jacobian entry and,
  read as a jaxpr, which target depends on which source.
* compiled (``--jit``): one ``jax.jit`` program computes values, Jacobians, Hessians and
  higher orders; it is cached by everything that changes its shape (cell source, sources,
  targets, options, input shapes/dtypes, and the non-floating values the cell reads), so
  re-running an unchanged cell never recompiles.
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gradmagic.cell import LAST_EXPRESSION, PERTURBATIONS, CellAnalysis, compile_cell
from gradmagic.errors import GradmagicError
from gradmagic.recording import Operation, dependencies, operations
from gradmagic.values import default_float, is_floating

_MISSING = object()


@contextlib.contextmanager
def patched(namespace: dict[str, Any], overrides: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Apply ``overrides`` to ``namespace`` and restore every key exactly afterwards."""
    snapshot = dict(namespace)
    namespace.update(overrides)
    try:
        yield namespace
    finally:
        for key in [key for key in namespace if key not in snapshot]:
            del namespace[key]
        for key, value in snapshot.items():
            if namespace.get(key, _MISSING) is not value:
                namespace[key] = value


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Swallow what the cell prints while it is being traced (it printed once already)."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


_MUTABLE = (list, dict, set, bytearray, np.ndarray)


def _private_copies(frozen: dict[str, Any]) -> dict[str, Any]:
    """The frozen values, with mutable containers copied so that a traced run cannot
    change them (``runs.append(1)`` in a cell must happen once, in the real run)."""
    return {
        name: copy.deepcopy(value) if isinstance(value, _MUTABLE) else value
        for name, value in frozen.items()
    }


@dataclass(frozen=True)
class Source:
    """A value to differentiate with respect to.

    ``intermediate`` sources are names the cell assigns: the derivative is taken with
    respect to a zero perturbation added after their last top-level assignment.
    """

    name: str
    intermediate: bool = False


@dataclass
class CellProgram:
    """A cell's code, the namespace it runs in, and its inputs' values before it ran."""

    analysis: CellAnalysis
    namespace: dict[str, Any]
    frozen: dict[str, Any]
    fallback: dict[str, Any] = field(default_factory=dict)

    def candidates(self) -> list[str]:
        """Names that may be targets: assigned names, then the last expression."""
        names = list(self.analysis.assigns)
        if self.analysis.last_expression is not None:
            names.append(LAST_EXPRESSION)
        return names

    def run(
        self,
        overrides: dict[str, Any] | None = None,
        perturbations: dict[str, Any] | None = None,
        outputs: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Run the cell silently with ``overrides``; return ``outputs`` (default: every
        floating candidate) without leaving any trace in the namespace."""
        code = compile_cell(self.analysis, tuple(perturbations or ()))
        patch = {**self.fallback, **_private_copies(self.frozen), **(overrides or {})}
        if perturbations:
            patch[PERTURBATIONS] = perturbations
        with patched(self.namespace, patch) as namespace, silenced():
            exec(code, namespace)
            if outputs is None:
                return {
                    name: namespace[name]
                    for name in self.candidates()
                    if name in namespace and is_floating(namespace[name])
                }
            missing = [name for name in outputs if name not in namespace]
            if missing:
                raise GradmagicError(
                    f"{self.label(missing[0])} was not assigned when the cell ran with these "
                    "input values (a branch skipped it?): assign it on every path."
                )
            return {name: namespace[name] for name in outputs}

    def run_sources(
        self,
        sources: Sequence[Source],
        values: Sequence[Any],
        outputs: Sequence[str] | None,
        overrides: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`run` with ``values`` for ``sources``: inputs override the namespace,
        intermediates become perturbations (on top of any other ``overrides``)."""
        replaced = dict(overrides or {})
        perturbations: dict[str, Any] = {}
        for source, value in zip(sources, values, strict=True):
            (perturbations if source.intermediate else replaced)[source.name] = value
        return self.run(replaced, perturbations, outputs)

    def label(self, name: str) -> str:
        """How a target is shown: its name, or the last expression's source text."""
        if name == LAST_EXPRESSION:
            return self.analysis.last_expression or name
        return name


def as_array(value: Any) -> Any:
    """A floating value as a strongly typed array of the session's float width.

    JAX arrays that already are floating pass through; everything else becomes a NumPy
    array (cheap: no device dispatch, and jitted programs take it directly).
    """
    floating_jax = isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jnp.floating)
    if floating_jax and not getattr(value, "weak_type", False):
        return value
    dtype = getattr(value, "dtype", None)
    if dtype is not None and np.issubdtype(np.dtype(dtype), np.floating):
        wanted = np.dtype(dtype) if jax.config.jax_enable_x64 else np.dtype(np.float32)
        if np.dtype(dtype).itemsize < 4:
            wanted = np.dtype(dtype)  # keep float16/bfloat16 as they are
        return np.asarray(value, dtype=wanted)
    return np.asarray(value, dtype=default_float())


def cell_function(
    program: CellProgram, sources: Sequence[Source], outputs: Sequence[str]
) -> Callable[..., tuple[jax.Array, ...]]:
    """``f(*source_values) -> tuple of outputs``: the cell as a pure function of its sources."""
    sources = tuple(sources)
    outputs = tuple(outputs)

    def function(*source_values: Any) -> tuple[jax.Array, ...]:
        values = program.run_sources(sources, source_values, outputs)
        return tuple(jnp.asarray(values[name]) for name in outputs)

    return function


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
        jnp.zeros_like(shapes[s.name]) if s.intermediate else as_array(program.frozen[s.name])
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


def _connectivity(jaxpr: Any, n_outputs: int, source_positions: range) -> list[tuple[bool, ...]]:
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
    compiled: bool = False,
) -> Derivatives:
    """Differentiate the cell's targets (default: see :func:`default_targets`)."""
    if compiled:
        return _compiled(program, sources, targets, hessian=hessian, order=order, record=record)
    sources = tuple(sources)
    try:
        names, values, jvp, primals = _linearise(program, sources, targets)
        linear = jax.make_jaxpr(jvp)(*primals)
    except (jax.errors.JAXTypeError, TypeError) as error:
        if isinstance(error, TypeError) and not _is_tracer_error(error):
            raise
        raise explain_trace_error(error, program.analysis, compiled=False) from None
    connected_list = _connectivity(linear, len(names), range(len(sources)))
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
            result.orders[(chosen[t], sources[s].name)] = higher_orders(
                function, primals, t, s, order
            )
    if record and chosen:
        result.operations, result.operations_linearised = _record(
            program, sources, chosen, primals, linear, names
        )
    return result


def _is_tracer_error(error: TypeError) -> bool:
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
    labels = [s.name for s in sources]
    try:
        forward = jax.make_jaxpr(cell_function(program, sources, targets))(*primals)
    except jax.errors.ConcretizationTypeError:
        out_labels = [program.label(n) for n in linear_names]
        return operations(linear, labels, out_labels, program.analysis.filename), True
    out_labels = [program.label(n) for n in targets]
    return operations(forward, labels, out_labels, program.analysis.filename), False


# --------------------------------------------------------------------------- finite differences


@dataclass(frozen=True)
class FiniteDifference:
    """Autodiff beside a central finite difference for one target/source element."""

    target: str
    source: str
    index: tuple[int, ...]
    autodiff: float
    estimate: float
    relative_error: float
    agrees: bool


def finite_differences(
    program: CellProgram, derivatives: Derivatives, *, max_elements: int = 64
) -> list[FiniteDifference]:
    """Central differences f(x+h)−f(x−h) / 2h for every scalar target and source element.

    The step is ``h = ε^(1/3)·max(1, |x|)`` (balancing truncation against rounding);
    a disagreement is flagged when the gap exceeds what those errors explain.
    """
    sources = derivatives.sources
    scalar_targets = [t for t in derivatives.targets if jnp.shape(derivatives.values[t]) == ()]
    if not scalar_targets:
        return []
    function = cell_function(program, sources, scalar_targets)
    epsilon = float(jnp.finfo(jnp.result_type(float)).eps)
    checks: list[FiniteDifference] = []
    for j, (source, primal) in enumerate(zip(sources, derivatives.source_values, strict=True)):
        base = np.asarray(primal)
        for index in itertools.islice(np.ndindex(base.shape), max_elements):
            step = epsilon ** (1 / 3) * max(1.0, abs(float(base[index])))
            shifted = []
            for sign in (1.0, -1.0):
                moved = base.copy()
                moved[index] += sign * step
                arguments = list(derivatives.source_values)
                arguments[j] = jnp.asarray(moved, dtype=primal.dtype)
                shifted.append(function(*arguments))
            for t, target in enumerate(scalar_targets):
                plus, minus = float(shifted[0][t]), float(shifted[1][t])
                estimate = (plus - minus) / (2 * step)
                autodiff = float(np.asarray(derivatives.jacobians[target][j])[index])
                # Relative where the derivative is large, absolute near zero.
                error = abs(autodiff - estimate) / max(abs(autodiff), abs(estimate), 1.0)
                rounding = 10 * epsilon * max(abs(plus), abs(minus), 1.0) / step
                tolerance = 1e-3 * max(1.0, abs(autodiff)) + rounding
                checks.append(
                    FiniteDifference(
                        target=target,
                        source=source.name,
                        index=index,
                        autodiff=autodiff,
                        estimate=estimate,
                        relative_error=error if math.isfinite(error) else float("inf"),
                        agrees=abs(autodiff - estimate) <= tolerance,
                    )
                )
    return checks


# --------------------------------------------------------------------------- compiled (--jit)


@dataclass
class _CompiledTape:
    """A cached compiled derivative program and what was learnt while tracing it."""

    program: Callable[..., Any]
    targets: tuple[str, ...]
    connected: dict[str, tuple[bool, ...]]
    intermediate_shapes: dict[str, jax.ShapeDtypeStruct]
    operations: list[Operation]


_COMPILED: OrderedDict[Any, _CompiledTape] = OrderedDict()
_COMPILED_LIMIT = 64


def fingerprint(value: Any) -> Any:
    """What a non-floating value contributes to a compiled program's cache key."""
    if isinstance(value, bool | int | str | bytes | type(None)):
        return (type(value).__name__, value)
    if isinstance(value, tuple) and all(isinstance(v, bool | int | str) for v in value):
        return ("tuple", value)
    if callable(value) and hasattr(value, "__code__") and hasattr(value, "__globals__"):
        read = [
            (name, fingerprint(value.__globals__[name]))
            for name in value.__code__.co_names
            if name in value.__globals__
            and not is_floating(value.__globals__[name])
            and isinstance(value.__globals__[name], bool | int | str)
        ]
        return ("function", id(value), tuple(read))
    return ("object", id(value))


def _aval(value: Any) -> tuple[tuple[int, ...], str]:
    array = as_array(value)
    return (tuple(np.shape(array)), str(array.dtype))


def _compiled(
    program: CellProgram,
    sources: Sequence[Source],
    targets: Sequence[str] | None,
    *,
    hessian: bool,
    order: int,
    record: bool,
) -> Derivatives:
    sources = tuple(sources)
    source_names = {s.name for s in sources if not s.intermediate}
    dynamic_names = tuple(
        sorted(n for n, v in program.frozen.items() if is_floating(v) and n not in source_names)
    )
    static = tuple(
        sorted(
            (n, fingerprint(v))
            for n, v in program.frozen.items()
            if not is_floating(v) and n not in source_names
        )
    )
    external = tuple(_aval(program.frozen[s.name]) if not s.intermediate else None for s in sources)
    key = (
        program.analysis.source,
        sources,
        None if targets is None else tuple(targets),
        hessian,
        order,
        external,
        tuple(_aval(program.frozen[n]) for n in dynamic_names),
        static,
        bool(jax.config.jax_enable_x64),
    )
    entry = _COMPILED.get(key)
    if entry is None:
        try:
            entry = _build_compiled(program, sources, targets, dynamic_names, hessian, order)
        except (jax.errors.JAXTypeError, TypeError) as error:
            if isinstance(error, TypeError) and not _is_tracer_error(error):
                raise
            raise explain_trace_error(error, program.analysis, compiled=True) from None
        _COMPILED[key] = entry
        while len(_COMPILED) > _COMPILED_LIMIT:
            _COMPILED.popitem(last=False)
    else:
        _COMPILED.move_to_end(key)
    primals = tuple(
        jnp.zeros(entry.intermediate_shapes[s.name].shape, entry.intermediate_shapes[s.name].dtype)
        if s.intermediate
        else as_array(program.frozen[s.name])
        for s in sources
    )
    dynamic = {name: as_array(program.frozen[name]) for name in dynamic_names}
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
        s.name: as_array(program.frozen[s.name]) for s in sources if not s.intermediate
    }
    dynamic_example = {name: as_array(program.frozen[name]) for name in dynamic_names}

    def plain(dynamic: dict[str, Any]) -> dict[str, Any]:
        values = program.run({**dynamic, **external_primals}, None, intermediates or None)
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
        else external_primals[s.name]
        for s in sources
    )
    n = len(sources)
    tangent_jaxpr = jax.make_jaxpr(
        lambda primals, tangents, dynamic: jax.jvp(
            lambda *p: run(p, dynamic, targets), primals, tangents
        )
    )(example, example, dynamic_example)
    all_names = list(targets) if targets is not None else list(names)
    connected_list = _connectivity(tangent_jaxpr, len(all_names), range(n, 2 * n))
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
        jacobians = jax.jacrev(function, argnums=tuple(range(n)))(*primals) if chosen else ()
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
                orders[f"{chosen[t]}\0{sources[s].name}"] = higher_orders(
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
            [s.name for s in sources],
            [program.label(name) for name in chosen],
            program.analysis.filename,
        ),
    )

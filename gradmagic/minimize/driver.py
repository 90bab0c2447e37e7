"""Running the compiled loop: chunks, progress, interrupts, and the run's record.

:func:`minimize` is the engine's entry point: it checks the settings and starting values,
finds (or builds and checks) the compiled chunk program in the cache, and calls it chunk
after chunk.  Python only runs between chunks: it reports progress, notices Ctrl-C, and
stops early.  Chunks are sized from measured step time (about :data:`CHUNK_SECONDS` each)
so progress and interrupts stay responsive for slow objectives.  Results are fetched from
the device once, at the end (plus one tiny status read per chunk).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import numpy as np

from gradmagic.errors import GradmagicError
from gradmagic.minimize import nonfinite_gradient
from gradmagic.minimize.bounds import Interval, box_arrays, check_start_inside
from gradmagic.minimize.loop import (
    CHUNK,
    FAST_COMPILE_LIMIT,
    FTOL,
    Carry,
    ChunkProgram,
    build_program,
)
from gradmagic.minimize.optimize_result import OptimizeResult, by_name
from gradmagic.minimize.optimizers import OptimizerSpec, resolve_optimizer
from gradmagic.minimize.schedules import SCHEDULES, schedule_index
from gradmagic.minimize.validation import (
    as_variables,
    check_objective,
    check_settings,
    variable_label,
)
from gradmagic.program_cache import ProgramCache, arguments_key

CHUNK_SECONDS = 0.2  # aim for a progress report / interrupt check this often
FIRST_CHUNK = 8  # steps in the first chunk of a never-timed program (its speed is unknown)
PATH_LIMIT = 1_000  # record the per-step path only when all variables hold <= this many numbers
PROGRAMS = ProgramCache()  # compiled chunk programs, by problem, shapes and optimizer
LINE_SEARCH_TOL = 1e-5  # L-BFGS stops below this gradient norm by default (SciPy's gtol)


@dataclass(frozen=True, eq=False)
class OptimizationRun:
    """Everything one :func:`minimize` call found, all on the host (numpy / Python floats).

    ``history[k]`` is the objective after ``k`` steps (``history[0]`` at the start) and
    ``path[i][k]`` the ``i``-th variable then.  When the run diverged, ``values`` (and
    ``loss``/``grad_norm``) are the *starting* ones, while ``history``/``path`` end with the
    non-finite step so a plot shows what happened.  When interrupted, ``values`` are those
    after the last finished step; the caller decides whether to keep them.
    """

    values: tuple
    loss: float
    grad_norm: float
    jac: tuple  # the gradient at `values`, shaped like each variable
    nfev: int  # objective (and gradient) evaluations, see gradmagic.minimize.optimize_result
    steps: int
    requested_steps: int
    converged: bool
    diverged_at: int | None
    interrupted: bool
    history: np.ndarray
    path: tuple
    optimizer: str
    lr: float
    momentum: float | None
    tol: float | None
    default_tol: bool = False  # tol is L-BFGS's default (LINE_SEARCH_TOL), not the user's
    schedule: str | None = None
    lr_history: np.ndarray | None = None  # lr of each step (``lr_history[k-1]``: step k)
    bounds: tuple | None = None  # one Interval (or None) per variable
    stalled: bool = False  # L-BFGS converged by SciPy's ftol: the objective stopped decreasing
    stopped_by_callback: bool = False
    # stopped because the gradient was NaN/∞ where the objective was finite (not a divergence)
    nonfinite_gradient: nonfinite_gradient.NonFiniteGradient | None = None


def program_for(
    objective: Callable,
    spec: OptimizerSpec,
    params: tuple,
    aux: Any,
    has_tol: bool,
    cache_key: Hashable | None,
    names: Sequence[str] | None,
    bounded: bool = False,
    scheduled: bool = False,
) -> ChunkProgram:
    """Return the cached program, validating the objective and building it on a miss."""

    def build() -> ChunkProgram:
        loss_dtype, largest = check_objective(objective, params, aux, names)
        record_path = sum(math.prod(p.shape) for p in params) <= PATH_LIMIT
        fast = largest <= FAST_COMPILE_LIMIT
        return build_program(
            objective, spec, has_tol, record_path, params, loss_dtype, fast, bounded, scheduled
        )

    identity = objective if cache_key is None else cache_key
    key = (identity, arguments_key(params, aux), spec.name, has_tol, bounded, scheduled)
    return PROGRAMS.get_or_build(key, build)


_Status = tuple  # (step, loss, grad_norm, done, diverged_at, start_loss, start_grad_norm, nfev)


def minimize(
    objective: Callable[[tuple, Any], Any],
    initial: Sequence[Any],
    *,
    aux: Any = (),
    optimizer: str = "sgd",
    lr: float = 0.01,
    steps: int = 1000,
    momentum: float | None = None,
    tol: float | None = None,
    cache_key: Hashable | None = None,
    on_progress: Callable[[int, float], None] | None = None,
    names: Sequence[str] | None = None,
    bounds: Sequence[Interval | None] | None = None,
    schedule: str | None = None,
    callback: Callable[[OptimizeResult], Any] | None = None,
) -> OptimizationRun:
    """Minimise ``objective(params, aux)`` over ``params`` starting from ``initial``.

    ``aux`` (any pytree of arrays/numbers) is passed to the compiled program as an argument,
    never baked in, so new aux values reuse it.  ``cache_key`` identifies the objective's
    computation for the program cache (default: the function object); the same key always
    means the same compiled program, whatever function is passed alongside it.
    ``on_progress(steps_done, loss)`` runs after every chunk; raising ``KeyboardInterrupt``
    there (or pressing Ctrl-C during a later chunk) ends the run with ``interrupted=True``.
    Ctrl-C during the first chunk (which compiles on a cache miss) propagates: nothing has
    finished then, not even evaluating the start.  ``names`` (one per variable) only
    improves error messages.

    For ``optimizer="lbfgs"`` the ``lr`` is ignored: optax's zoom line search chooses each
    step length (the run still records the ``lr`` given); without a ``tol`` it stops once
    the gradient norm is below :data:`LINE_SEARCH_TOL` and (without bounds) once a step
    lowers the objective by a relative :data:`~gradmagic.minimize.loop.FTOL` or less
    (``stalled``), as SciPy's L-BFGS-B does (its ``gtol`` and ``ftol``); an explicit ``tol``
    alone decides when to stop.

    ``bounds`` (one ``(lower, upper)`` per variable, ``None`` for an open end or no bounds)
    projects every step into the box; the start must lie inside it.  ``schedule`` (one of
    :data:`~gradmagic.minimize.schedules.SCHEDULES`) scales ``lr`` (the peak) step by step.
    ``callback(result_so_far)`` runs after every chunk that took steps (see
    :func:`intermediate_result`): after the first :data:`FIRST_CHUNK` steps of a new program,
    then about every :data:`CHUNK_SECONDS` of running and at most every :data:`CHUNK` steps,
    and once at the end.  Raising ``StopIteration`` there ends the run cleanly
    (``stopped_by_callback``; the values it saw are kept), any other exception propagates.  The starting values must give a
    finite objective; a step that makes the objective or a variable non-finite stops the
    run (``diverged_at``) and the starting values are returned.
    """
    spec = resolve_optimizer(optimizer)
    lr, steps, momentum, tol = check_settings(spec, lr, steps, momentum, tol)
    default_tol = tol is None and spec.line_search
    tol = LINE_SEARCH_TOL if default_tol else tol
    kind = schedule_index(schedule)
    if kind is not None and not spec.uses_lr:
        raise GradmagicError(
            f"--schedule sets the learning rate, which {spec.name} does not use (its line "
            "search picks every step); drop --schedule or pick e.g. --optimizer sgd."
        )
    params = as_variables(initial, names)
    box = ()
    if bounds is not None and any(b is not None for b in bounds):
        box = box_arrays(bounds, params)
        labels = [variable_label(names, i, len(params)) for i in range(len(params))]
        check_start_inside(box, params, labels, bounds)
    program = program_for(
        objective, spec, params, aux, tol is not None, cache_key, names, bool(box), kind is not None
    )

    def fresh(count: int) -> _Progress:
        carry = program.fresh_carry(
            params,
            lr,
            0.0 if momentum is None else momentum,
            math.inf if tol is None else tol,
            kind or 0,
            count,
            box,
            FTOL if default_tol else -math.inf,  # an explicit tol alone decides
        )
        return _Progress(carry, (0,) * 8, ())

    first = next_chunk(program, fresh(steps), aux, steps)
    start = first.status[5:]  # the first chunk evaluated the start
    if not math.isfinite(start[0]):
        raise GradmagicError(
            f"The objective is {start[0]} at the starting values; start where it is finite."
        )
    labels = list(names) if names else [f"x{i}" for i in range(len(params))]
    report = None if callback is None else _Reporter(callback, labels)
    carry, status, outputs, stop = _run_chunks(program, first, aux, steps, on_progress, report)
    final, chunks, initial_values, grad = jax.device_get(
        (carry.params, [out for _, out in outputs], params, carry.grad)
    )  # the one bulk transfer
    rows = np.concatenate([c[:n] for (n, _), c in zip(outputs, chunks, strict=True)])
    history = rows[:, 0].astype(program.loss_dtype, copy=False)
    path = _unpack_path(rows, initial_values, 1 + program.scheduled) if program.record_path else ()
    step, loss, gnorm, done, diverged = status[:5]
    restore = diverged >= 0 or step == 0  # never hand back non-finite values
    trap = None
    if diverged >= 0:  # the carry's gradient is at the non-finite point: take the start's
        grad = jax.device_get(jax.grad(lambda p: objective(p, aux))(params))
        last = diverged - 1  # the last finite point: was its gradient already non-finite?
        point = (params, grad) if last == 0 else _replay(program, fresh(last), aux, last)
        if point is not None:
            trap = nonfinite_gradient.found_at(last, history[last], *point, labels)
    return OptimizationRun(
        values=_host_values(initial, initial_values if restore else final, exact=restore),
        loss=start[0] if restore else loss,
        grad_norm=start[1] if restore else gnorm,
        jac=tuple(np.asarray(g) for g in grad),
        nfev=status[7],
        steps=step,
        requested_steps=steps,
        converged=tol is not None and done > 0,
        stalled=done == 2,
        diverged_at=diverged if diverged >= 0 else None,
        interrupted=stop == "interrupted",
        history=history,
        path=path,
        optimizer=spec.name,
        lr=lr,
        momentum=momentum,
        tol=tol,
        default_tol=default_tol,
        schedule=None if kind is None else SCHEDULES[kind],
        lr_history=rows[1:, 1].astype(float) if program.scheduled else None,
        bounds=tuple(bounds) if box else None,
        stopped_by_callback=stop == "callback",
        nonfinite_gradient=trap,
    )


def _replay(program: ChunkProgram, fresh: _Progress, aux: Any, steps: int) -> tuple | None:
    """``(values, gradient)`` after ``steps`` steps, by running the same program from the
    same start again (no progress, no callback); None if interrupted."""
    carry, _, _, stop = _run_chunks(
        program, next_chunk(program, fresh, aux, steps), aux, steps, None
    )
    return None if stop else jax.device_get((carry.params, carry.grad))


def _status(carry: Carry) -> _Status:
    """The few scalars Python needs between chunks (two small transfers)."""
    (step, diverged, done, nfev), (loss, gnorm, start_loss, start_gnorm) = jax.device_get(
        (carry.counts, carry.values)
    )
    return (
        int(step), float(loss), float(gnorm), int(done), int(diverged),
        float(start_loss), float(start_gnorm), int(nfev),
    )  # fmt: skip


def _finished(status: _Status, steps: int) -> bool:
    step, _, _, done, diverged = status[:5]
    return step >= steps or done or diverged >= 0


class _Progress(NamedTuple):
    """Everything finished so far; replaced as a whole so Ctrl-C never sees half an update."""

    carry: Carry
    status: _Status
    outputs: tuple  # linked list: (earlier, (rows_recorded, rows)) or ()


def _run_chunks(
    program: ChunkProgram,
    first: _Progress,
    aux: Any,
    steps: int,
    on_progress: Callable[[int, float], None] | None,
    report: _Reporter | None = None,
) -> tuple[Carry, _Status, list, str | None]:
    """Run chunks after the ``first`` until done, diverged, out of steps or interrupted.

    Chunk sizes follow the measured time per step so each takes about :data:`CHUNK_SECONDS`
    (a slow objective still reports progress and reacts to Ctrl-C); the estimate is kept on
    the program so the next run starts with full-size chunks.  On Ctrl-C (during a chunk or
    raised by ``on_progress``) the chunk in flight is dropped and the last finished state is
    returned.  ``report`` (the user's callback) runs after each chunk that took steps; its
    ``StopIteration`` keeps the state it saw.  Returns the final carry, its status,
    ``[(rows_recorded, rows)]`` per chunk and why it stopped early (``"interrupted"``,
    ``"callback"`` or None).
    """
    done = first
    stop = None
    try:
        while True:
            if on_progress is not None:
                on_progress(done.status[0], done.status[1])
            if report is not None and done.status[0] > 0 and done.status[4] < 0:
                report(done.carry, done.status)  # steps taken, none non-finite
            if _finished(done.status, steps):
                break
            done = next_chunk(program, done, aux, steps)
    except KeyboardInterrupt:
        stop = "interrupted"
    except StopIteration:
        stop = "callback"
    outputs, node = [], done.outputs
    while node:
        node, item = node
        outputs.append(item)
    return done.carry, done.status, outputs[::-1], stop


class _Reporter:
    """Calls the user's callback with the result so far (one small transfer per chunk)."""

    def __init__(self, callback: Callable[[OptimizeResult], Any], names: Sequence[str]) -> None:
        self.callback = callback
        self.names = names

    def __call__(self, carry: Carry, status: _Status) -> None:
        __tracebackhide__ = True
        self.callback(intermediate_result(self.names, carry, status))


def intermediate_result(names: Sequence[str], carry: Carry, status: _Status) -> OptimizeResult:
    """The result so far, as SciPy passes ``intermediate_result`` to a callback: ``x``,
    ``fun``, ``jac``, ``nit``, ``nfev`` and the gradient norm ``grad_norm``."""
    params, grad = jax.device_get((carry.params, carry.grad))
    return OptimizeResult(
        x=by_name(names, [np.asarray(p) for p in params]),
        fun=status[1],
        jac=by_name(names, [np.asarray(g) for g in grad]),
        nit=status[0],
        nfev=status[7],
        grad_norm=status[2],
    )


def next_chunk(program: ChunkProgram, done: _Progress, aux: Any, steps: int) -> _Progress:
    """Run one chunk, wait for its status, and time it to size the next one.

    A program's first chunk is not timed: it includes tracing and compiling.
    """
    fresh = not done.outputs  # the first chunk of a run also records the start
    step = done.status[0]
    end = min(steps, step + _chunk_limit(program.seconds_per_step))
    bounds = np.array([end, step + (not fresh)], np.int32)
    timed = program.chunk_calls > 0
    program.chunk_calls += 1
    started = time.perf_counter()
    carry, rows = program.chunk(done.carry, aux, bounds)
    status = _status(carry)
    ran = status[0] - step
    if timed:
        program.seconds_per_step = (time.perf_counter() - started) / max(ran, 1)
    return _Progress(carry, status, (done.outputs, (ran + fresh, rows)))


def _chunk_limit(seconds_per_step: float | None) -> int:
    """Steps for the next chunk: :data:`FIRST_CHUNK` until timed, then ~CHUNK_SECONDS worth."""
    if seconds_per_step is None:
        return FIRST_CHUNK
    return max(1, min(CHUNK, int(CHUNK_SECONDS / max(seconds_per_step, 1e-9))))


def _unpack_path(rows: np.ndarray, start: tuple, column: int = 1) -> tuple:
    """Per variable: its columns of the recorded rows (from ``column``), shape
    ``(steps+1, *shape)``."""
    path = []
    for value in start:
        size = math.prod(np.shape(value))
        part = rows[:, column : column + size].reshape((-1, *np.shape(value)))
        path.append(part.astype(np.asarray(value).dtype, copy=False))
        column += size
    return tuple(path)


def _host_values(initial: Sequence[Any], values: tuple, exact: bool) -> tuple:
    """Python floats for Python-float starts (so write-back keeps the type), else numpy.

    With ``exact`` (diverged, or no step taken) a Python float start comes back as given,
    not rounded through float32.
    """
    return tuple(
        (o if exact else float(v)) if isinstance(o, float) else np.asarray(v)
        for o, v in zip(initial, values, strict=True)
    )

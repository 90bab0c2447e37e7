"""Running the compiled loop: chunks, progress, interrupts, and the run's record.

:func:`minimize` is the engine's entry point: it checks the settings and starting values,
finds (or builds and checks) the compiled chunk program in the cache, and calls it chunk
after chunk.  Python only runs between chunks: it reports progress, notices Ctrl-C, and
stops early.  Chunks are sized from measured step time (about :data:`CHUNK_SECONDS` each)
so progress and interrupts stay responsive for slow objectives.

Memory does not grow with ``steps``: at most about ``RECORD_LIMIT`` rows are recorded
(:mod:`~gradmagic.minimize.record`)
(every ``stride``-th step, the first and the last always), and each chunk's rows come to
the host as the run goes (one small transfer per chunk, with its status), into a host
array sized for the whole run up front; nothing accumulates on the device.
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
from gradmagic.minimize.record import Record
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

    ``history[k]`` is the objective after ``recorded_steps[k]`` steps (``history[0]`` at
    the start; every step on runs up to ``RECORD_LIMIT`` steps, every ``stride``-th beyond,
    the last always) and ``path[i][k]`` the ``i``-th variable then.  When the run diverged, ``values`` (and
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
    recorded_steps: np.ndarray | None = None  # the step of each history/path entry


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
    carry = program.fresh_carry(
        params,
        lr,
        0.0 if momentum is None else momentum,
        math.inf if tol is None else tol,
        kind or 0,
        steps,
        box,
        FTOL if default_tol else -math.inf,  # an explicit tol alone decides
    )
    record = Record(steps, program.width, program.row_dtype)
    first = next_chunk(program, _Progress(carry, (0,) * 8, 0, None), aux, steps, record)
    start = first.status[5:]  # the first chunk evaluated the start
    if not math.isfinite(start[0]):
        raise GradmagicError(
            f"The objective is {start[0]} at the starting values; start where it is finite."
        )
    labels = list(names) if names else [f"x{i}" for i in range(len(params))]
    report = None if callback is None else _Reporter(callback, labels)
    done, stop = _run_chunks(program, first, aux, steps, on_progress, report, record)
    carry, status = done.carry, done.status
    final, initial_values, grad = jax.device_get((carry.params, params, carry.grad))
    rows, recorded_steps = record.rows_and_steps(done.recorded, done.tail, status[0])
    history = rows[:, 0].astype(program.loss_dtype, copy=False)
    path = _unpack_path(rows, initial_values, 1 + program.scheduled) if program.record_path else ()
    step, loss, gnorm, done, diverged = status[:5]
    restore = diverged >= 0 or step == 0  # never hand back non-finite values
    if diverged >= 0:  # the carry's gradient is at the non-finite point: take the start's
        grad = jax.device_get(jax.grad(lambda p: objective(p, aux))(params))
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
        recorded_steps=recorded_steps,
    )


def _status(counts: np.ndarray, values: np.ndarray) -> _Status:
    """The few scalars Python needs between chunks, as Python numbers."""
    (step, diverged, done, nfev), (loss, gnorm, start_loss, start_gnorm) = counts, values
    return (
        int(step), float(loss), float(gnorm), int(done), int(diverged),
        float(start_loss), float(start_gnorm), int(nfev),
    )  # fmt: skip


def _finished(status: _Status, steps: int) -> bool:
    step, _, _, done, diverged = status[:5]
    return step >= steps or done or diverged >= 0


class _Progress(NamedTuple):
    """Everything finished so far; replaced as a whole so Ctrl-C never sees half an update.

    ``recorded`` rows of the :class:`Record` are final (0: nothing ran yet); ``tail`` is
    the row of the last step when that step is not a multiple of the stride.
    """

    carry: Carry
    status: _Status
    recorded: int
    tail: np.ndarray | None


def _run_chunks(
    program: ChunkProgram,
    first: _Progress,
    aux: Any,
    steps: int,
    on_progress: Callable[[int, float], None] | None,
    report: _Reporter | None,
    record: Record,
) -> tuple[_Progress, str | None]:
    """Run chunks after the ``first`` until done, diverged, out of steps or interrupted.

    Chunk sizes follow the measured time per step so each takes about :data:`CHUNK_SECONDS`
    (a slow objective still reports progress and reacts to Ctrl-C); the estimate is kept on
    the program so the next run starts with full-size chunks.  On Ctrl-C (during a chunk or
    raised by ``on_progress``) the chunk in flight is dropped and the last finished state is
    returned.  ``report`` (the user's callback) runs after each chunk that took steps; its
    ``StopIteration`` keeps the state it saw.  Returns the last finished progress and why
    it stopped early (``"interrupted"``, ``"callback"`` or None).
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
            done = next_chunk(program, done, aux, steps, record)
    except KeyboardInterrupt:
        stop = "interrupted"
    except StopIteration:
        stop = "callback"
    return done, stop


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


def next_chunk(
    program: ChunkProgram, done: _Progress, aux: Any, steps: int, record: Record
) -> _Progress:
    """Run one chunk, fetch its status and recorded rows (one transfer), and time it to size
    the next one.  A program's first chunk is not timed: it includes tracing and compiling.
    """
    step = done.status[0]
    end = min(steps, step + _chunk_limit(program.seconds_per_step, record.stride))
    bounds = np.array([end, done.recorded, record.stride], np.int32)
    timed = program.chunk_calls > 0
    program.chunk_calls += 1
    started = time.perf_counter()
    carry, rows = program.chunk(done.carry, aux, bounds)
    counts, values, rows = jax.device_get((carry.counts, carry.values, rows))
    status = _status(counts, values)
    if timed:
        program.seconds_per_step = (time.perf_counter() - started) / max(status[0] - step, 1)
    return _Progress(carry, status, *record.store(done.recorded, status[0], rows))


def _chunk_limit(seconds_per_step: float | None, stride: int = 1) -> int:
    """Steps for the next chunk: :data:`FIRST_CHUNK` until timed, then ~CHUNK_SECONDS worth,
    at most what the chunk's :data:`CHUNK` + 1 record rows hold at this stride."""
    if seconds_per_step is None:
        return FIRST_CHUNK
    return max(1, min(CHUNK * stride, int(CHUNK_SECONDS / max(seconds_per_step, 1e-9))))


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

"""Running the compiled loop: chunks, progress, interrupts, and the run's record.

:func:`minimize` is the engine's entry point: it checks the settings and starting values,
finds (or builds and checks) the compiled chunk program in the cache, and calls it chunk
after chunk.  Python only runs between chunks: it reports progress, notices Ctrl-C, and
stops early.  Chunks are sized from measured step time (about :data:`CHUNK_SECONDS` each)
so progress and interrupts stay responsive for slow objectives.

Memory does not grow with ``steps``: at most about ``RECORD_LIMIT`` rows are recorded
(:mod:`~gradmagic.minimize.record`: every ``stride``-th step, the first and the last
always), and each chunk's rows come to the host as the run goes (one small transfer per
chunk, with its status), into a host array sized for the whole run; nothing accumulates
on the device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from gradmagic.errors import GradmagicError
from gradmagic.minimize import saved_programs
from gradmagic.minimize.bounds import Interval, box_arrays, check_start_inside
from gradmagic.minimize.intermediate import Reporter
from gradmagic.minimize.loop import FAST_COMPILE_LIMIT, FTOL, Carry, ChunkProgram, build_program
from gradmagic.minimize.minibatch import Batching, check_batching, check_data
from gradmagic.minimize.optimization_run import OptimizationRun, host_values
from gradmagic.minimize.optimize_result import OptimizeResult
from gradmagic.minimize.optimizers import OptimizerSpec, resolve_optimizer
from gradmagic.minimize.record import CHUNK, Records, unpack_path
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
    data: Any = (),
    batching: Batching | None = None,
    saved_as: Any = None,
) -> ChunkProgram:
    """Return the cached program, validating the objective and building it on a miss (on
    a minibatch's shapes, with data).  With ``saved_as`` (a problem's stable key, see
    :mod:`~gradmagic.minimize.saved_programs`) a program compiled in an earlier kernel is
    loaded from disk, and a new one is saved there after its first call."""
    identity = objective if cache_key is None else cache_key
    shapes = arguments_key(params, aux, data)
    flags = (spec.name, has_tol, bounded, scheduled, batching)

    def build() -> ChunkProgram:
        # the key fingerprints every baked-in value: computed on a miss only, never per re-run
        disk = saved_as and saved_programs.program_key(saved_as, shapes[0], repr(shapes[1]), flags)
        loaded = saved_programs.load(disk) if disk else None
        if loaded is not None:  # validated and compiled by an earlier kernel
            executable, meta = loaded
            record_path = sum(math.prod(p.shape) for p in params) <= PATH_LIMIT
            program = build_program(  # as compiled then (batch.py compiles with its options)
                objective, spec, has_tol, record_path, params, meta["loss_dtype"],
                meta["fast"], bounded, scheduled, batching,
            )  # fmt: skip
            program.chunk = saved_programs.Loaded(executable, program.chunk, disk)
            return program
        program = validated_build()
        if disk:
            meta = {"loss_dtype": str(program.loss_dtype), "fast": bool(program.chunk.options)}
            program.chunk = saved_programs.Saving(program.chunk, disk, meta)
        return program

    def validated_build() -> ChunkProgram:
        inputs = aux
        if batching is not None:
            size = batching.size  # checked on a minibatch's shapes (nothing computed)
            batch = jax.tree_util.tree_map(
                lambda x: jax.ShapeDtypeStruct((size, *x.shape[1:]), x.dtype), data
            )
            inputs = {**aux, **batch}
        loss_dtype, largest = check_objective(objective, params, inputs, names)
        record_path = sum(math.prod(p.shape) for p in params) <= PATH_LIMIT
        fast = largest <= FAST_COMPILE_LIMIT
        return build_program(
            objective, spec, has_tol, record_path, params, loss_dtype, fast, bounded, scheduled,
            batching,
        )  # fmt: skip

    key = (identity, shapes, *flags)
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
    data: Mapping[str, Any] | None = None,
    batch: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    saved_as: Any = None,
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
    :func:`~gradmagic.minimize.intermediate.intermediate_result`): after the first
    :data:`FIRST_CHUNK` steps of a new program, then about every :data:`CHUNK_SECONDS` of
    running and at most every :data:`~gradmagic.minimize.record.CHUNK` steps (at the
    record's stride), and once at the end.  Raising ``StopIteration`` there ends the run
    cleanly (``stopped_by_callback``; the values it saw are kept), any other exception
    propagates.  The starting values must give a finite objective; a step that makes the
    objective or a variable non-finite stops the run (``diverged_at``; a large problem's
    variables are checked once per chunk) and the starting values are returned.

    ``data`` (name → array, or pytree of arrays, sharing a leading axis of examples; ``aux``
    is then a dict) trains on minibatches of ``batch`` examples (None: all of them), drawn
    in a fresh permutation each epoch from ``seed`` (see :mod:`~gradmagic.minimize.minibatch`):
    the objective sees ``aux`` updated with the step's minibatch under the same names.
    ``epochs`` (passes over the data) replaces ``steps``.  The run then also records the
    objective on all the data after each epoch (``epoch_loss``).  ``saved_as`` (what
    identifies the objective across kernels) keeps the compiled loop on disk
    (:mod:`~gradmagic.minimize.saved_programs`).
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
    batching = None
    if data is not None:
        data, examples = check_data(data)
        batching = check_batching(batch, examples, epochs, seed, spec.line_search)
        if epochs is not None:
            steps = check_settings(spec, lr, epochs * batching.per_epoch, momentum, None)[1]
    elif batch is not None or epochs is not None:
        raise GradmagicError("--batch and --epochs need data: name it with --data X,y.")
    params = as_variables(initial, names)
    box = ()
    if bounds is not None and any(b is not None for b in bounds):
        labels = [variable_label(names, i, len(params)) for i in range(len(params))]
        box = box_arrays(bounds, params, labels)
        check_start_inside(box, params, labels, bounds)
    program = program_for(
        objective, spec, params, aux, tol is not None, cache_key, names, bool(box),
        kind is not None, data or (), batching, saved_as,
    )  # fmt: skip

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
            seed,
        )
        return _Progress(carry, (0,) * 8, (0, 0), (None, None))

    longest = program.rows if callback is None else CHUNK  # a callback sees every CHUNK steps
    record = Records(steps, program.width, program.row_dtype, batching, longest)
    inputs = (aux, data or ())
    first = next_chunk(program, fresh(steps), inputs, steps, record)
    start = first.status[5:]  # the first chunk evaluated the start
    if not math.isfinite(start[0]):
        raise GradmagicError(
            f"The objective is {start[0]} at the starting values; start where it is finite."
        )
    labels = list(names) if names else [f"x{i}" for i in range(len(params))]
    report = None if callback is None else Reporter(callback, labels, program.variables)
    done, stop = _run_chunks(program, first, inputs, steps, on_progress, report, record)
    carry, status = done.carry, done.status
    final, initial_values, grad = jax.device_get((carry.params, params, carry.grad))
    final, grad = program.variables(final), program.variables(grad)
    rows, recorded_steps = record.steps.rows_and_steps(done.recorded[0], done.tail[0], status[0])
    epoch_loss = recorded_epochs = None
    if batching is not None:
        finished = status[0] // batching.per_epoch
        ends, recorded_epochs = record.epochs.rows_and_steps(
            done.recorded[1], done.tail[1], finished
        )
        epoch_loss = ends[:, 0].astype(program.loss_dtype, copy=False)
    history = rows[:, 0].astype(program.loss_dtype, copy=False)
    path = unpack_path(rows, initial_values, 1 + program.scheduled) if program.record_path else ()
    step, loss, gnorm, done, diverged = status[:5]
    restore = diverged >= 0 or step == 0  # never hand back non-finite values
    trap = None
    if diverged >= 0:  # the carry's gradient is at the non-finite point: take the start's
        everything = {**aux, **data} if data else aux
        grad = jax.device_get(jax.grad(lambda p: objective(p, everything))(params))
        last = diverged - 1  # the last finite point: was its gradient already non-finite?
        if last == 0:
            point = (start[0], params, grad)
        else:
            point = _replay(program, fresh(last), inputs, last, batching)
        if point is not None:  # (imported here: most runs never need it)
            from gradmagic.minimize.nonfinite_gradient import found_at

            trap = found_at(last, *point, labels)
    return OptimizationRun(
        values=host_values(initial, initial_values if restore else final, exact=restore),
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
        recorded_steps=recorded_steps,
        batching=batching,
        seed=None if batching is None else seed,
        epoch_loss=epoch_loss,
        recorded_epochs=recorded_epochs,
    )


def _replay(
    program: ChunkProgram, fresh: _Progress, inputs: tuple, steps: int, batching: Any
) -> tuple | None:
    """``(objective, values, gradient)`` after ``steps`` steps, by running the same program
    from the same start again (no progress, no callback); None if interrupted."""
    record = Records(steps, program.width, program.row_dtype, batching, program.rows)
    first = next_chunk(program, fresh, inputs, steps, record)
    done, stop = _run_chunks(program, first, inputs, steps, None, None, record)
    if stop:
        return None
    found = jax.device_get((done.carry.params, done.carry.grad))
    return (done.status[1], *map(program.variables, found))


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

    ``recorded`` rows of each of the :class:`Records` (steps, epochs) are final (0: nothing ran
    yet); ``tail`` holds each one's last row when its count is not a multiple of the stride.
    """

    carry: Carry
    status: _Status
    recorded: tuple[int, int]
    tail: tuple[np.ndarray | None, np.ndarray | None]


def _run_chunks(
    program: ChunkProgram,
    first: _Progress,
    inputs: tuple,
    steps: int,
    on_progress: Callable[[int, float], None] | None,
    report: Reporter | None,
    record: Records,
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
            done = next_chunk(program, done, inputs, steps, record)
    except KeyboardInterrupt:
        stop = "interrupted"
    except StopIteration:
        stop = "callback"
    return done, stop


def next_chunk(
    program: ChunkProgram, done: _Progress, inputs: tuple, steps: int, record: Records
) -> _Progress:
    """Run one chunk, fetch its status and recorded rows (one transfer), and time it to size
    the next one.  A program's first chunk is not timed: it includes tracing and compiling.
    """
    step = done.status[0]
    end = min(steps, step + _chunk_limit(program.seconds_per_step, record.limit))
    bounds = record.bounds(end, done.recorded)
    timed = program.chunk_calls > 0
    program.chunk_calls += 1
    started = time.perf_counter()
    carry, rows, ends = program.chunk(done.carry, inputs[0], bounds, inputs[1])
    counts, values, rows, ends = jax.device_get((carry.counts, carry.values, rows, ends))
    status = _status(counts, values)
    if timed:
        program.seconds_per_step = (time.perf_counter() - started) / max(status[0] - step, 1)
    return _Progress(carry, status, *record.store(done.recorded, status[0], rows, ends))


def _chunk_limit(seconds_per_step: float | None, limit: int) -> int:
    """Steps for the next chunk: :data:`FIRST_CHUNK` until timed, then ~CHUNK_SECONDS worth,
    at most ``limit`` (what the chunk's record buffers hold at the run's strides)."""
    if seconds_per_step is None:
        return FIRST_CHUNK
    return max(1, min(limit, int(CHUNK_SECONDS / max(seconds_per_step, 1e-9))))

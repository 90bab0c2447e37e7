"""Many runs of one problem in one compiled program: ``--tune`` grids and ``--starts``.

:func:`run_batch` runs N settings (learning rate, momentum, start) of one optimizer together
in one compiled program (:func:`~gradmagic.minimize.batch_loop.batched_chunk`): a
``lax.while_loop`` whose body is ``jax.vmap`` of the single-run loop's own step
(:mod:`~gradmagic.minimize.loop`), so the N runs share one executable and one launch per
chunk instead of N compiles or N Python loops.  Each run stops exactly where it would
alone: results equal single ``%minimize`` runs at the same settings, bit for bit.

* **No recompiles.**  Learning rates, momenta and starts are traced values in the carry, so
  a new grid of the same size reuses the program; N is padded up to a bucket (a multiple
  of :data:`BUCKET`) so nearby sizes share one too.
* **Scale-out.**  With several devices (GPUs, TPU cores, or CPU devices forced with
  ``XLA_FLAGS=--xla_force_host_platform_device_count=4``) the run axis is sharded over a
  1-D mesh of all of them (``jax.sharding.NamedSharding``): one program, data-parallel over
  the runs, the same results.
* **Small records.**  Each run keeps about ``points`` rows (every ``stride``-th step, the
  first and last always), on a step axis shared by all runs: a run that stopped early
  holds its last row from then on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradmagic.errors import GradmagicError
from gradmagic.minimize.batch_loop import batched_chunk, carry_axes
from gradmagic.minimize.driver import LINE_SEARCH_TOL, program_for
from gradmagic.minimize.loop import FTOL, Carry, ChunkProgram, Jit
from gradmagic.minimize.optimizers import resolve_optimizer
from gradmagic.minimize.record import CHUNK, stride_for
from gradmagic.program_cache import ProgramCache, arguments_key

BUCKET = 8  # batches are padded to a multiple of this (and of the device count)
PATH_NUMBERS = 16  # paths are kept only when all variables together hold this few numbers
PROGRAMS = ProgramCache()  # vmapped chunk programs, by problem, shapes, optimizer and bucket


@dataclass(frozen=True, eq=False)
class BatchRuns:
    """What N runs found, as NumPy arrays with the run on the first axis.

    As for a single run, a diverged run reports its *starting* values and objective in
    ``ends``/``final`` (``diverged_at`` says at which step it blew up) while ``history``
    and ``path`` keep the non-finite step.  ``history[i, k]`` is run ``i``'s objective after
    ``recorded_steps[k]`` steps (a run that stopped earlier keeps its last value)."""

    optimizer: str
    variables: tuple[str, ...]
    lrs: np.ndarray  # (N,)
    momenta: tuple[float | None, ...]  # (N,): None where the optimizer has no momentum
    starts: np.ndarray  # (N, numbers): each run's start, variables flattened
    final: np.ndarray  # (N,) final objective
    steps: np.ndarray  # (N,) steps taken
    converged: np.ndarray  # (N,) the gradient norm fell below tol
    diverged_at: np.ndarray  # (N,) the step that went non-finite, -1: none
    ends: np.ndarray  # (N, numbers): where each run ended, variables flattened
    history: np.ndarray  # (N, R)
    recorded_steps: np.ndarray  # (R,)
    path: np.ndarray | None  # (N, R, numbers), or None for variables with many numbers
    tol: float | None
    requested_steps: int

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_at >= 0

    def __len__(self) -> int:
        return len(self.final)


def bucket(count: int, devices: int = 1) -> int:
    """``count`` rounded up to a multiple of :data:`BUCKET` and of ``devices``."""
    step = math.lcm(BUCKET, devices)
    return -(-count // step) * step


def run_batch(
    problem: Any,
    *,
    optimizer: str,
    lrs: Sequence[float],
    momenta: Sequence[float | None],
    starts: Sequence[Any] | None = None,
    steps: int,
    tol: float | None = None,
    points: int = 201,
) -> BatchRuns:
    """Run ``len(lrs)`` settings of ``optimizer`` on ``problem`` in one compiled program.

    Run ``i`` uses ``lrs[i]``, ``momenta[i]`` (None: the optimizer's default, as a single
    run) and starts at ``starts[v][i]`` for each variable ``v`` (``starts``: one
    ``(N, *shape)`` array per variable; None: the problem's start).  ``points`` bounds the
    recorded rows per run.  Problems with ``--data`` are refused (minibatches are per run)."""
    from gradmagic.minimize.validation import as_variables, check_settings

    if problem.data:
        raise GradmagicError("--tune and --starts do not take --data yet; drop --data.")
    spec = resolve_optimizer(optimizer)
    count = len(lrs)
    if count < 1 or len(momenta) != count:
        raise GradmagicError("run_batch needs one momentum (or None) per learning rate.")
    checked = {
        (float(lr), m): check_settings(spec, lr, steps, m, tol)
        for lr, m in dict.fromkeys(zip(lrs, momenta, strict=True))
    }
    _, steps, _, tol = next(iter(checked.values()))
    rates = np.array([checked[float(lr), m][0] for lr, m in zip(lrs, momenta, strict=True)])
    moms = tuple(checked[float(lr), m][2] for lr, m in zip(lrs, momenta, strict=True))
    default_tol = tol is None and spec.line_search
    limit = LINE_SEARCH_TOL if default_tol else tol
    params = as_variables(problem.start, problem.variables)
    aux = problem.aux()
    program = program_for(
        problem.objective, spec, params, aux, limit is not None, problem.cache_key,
        problem.variables,
    )  # fmt: skip
    first = run_starts(params, starts, count)
    shared = len(set(rates.tolist())) == 1 and len(set(moms)) == 1  # e.g. --starts
    batched, axes, devices = _batched_program(
        program, problem, spec.name, params, aux, limit, count, shared
    )
    size = bucket(count, devices)
    settings = np.zeros((size, 6), program.blank.settings.dtype)
    picked = np.minimum(np.arange(size), count - 1)  # padding repeats the last run
    settings[:, 0] = math.inf if limit is None else limit
    settings[:, 1] = rates[picked]
    settings[:, 2] = np.array([0.0 if m is None else m for m in moms])[picked]
    settings[:, 4] = steps
    settings[:, 5] = FTOL if default_tol else -math.inf
    carry = _stacked(program.blank, axes, size)._replace(
        params=program.carried(tuple(np.ascontiguousarray(p[picked]) for p in first), runs=1),
        settings=settings if axes.settings == 0 else settings[0],
    )
    carry = _placed(carry, axes, devices)
    stride = stride_for(steps, max(points - 1, 1))
    counts, values, record, params_out = _drive(batched, carry, aux, steps, stride, program)
    counts, values, record = counts[:count], values[:count], record[:count]
    done_steps, diverged_at = counts[:, 0], counts[:, 1]
    last = max(int(done_steps.max()), 0)
    slots = _slot(last, stride) + 1
    own = _slots(done_steps, stride)
    record = record[:, :slots]
    late = np.arange(slots) > own[:, None]  # after a run's last slot: it holds its last row
    if late.any():
        record = np.where(late[:, :, None], record[np.arange(count), own][:, None], record)
    recorded = np.minimum(np.arange(slots) * stride, last)
    starts_flat = np.concatenate([np.reshape(p, (count, -1)) for p in first], axis=1)
    ends = np.concatenate([np.reshape(p[:count], (count, -1)) for p in params_out], axis=1)
    bad = diverged_at >= 0
    ends[bad] = starts_flat[bad]
    final = np.where(bad | (done_steps == 0), values[:, 2], values[:, 0])
    numbers = starts_flat.shape[1]
    return BatchRuns(
        optimizer=spec.name,
        variables=tuple(problem.variables),
        lrs=rates,
        momenta=moms,
        starts=starts_flat,
        final=final.astype(program.loss_dtype),
        steps=done_steps.astype(np.int64),
        converged=(counts[:, 2] > 0) & (limit is not None),
        diverged_at=diverged_at.astype(np.int64),
        ends=ends,
        history=record[:, :, 0].astype(program.loss_dtype),
        recorded_steps=recorded,
        path=record[:, :, 1:] if program.record_path and numbers <= PATH_NUMBERS else None,
        tol=limit,
        requested_steps=steps,
    )


def run_starts(params: tuple, starts: Sequence[Any] | None, count: int) -> list[np.ndarray]:
    """One ``(count, *shape)`` array per variable, in the variable's dtype."""
    if starts is None:
        return [np.broadcast_to(np.asarray(p), (count, *np.shape(p))) for p in params]
    if len(starts) != len(params):
        raise GradmagicError(f"starts: give one array per variable ({len(params)}).")
    arrays = []
    for p, s in zip(params, starts, strict=True):
        s = np.asarray(s, dtype=np.asarray(p).dtype)
        if s.shape != (count, *np.shape(p)):
            raise GradmagicError(
                f"starts: expected shape {(count, *np.shape(p))} for a variable, got {s.shape}."
            )
        arrays.append(s)
    return arrays


def _batched_program(
    program: ChunkProgram,
    problem: Any,
    optimizer: str,
    params: tuple,
    aux: Any,
    tol: float | None,
    count: int,
    shared: bool,
) -> tuple[Jit, Carry, int]:
    """The vmapped chunk program for this problem and bucket, its carry's run axes (see
    :func:`~gradmagic.minimize.batch_loop.carry_axes`) and the devices it spans."""
    import jax

    devices = jax.device_count()
    size = bucket(count, devices)
    key = (
        problem.cache_key, arguments_key(params, aux), optimizer, tol is not None, size,
        devices, shared, "batch",
    )  # fmt: skip

    def build() -> tuple[Jit, Carry]:
        axes = carry_axes(program, shared, size, aux)
        return Jit(batched_chunk(program, axes), program.chunk.options), axes.carry

    return (*PROGRAMS.get_or_build(key, build), devices)


def _stacked(blank: Carry, axes: Carry, size: int) -> Carry:
    """A fresh carry with ``size`` copies stacked on a new first axis where ``axes`` says 0."""
    import jax

    def one(axis: int | None, x: Any) -> Any:
        return np.asarray(x) if axis is None else np.broadcast_to(x, (size, *np.shape(x))).copy()

    return jax.tree_util.tree_map(one, axes, blank, is_leaf=lambda a: a is None)


def _placed(carry: Carry, axes: Carry, devices: int) -> Any:
    """With several devices, the carry split over them along the run axis (the leaves
    shared by all runs copied to each)."""
    import jax

    if devices == 1:
        return carry
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(jax.devices()), ("runs",))
    split, copied = NamedSharding(mesh, PartitionSpec("runs")), NamedSharding(mesh, PartitionSpec())
    where = jax.tree_util.tree_map(
        lambda a: copied if a is None else split, axes, is_leaf=lambda a: a is None
    )
    return jax.device_put(carry, where)


def _slot(count: int, stride: int) -> int:
    """The record slot of step ``count``: ``ceil(count / stride)`` (as the loop writes it)."""
    return -(-count // stride) if count > 0 else 0


def _slots(counts: np.ndarray, stride: int) -> np.ndarray:
    """:func:`_slot` of each of ``counts``."""
    return np.where(counts > 0, -(-counts // stride), 0)


def _drive(
    batched: Jit, carry: Carry, aux: Any, steps: int, stride: int, program: ChunkProgram
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """Call the vmapped chunk until every run stopped; returns counts, values, the record
    ``(N, slots, width)`` (slots after a run's last one unset) and the final params."""
    import jax

    size = carry.counts.shape[0]
    slots = _slot(steps, stride) + 1
    record = np.zeros((size, slots + 1, program.width), program.row_dtype)
    before = np.full(size, -1)
    reached = -1  # the step count of the runs still going (they move in lockstep)
    while True:
        recorded = reached // stride + 1 if reached >= 0 else 0
        end = min(steps, max(reached, 0) + CHUNK * stride)
        bounds = np.array([end, recorded, stride, reached], np.int32)
        carry, rows = batched(carry, aux, bounds)
        counts, values, rows = jax.device_get((carry.counts, carry.values, rows))
        after = counts[:, 0]
        moved = after > before
        if moved.any():
            top = _slot(int(after[moved].max()), stride)
            width = top - recorded + 1
            record[moved, recorded : top + 1] = rows[moved, :width]
        going = (after < steps) & (counts[:, 2] == 0) & (counts[:, 1] < 0)
        before = after
        if not going.any():
            break
        reached = int(after[going].max())
    params = program.variables(jax.device_get(carry.params), runs=1)
    # Each run's last row, from its final carry: the device wrote rows for every run at
    # every step, and a run's rows after it stopped (its last slot too, when others went
    # on within that slot) came from a step that was then discarded.
    last = [values[:, :1].astype(program.row_dtype)]
    if program.record_path:
        last += [np.reshape(p, (size, -1)).astype(program.row_dtype) for p in params]
    record[np.arange(size), _slots(counts[:, 0], stride)] = np.concatenate(last, axis=1)
    return counts, values, record, params

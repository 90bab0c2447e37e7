"""The compiled program of :func:`~gradmagic.minimize.batch.run_batch`: N runs, one loop.

``chunk(carry, aux, bounds)`` steps every run of a carry with a run axis at once, with the
single-run loop's own step (``ChunkProgram.parts``, :mod:`~gradmagic.minimize.loop`) under
``jax.vmap``, so each run computes exactly what it would alone.  What it avoids is the
per-run bookkeeping a plain ``vmap`` of the single loop pays on every step:

* **No per-run masks in the loop.**  Runs move in lockstep (every run still going is at the
  chunk's first step, ``bounds[3]``).  The loop steps *all* runs, with no
  ``where(still going, new, old)`` on each carry leaf, and ends at the step bound or as
  soon as a run that was going stops (converged, stalled or non-finite), so that run's
  carry is the one at its exact stopping step.  Runs that had stopped before the chunk
  took throwaway steps: their carries are put back once, after the loop.  Python calls
  chunks until no run is going (one more call per step at which runs stop).
* **A fresh carry's branch.**  The single loop's first iteration (create the optimiser
  state, evaluate the start) is a ``cond`` on the step count.  The step count enters the
  vmapped step shared by all runs, not as each run's own counter, so that ``cond`` is
  never vmapped into a select computing both sides; the counters each run reports
  (steps, the step that went non-finite, done, evaluations) are rebuilt from the shared
  count after each step, integer for integer as the single loop counts them.  Where
  steps are cheapest to take (runs sharing their settings, below) the fresh iteration is
  peeled off the loop under one scalar ``lax.cond`` and the loop's count is a constant,
  so no ``cond`` runs per step; this compiles the step twice (a 200-step grid of the
  static panel is compiled more than it is run, so grids keep one copy and pay the
  ``cond`` each step).
* **Shared settings stay scalars.**  When every run has the same learning rate and
  momentum (``--starts``), the settings are not stacked, and neither are the optimiser
  state's leaves that follow from them alone (step counts, injected hyperparameters):
  Adam's bias corrections are then computed once a step, not once per run
  (:func:`carry_axes` finds those leaves by tracing).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from gradmagic.minimize.loop import Carry, ChunkProgram
from gradmagic.minimize.record import CHUNK

FRESH = np.array([-1, -1, 0, 0], np.int32)  # a fresh carry's counts (see loop.Carry)
GOING = np.array([0, -1, 0, 0], np.int32)  # a run under way: not fresh, not stopped


class Axes(NamedTuple):
    """The run axis (0) or none (None: one value for all runs) of each leaf of a batch's
    carry, and of the optimiser states runs start from."""

    carry: Carry
    starts: Any


def carry_axes(program: ChunkProgram, shared: bool, size: int, aux: Any) -> Axes:
    """Each carry leaf's run axis, 0 or None (one value for all runs), as ``vmap`` takes
    them: all 0 unless the runs share their ``settings``; then the settings and the
    optimiser state's leaves that depend on nothing else (see
    :func:`~gradmagic.minimize.run_dependence.depends_on`) are None."""
    import jax

    from gradmagic.minimize.run_dependence import depends_on

    start_state_of, _, advance = program.parts
    blank = program.blank
    every = jax.tree_util.tree_map(lambda _: 0, blank)
    if not shared:
        return Axes(every, every.opt_state)
    marks = jax.tree_util.tree_map(lambda _: True, blank)._replace(settings=False)
    tree = jax.tree_util.tree_structure(blank.opt_state)
    starting = depends_on(start_state_of, (blank,), (marks,))
    bounds = np.zeros(4, np.int32)

    def stepped(c: Carry, start: Any) -> Any:
        return advance(c._replace(counts=GOING), start, aux, bounds, (), ())[0].opt_state

    state = starting
    for _ in range(len(state) + 1):  # until a step makes no more leaves differ between runs
        given = (marks._replace(opt_state=tree.unflatten(state)), tree.unflatten(starting))
        after = depends_on(stepped, (blank, blank.opt_state), given)
        merged = [a or b for a, b in zip(state, after, strict=True)]
        if merged == state:
            break
        state = merged
    axes = every._replace(
        settings=None, opt_state=tree.unflatten([0 if d else None for d in state])
    )
    check = lambda c, s: advance(c._replace(counts=GOING), s, aux, bounds, (), ())[:2]  # noqa: E731
    starts = tree.unflatten([0 if d else None for d in starting])
    try:  # vmap confirms it
        jax.eval_shape(
            jax.vmap(check, in_axes=(axes, starts), out_axes=(axes, 0)),
            _abstract(blank, axes, size),
            _abstract(blank.opt_state, starts, size),
        )
    except ValueError:
        return Axes(every, every.opt_state)
    return Axes(axes, starts)


def _abstract(tree: Any, axes: Any, size: int) -> Any:
    """Shapes and dtypes of ``tree`` with ``size`` runs stacked where ``axes`` says 0."""
    import jax

    def one(axis: int | None, x: Any) -> Any:
        shape = np.shape(x) if axis is None else (size, *np.shape(x))
        return jax.ShapeDtypeStruct(shape, x.dtype)

    return jax.tree_util.tree_map(one, axes, tree, is_leaf=lambda a: a is None)


def batched_chunk(program: ChunkProgram, run_axes: Axes) -> Any:
    """``chunk(carry, aux, bounds) -> (carry, rows)`` for a carry with a run axis on the
    leaves where ``run_axes`` (:func:`carry_axes`) says 0.

    ``bounds`` is ``[end, first slot, stride, step]`` as for the single loop, ``step``
    being where the runs still going are (-1: all fresh).  ``rows`` is ``(N, CHUNK + 1,
    width)``: step ``k`` writes slot ``ceil(k / stride) - bounds[1]`` for every run (the
    host keeps a run's rows up to its own last step only)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    start_state_of, running, advance = program.parts
    axes = run_axes.carry
    peel = axes.settings is None  # see the module's docstring
    going = jax.vmap(running, in_axes=(axes, None))
    stepping = (axes, run_axes.starts)

    def chunk(carry: Carry, aux: Any, bounds: Any) -> tuple:
        starts = jax.vmap(start_state_of, in_axes=(axes,), out_axes=run_axes.starts)(carry)
        live = going(carry, bounds)  # the runs that take steps in this chunk

        def stepped(c: Carry, counts: np.ndarray) -> tuple:
            one = lambda c, s: advance(c._replace(counts=counts), s, aux, bounds, (), ())[:2]  # noqa: E731
            return jax.vmap(one, in_axes=stepping, out_axes=(axes, 0))(c, starts)

        def record(rows: Any, row: Any, reached: Any) -> Any:
            """Step ``reached`` (>= 0) writes slot ``ceil(reached / stride) - bounds[1]``."""
            slot = lax.div(reached + bounds[2] - 1, bounds[2]) - bounds[1]
            return lax.dynamic_update_slice_in_dim(rows, row[:, None], slot, axis=1)

        def counted(moved: Carry, before: Any, reached: Any) -> tuple:
            """The step's carry with each run's own counts, and whether a live run stopped."""
            out = moved.counts
            diverged = jnp.where(out[:, 1] >= 0, reached, -1)
            counts = jnp.stack(
                [jnp.full_like(diverged, reached), diverged, out[:, 2], before[:, 3] + out[:, 3]],
                axis=1,
            )
            stopped = jnp.any(live & ((diverged >= 0) | (out[:, 2] != 0)))
            return moved._replace(counts=counts), stopped

        def first(loop: tuple) -> tuple:
            c, rows, _, _ = loop
            moved, row = stepped(c, FRESH)
            c, stopped = counted(moved, c.counts, 0)
            return c, record(rows, row, 0), bounds[3] + 1, stopped

        def body(loop: tuple) -> tuple:
            c, rows, reached, _ = loop
            moved, row = stepped(c, GOING if peel else jnp.where(reached < 0, FRESH, GOING))
            reached = reached + 1
            c, stopped = counted(moved, c.counts, reached)
            return c, record(rows, row, reached), reached, stopped

        size = carry.counts.shape[0]
        rows = jnp.zeros((size, CHUNK + 1, program.width), program.row_dtype)
        loop = (carry, rows, bounds[3], jnp.array(False))
        if peel:
            loop = lax.cond(bounds[3] < 0, first, lambda loop: loop, loop)
        more = lambda loop: (loop[2] < bounds[0]) & ~loop[3]  # noqa: E731
        moved, rows, _, _ = lax.while_loop(more, body, loop)

        def keep(axis: int | None, new: Any, old: Any) -> Any:
            if axis is None:  # shared: a stopped run never reads it again
                return new
            return jnp.where(live.reshape((-1,) + (1,) * (old.ndim - 1)), new, old)

        kept = jax.tree_util.tree_map(keep, axes, moved, carry, is_leaf=lambda a: a is None)
        return kept, rows

    return chunk

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
* **No vmapped conds.**  The step count enters the vmapped step as a constant, shared by
  all runs, instead of each run's own counter: the single loop's "fresh carry" branch
  (create the optimiser state, evaluate the start) is then decided at compile time, not
  computed for both sides and selected on every step.  The fresh iteration is the
  chunk's first, under one scalar ``lax.cond``; the counters each run reports (steps,
  the step that went non-finite, done, evaluations) are rebuilt from the shared count
  after each step, integer for integer as the single loop counts them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradmagic.minimize.loop import CHUNK, Carry, ChunkProgram

FRESH = np.array([-1, -1, 0, 0], np.int32)  # a fresh carry's counts (see loop.Carry)
GOING = np.array([0, -1, 0, 0], np.int32)  # a run under way: not fresh, not stopped


def batched_chunk(program: ChunkProgram) -> Any:
    """``chunk(carry, aux, bounds) -> (carry, rows)`` for a carry with a run axis.

    ``bounds`` is ``[end, first slot, stride, step]`` as for the single loop, ``step``
    being where the runs still going are (-1: all fresh).  ``rows`` is ``(N, CHUNK + 1,
    width)``: step ``k`` writes slot ``ceil(k / stride) - bounds[1]`` for every run (the
    host keeps a run's rows up to its own last step only)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    start_state_of, running, advance = program.parts
    going = jax.vmap(running, in_axes=(0, None))

    def chunk(carry: Carry, aux: Any, bounds: Any) -> tuple:
        starts = jax.vmap(start_state_of)(carry)
        live = going(carry, bounds)  # the runs that take steps in this chunk

        def stepped(c: Carry, counts: np.ndarray) -> tuple:
            one = lambda c, s: advance(c._replace(counts=counts), s, aux, bounds, (), ())[:2]  # noqa: E731
            return jax.vmap(one)(c, starts)

        def record(rows: Any, row: Any, reached: Any) -> Any:
            slot = jnp.where(reached > 0, (reached - 1) // bounds[2] + 1, 0) - bounds[1]
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
            moved, row = stepped(c, GOING)
            reached = reached + 1
            c, stopped = counted(moved, c.counts, reached)
            return c, record(rows, row, reached), reached, stopped

        size = carry.settings.shape[0]
        rows = jnp.zeros((size, CHUNK + 1, program.width), program.row_dtype)
        loop = (carry, rows, bounds[3], jnp.array(False))
        loop = lax.cond(bounds[3] < 0, first, lambda loop: loop, loop)
        more = lambda loop: (loop[2] < bounds[0]) & ~loop[3]  # noqa: E731
        moved, rows, _, _ = lax.while_loop(more, body, loop)
        kept = jax.tree_util.tree_map(
            lambda new, old: jnp.where(live.reshape((-1,) + (1,) * (old.ndim - 1)), new, old),
            moved,
            carry,
        )
        return kept, rows

    return chunk

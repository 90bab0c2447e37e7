"""The compiled optimisation loop: one ``jax.jit`` program per problem and optimizer.

``chunk(carry, aux, bounds)`` is a ``lax.while_loop`` of at most
:func:`~gradmagic.minimize.record.chunk_rows` steps that stops at a step bound passed in by
Python, when the gradient norm falls below tol, or when a step goes non-finite, so one
compiled program serves every ``steps`` value; the driver (:mod:`gradmagic.minimize.driver`)
calls it chunk after chunk.

* **One program per problem, cheap to compile.**  A run's first chunk starts from a *fresh*
  carry: its first iteration creates the optimiser state and evaluates the objective at the
  start, so there is no separate ``init`` program to compile.  The loop's scalars travel as
  small packed vectors and small problems compile with :data:`COMPILER_OPTIONS`: compiling
  costs about what a hand-written ``jit`` + ``lax.scan`` loop does.
* **Dynamic hyperparameters.**  The learning rate and momentum enter the program as traced
  values (the optimiser state is created inside the program), so a new lr or momentum
  reuses the same executable.  So do the starting values, the step bound and tol's value,
  the bounds' values (:mod:`~gradmagic.minimize.bounds`) and the schedule's shape and length
  (:mod:`~gradmagic.minimize.schedules`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np
import optax
from jax import lax

from gradmagic.minimize import minibatch
from gradmagic.minimize.flat_layout import FlatLayout, layout_for
from gradmagic.minimize.lax_helpers import (
    all_finite,
    cast_like,
    free_gradient,
    global_norm,
    host_zeros,
    line_search_trials,
    project,
    record_slot,
    scalar,
    vector,
)
from gradmagic.minimize.minibatch import Batching
from gradmagic.minimize.optimizers import OptimizerSpec, make_optimizer
from gradmagic.minimize.record import CHUNK, chunk_rows
from gradmagic.minimize.schedules import multiplier, with_learning_rate

# XLA:CPU compiles these loops' many small kernels about twice as fast with its classic LLVM
# emitters as with its newer MLIR fusion emitters, but the classic code for some elementwise
# functions (tanh) runs several times slower.  So only programs whose arrays are all small,
# where compiling is most of the cost, get these options.  An XLA that no longer knows an
# option rejects it; programs then compile without (see Jit).
COMPILER_OPTIONS: dict[str, Any] = {"xla_cpu_use_fusion_emitters": False}
# COMPILER_OPTIONS when no array in the objective is larger: L-BFGS on Rosenbrock with
# n = 1000 (arrays of 1000) compiles 2-4x faster with them (3.2-5.2 s against 9.2-13.0 s,
# measured in one process on a loaded 2-core machine) and re-runs as fast.
FAST_COMPILE_LIMIT = 1024
FTOL = 2.220446049250313e-09  # default L-BFGS stops when (f_k - f_k+1) / max(|f|, 1) <= this


class Carry(NamedTuple):
    """Loop state kept on the device between steps and between chunks.

    The loop's scalars are packed into small vectors: XLA:CPU then emits one kernel for each
    vector instead of one per scalar, and kernels are most of what compiling costs here.
    A run's first chunk receives a *fresh* carry built on the host (see
    :meth:`ChunkProgram.fresh_carry`): the starting values, the settings, ``step = -1`` and zeros
    of the right shapes for the rest.  Its first iteration creates the optimiser state and
    evaluates the objective at the start without stepping (``step`` becomes 0), so one
    compiled program serves the whole run.
    """

    params: tuple
    opt_state: Any
    grad: tuple  # gradient at `params`
    values: jax.Array  # [loss, grad norm, loss at the start, grad norm at the start]
    counts: jax.Array  # [steps taken (-1: fresh), step that went non-finite (-1: none), done
    #                    (1: gradient norm below tol, 2: objective stalled), evaluations]
    settings: jax.Array  # [tol, lr, momentum, schedule, steps, ftol]: never changed by it
    box: tuple = ()  # (lower, upper), each shaped like `params`; () when unbounded
    batches: tuple = ()  # (epoch's permutation, seed, latest epoch loss); () without data


class Jit:
    """``jax.jit(fn, compiler_options=options)``, or without the options where XLA rejects them."""

    options_work = True  # cleared (for the process) by the first rejection

    def __init__(self, fn: Callable, options: dict[str, Any] | None = None) -> None:
        self.fn = fn
        self.options = options if options and Jit.options_work else None
        self.jitted = jax.jit(fn, compiler_options=self.options)

    def __call__(self, *args: Any) -> Any:
        try:
            return self.jitted(*args)
        except jax.errors.JaxRuntimeError as exc:
            if self.options is None or "compile option" not in str(exc):
                raise
            Jit.options_work = False
            self.options, self.jitted = None, jax.jit(self.fn)
            return self.jitted(*args)


class ChunkProgram:
    """The compiled chunk program for one cache key, plus the measured time per step.

    ``blank`` is a fresh carry of zeros; ``loss_dtype`` turns recorded losses back into the
    objective's dtype.
    """

    def __init__(
        self, chunk: Callable, blank: Carry, record_path: bool, loss_dtype: np.dtype
    ) -> None:
        self.chunk = chunk
        self.blank = blank
        self.record_path = record_path
        self.loss_dtype = loss_dtype
        self.seconds_per_step: float | None = None
        self.chunk_calls = 0
        self.scheduled = False  # rows hold each step's learning rate in column 1
        self.width = 1  # numbers per recorded row
        self.rows = CHUNK  # rows per chunk's record: its most steps (record.chunk_rows)
        self.row_dtype = np.dtype(np.float32)
        self.parts: tuple = ()  # (start_state_of, running, advance): see minimize.batch
        self.layout: FlatLayout | None = None  # the carry's variables as one vector

    def variables(self, carried: tuple, runs: int = 0) -> tuple:
        """The variables (or gradient) as the user shaped them, of a carry's."""
        return carried if self.layout is None else self.layout.split(carried, runs)

    def carried(self, variables: tuple, runs: int = 0) -> tuple:
        """What a carry holds for ``variables`` (shaped as the user's)."""
        return variables if self.layout is None else self.layout.join(variables, runs)

    def fresh_carry(
        self,
        params: tuple,
        lr: float,
        momentum: float,
        tol: float,
        schedule: int = 0,
        steps: int = 1,
        box: tuple = (),
        ftol: float = -math.inf,
        seed: int = 0,
    ) -> Carry:
        """The first chunk's carry: a run's starting values, settings and box (``ftol``:
        line searches stop when the objective stalls; ``-inf`` never) and, with data, the
        minibatch ``seed``."""
        settings = np.array([tol, lr, momentum, schedule, steps, ftol], self.blank.settings.dtype)
        batches = self.blank.batches
        if batches:
            batches = (batches[0], np.uint32(seed), batches[2])
        params, box = self.carried(params), tuple(map(self.carried, box))
        return self.blank._replace(params=params, settings=settings, box=box, batches=batches)


def build_program(
    objective: Callable,
    spec: OptimizerSpec,
    has_tol: bool,
    record_path: bool,
    params: tuple,
    loss_dtype: Any,
    fast_compile: bool = False,
    bounded: bool = False,
    scheduled: bool = False,
    batching: Batching | None = None,
) -> ChunkProgram:
    """Create (not yet compile) the chunk program for one objective/optimizer pair.

    ``chunk(carry, aux, bounds)`` runs a ``lax.while_loop`` that steps until ``bounds[0]``
    steps are done in all, the gradient norm is below tol or a step goes non-finite (Python
    keeps ``bounds[0]`` within ``program.rows * bounds[2]`` steps of the start).  Given a fresh
    carry, its first iteration creates the optimiser state (lr and momentum traced, from the
    carry) and evaluates the objective at the start, without stepping.  Rows
    ``[loss, *variables raveled]`` (just ``[loss]`` without ``record_path``) are recorded
    for every ``bounds[2]``-th step only (the stride, a traced value: a long run keeps a
    bounded record and any ``steps`` reuses the program) into a ``(rows + 1, width)``
    buffer: step ``k`` writes row ``ceil(k / stride) - bounds[1]`` (see :func:`~gradmagic.minimize.lax_helpers.record_slot`), so
    row ``m - bounds[1]`` ends up holding step ``m * stride``, and the row after the last
    full one holds the chunk's last step when that is not a multiple.  It returns
    ``(carry, buffer)``.  ``params`` and ``loss_dtype`` only give shapes and dtypes;
    ``fast_compile`` compiles with :data:`COMPILER_OPTIONS` and checks every step.
    ``bounded`` projects every step onto the carry's box; ``scheduled`` sets each step's
    learning rate from the carry's schedule, recorded in the rows' 2nd column.  With
    ``batching`` the program is ``chunk(carry, aux, bounds, data)``: the objective sees
    ``aux`` updated with the step's minibatch of ``data`` (see
    :mod:`~gradmagic.minimize.minibatch`), and each epoch's end evaluates it on all of
    ``data``; those epoch losses are recorded into a third output, ``(rows + 1,)``, every
    ``bounds[4]``-th epoch as the rows are (epoch ``e`` writes entry
    ``ceil(e / bounds[4]) - 1 - bounds[3]``).  ``counts[3]`` counts objective evaluations:
    the start, one per step, and L-BFGS's line-search trials.  The loop's own arithmetic
    is written with ``lax`` (``jax.numpy`` costs more to trace).
    """
    placeholder = make_optimizer(spec, 0.0, spec.default_momentum or 0.0)
    dtype = np.result_type(np.float32, loss_dtype, *(p.dtype for p in params))  # values, rows
    zero = np.int32(0)
    # Small programs check the gradient norm and every variable's finiteness each step:
    # free there, while each check after the loop is more kernels to compile (a scalar's
    # loop compiled in 1.4x a hand-written one's time, 1.1x so).  Large ones check once per
    # chunk: per step, a check per leaf costs a kernel.  (Selects instead of the cond below
    # compile no faster and round differently from the batched loop, which must not.)
    every_step = fast_compile
    layout = layout_for(spec, params)
    if layout is not None:  # the loop steps one vector (see minimize.flat_layout)
        objective = layout.on_vector(objective)
        params = layout.template

    def value_and_grad(params: tuple, state: Any, aux: Any) -> tuple[jax.Array, tuple]:
        def fn(p: tuple) -> jax.Array:
            return objective(p, aux)

        if spec.line_search and not bounded:  # the line search evaluated the accepted point
            return optax.value_and_grad_from_state(fn)(params, state=state)
        return jax.value_and_grad(fn)(params)

    def new_state(params: tuple, hyper: jax.Array) -> Any:
        return make_optimizer(spec, scalar(hyper, 0), scalar(hyper, 1)).init(params)

    def start_state_of(carry: Carry) -> Any:
        hyper = lax.slice_in_dim(carry.settings, 1, 3)
        return cast_like(new_state(carry.params, hyper), carry.opt_state)

    def running(c: Carry, bounds: jax.Array) -> jax.Array:
        step, diverged, done = (scalar(c.counts, i) for i in range(3))
        going = lax.bitwise_and(lax.lt(step, scalar(bounds, 0)), lax.eq(done, zero))
        return lax.bitwise_and(going, lax.lt(diverged, zero))

    def advance(c: Carry, start_state: Any, aux: Any, bounds: Any, data: Any, epochs: Any) -> tuple:
        """One iteration: the next carry, its record row and the epoch losses (shared by
        the single-run chunk below and the batched loop of :mod:`~gradmagic.minimize.batch`)."""
        full = {**aux, **data} if batching else aux  # the objective on all the data
        step, diverged, done, evals = (scalar(c.counts, i) for i in range(4))
        fresh = lax.lt(step, zero)
        # The fresh iteration's update is discarded; an infinite value makes a line search
        # accept its first trial there instead of searching on the placeholder state.
        value = lax.select(fresh, np.array(np.inf, dtype), scalar(c.values, 0))
        extra: dict[str, Any] = {"value": value.astype(loss_dtype)}
        grad = free_gradient(c.grad, c.params, c.box) if bounded else c.grad
        if spec.line_search:  # with bounds, it searches along the projected path
            box = c.box if bounded else None
            extra.update(grad=grad, value_fn=lambda p: objective(project(p, box), full))
        state = c.opt_state
        if layout is not None:  # the start's state until a step was taken (see below)
            state = _picked(lax.gt(step, zero), state, start_state)
            if hasattr(state, "hyperparams"):  # fixed for the run: the start's, as a
                # select per scalar would be one more kernel every step
                state = state._replace(hyperparams=start_state.hyperparams)
        if scheduled:
            lr = lax.mul(
                scalar(c.settings, 1),
                multiplier(scalar(c.settings, 3), step, scalar(c.settings, 4), dtype),
            )
            state = with_learning_rate(state, lr)
        updates, state = placeholder.update(grad, state, c.params, **extra)
        if layout is not None:  # a fresh carry's step adds -0.0: the start, to the bit
            updates = _picked(fresh, tuple(lax.full_like(u, -0.0) for u in updates), updates)
        moved = optax.apply_updates(c.params, updates)
        if bounded:
            moved = project(moved, c.box)
        params, state = cast_like(moved, c.params), cast_like(state, c.opt_state)
        # A fresh carry evaluates the start.  One cond for all leaves: a select per leaf
        # of the carry's output costs a kernel and a copy each, every step.  On one vector
        # the fresh step's update is zero and its state gives way to the start's at the
        # next step: selects on the update's inputs, fused into its kernels (elementwise
        # optimizers: zero gradient, start state, a finite update).
        if layout is None:
            kept = (c.params, start_state)
            params, state = lax.cond(fresh, lambda: kept, lambda: (params, state))
        batches, inputs = c.batches, aux
        if batching:  # the objective at the new params on the next step's minibatch
            index = lax.add(step, np.int32(1))
            record_at = (scalar(bounds, 4), scalar(bounds, 3))  # epochs' stride, first entry
            if not batching.full:  # an epoch's first batch: its order, the last one's loss
                batches, epochs = minibatch.next_epoch(
                    batching, batches, epochs, index,
                    lambda: lax.convert_element_type(objective(params, full), dtype), *record_at,
                )  # fmt: skip
            inputs = {**aux, **minibatch.select_batch(batching, data, batches[0], index)}
        loss, grad = value_and_grad(params, state, inputs)
        grad = cast_like(grad, c.grad)
        loss = lax.convert_element_type(loss, dtype)
        if batching and batching.full:  # every step ends an epoch: its objective is the loss
            batches = (*batches[:2], loss)
            epochs = minibatch.record_epoch(batching, epochs, loss, index, *record_at)
        free = free_gradient(grad, params, c.box) if bounded else grad
        if has_tol or every_step:
            now = vector(loss, global_norm(free, dtype))
            start = lax.select(fresh, now, lax.slice_in_dim(c.values, 2, 4))
        else:  # the norm is needed at the start and after the loop only (see below)
            now = vector(loss, scalar(c.values, 1))
            start = lax.cond(
                fresh,
                lambda: vector(loss, global_norm(free, dtype)),
                lambda: lax.slice_in_dim(c.values, 2, 4),
            )
        trials = [np.int32(bounded or not spec.line_search)]  # evaluations this step
        if spec.line_search:
            trials += [lax.convert_element_type(n, np.int32) for n in line_search_trials(state)]
        evals = lax.add(evals, lax.select(fresh, np.int32(1), sum(trials[1:], trials[0])))
        step = lax.add(step, np.int32(1))
        # The objective is evaluated at the new values: a non-finite variable almost
        # always makes it non-finite too.  Unless every_step, the variables themselves
        # are checked once per chunk, after the loop.
        finite = all_finite(loss, params) if every_step else lax.is_finite(loss)
        diverged = lax.select(finite, diverged, step)
        if has_tol:
            done = lax.convert_element_type(lax.lt(scalar(now, 1), scalar(c.settings, 0)), np.int32)
        if spec.line_search and not bounded:  # done = 2: stalled (SciPy's ftol); with
            # bounds a projected search can stall short of the optimum: gtol only
            before = scalar(c.values, 0)
            scale = lax.max(lax.max(lax.abs(before), lax.abs(loss)), np.array(1, dtype))
            stalled = lax.le(lax.sub(before, loss), lax.mul(scalar(c.settings, 5), scale))
            stalled = lax.bitwise_and(stalled, lax.bitwise_not(fresh))
            done = lax.select(lax.bitwise_and(stalled, lax.eq(done, zero)), np.int32(2), done)
        row = [lax.broadcast(loss, (1,))]
        if scheduled:
            row.append(lax.broadcast(lax.convert_element_type(lr, dtype), (1,)))
        if record_path:
            row += [lax.reshape(lax.convert_element_type(p, dtype), (p.size,)) for p in params]
        counts = vector(step, diverged, done, evals)
        values = lax.concatenate([now, start], 0)
        carry = Carry(params, state, grad, values, counts, c.settings, c.box, batches)
        return carry, lax.concatenate(row, 0), epochs

    width = 1 + scheduled + (sum(math.prod(p.shape) for p in params) if record_path else 0)
    longest = chunk_rows(width)

    def chunk(carry: Carry, aux: Any, bounds: jax.Array, data: Any = ()) -> tuple:
        start_state = start_state_of(carry)

        def body(loop: tuple) -> tuple:
            c, row, epochs = advance(loop[0], start_state, aux, bounds, data, loop[2])
            slot = lax.sub(record_slot(scalar(c.counts, 0), scalar(bounds, 2)), scalar(bounds, 1))
            rows = lax.dynamic_update_slice(
                loop[1], lax.broadcast(row, (1,)), (slot, zero), allow_negative_indices=False
            )
            return c, rows, epochs

        rows = lax.full((longest + 1, width), 0, dtype)
        epochs = lax.full((longest + 1 if batching else 0,), 0, dtype)
        carry, rows, epochs = lax.while_loop(
            lambda loop: running(loop[0], bounds), body, (carry, rows, epochs)
        )
        if not every_step:  # a variable went non-finite under a finite objective
            step, diverged = scalar(carry.counts, 0), scalar(carry.counts, 1)
            hidden = lax.bitwise_and(
                lax.lt(diverged, zero),
                lax.bitwise_not(all_finite(scalar(carry.values, 0), carry.params)),
            )
            marked = lax.broadcast(lax.select(hidden, step, diverged), (1,))
            counts = lax.dynamic_update_slice(carry.counts, marked, (np.int32(1),))
            carry = carry._replace(counts=counts)
        if not (has_tol or every_step):  # the gradient norm at the chunk's end, computed once
            free = free_gradient(carry.grad, carry.params, carry.box) if bounded else carry.grad
            values = lax.concatenate(
                [
                    lax.slice_in_dim(carry.values, 0, 1),
                    lax.broadcast(global_norm(free, dtype), (1,)),
                    lax.slice_in_dim(carry.values, 2, 4),
                ],
                0,
            )
            carry = carry._replace(values=values)
        return carry, rows, epochs

    state = jax.eval_shape(new_state, params, jax.ShapeDtypeStruct((2,), dtype))
    zeros = tuple(np.zeros(p.shape, p.dtype) for p in params)
    blank = Carry(
        params=zeros,
        opt_state=jax.tree_util.tree_map(host_zeros, state),
        grad=zeros,
        values=np.zeros(4, dtype),
        counts=np.array([-1, -1, 0, 0], np.int32),  # fresh, not diverged, not done, 0 evals
        settings=np.zeros(6, dtype),
        box=(zeros, zeros) if bounded else (),
        batches=minibatch.fresh_state(batching, 0, dtype) if batching else (),
    )
    options = COMPILER_OPTIONS if fast_compile else None
    program = ChunkProgram(Jit(chunk, options), blank, record_path, np.dtype(loss_dtype))
    program.scheduled = scheduled
    program.width = width
    program.rows = longest
    program.row_dtype = np.dtype(dtype)
    program.parts = (start_state_of, running, advance)  # see minimize.batch
    program.layout = layout
    return program


def _picked(which: jax.Array, these: Any, others: Any) -> Any:
    """Leaf by leaf, ``these`` where the scalar ``which`` is true, else ``others``."""
    return jax.tree_util.tree_map(
        lambda a, b: lax.select(lax.broadcast(which, np.shape(a)), a, b), these, others
    )

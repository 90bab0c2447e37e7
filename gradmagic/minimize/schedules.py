"""Learning-rate schedules (``--schedule``): optax's, with ``--lr`` as the peak, all traced.

Inside the compiled loop the learning rate of step ``k`` (counted from 0) of an ``N``-step
run is ``lr * multiplier(kind, k, N)``: the schedule's *shape* (a :data:`SCHEDULES` index)
and ``N`` are traced values, so a new lr, schedule or step count reuses the program.  optax's
schedule builders take their lengths as Python ints, so each shape is built once over a fixed
:data:`HORIZON` and evaluated at ``k * HORIZON / N``.  The loop then sets the
``learning_rate`` hyperparameter that ``optax.inject_hyperparams`` keeps in the state.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import optax
from jax import lax

from gradmagic.errors import GradmagicError, did_you_mean

SCHEDULES = ("constant", "cosine", "linear", "exponential", "warmup_cosine")
HORIZON = 1000  # the fixed length the optax schedules are built over
EXPONENTIAL_END = 0.01  # the exponential schedule decays to 1% of the peak over the run
WARMUP = 0.1  # warmup_cosine: the first 10% of the steps warm up linearly from 0

DESCRIPTIONS = {
    "constant": "constant",
    "cosine": "cosine decay to 0",
    "linear": "linear decay to 0",
    "exponential": f"exponential decay to {EXPONENTIAL_END:g}×",
    "warmup_cosine": f"linear warmup over {WARMUP:.0%} of the steps, then cosine decay to 0",
}


def schedule_index(name: str | None) -> int | None:
    """The index of a schedule in :data:`SCHEDULES` (None for no schedule), or explain."""
    if name is None:
        return None
    key = str(name).strip().lower().replace("-", "_")
    if key not in SCHEDULES:
        raise GradmagicError(
            f"Unknown schedule {name!r}.{did_you_mean(key, list(SCHEDULES))} "
            f"Schedules: {', '.join(SCHEDULES)} (e.g. --schedule cosine)."
        )
    return SCHEDULES.index(key)


def _shapes() -> list:
    return [
        optax.constant_schedule(1.0),
        optax.cosine_decay_schedule(1.0, HORIZON),
        optax.linear_schedule(1.0, 0.0, HORIZON),
        optax.exponential_decay(1.0, HORIZON, EXPONENTIAL_END),
        optax.warmup_cosine_decay_schedule(0.0, 1.0, int(WARMUP * HORIZON), HORIZON),
    ]


def multiplier(kind: jax.Array, step: jax.Array, total: jax.Array, dtype: Any) -> jax.Array:
    """The traced factor on the peak lr at ``step`` (from 0) of ``total``; ``kind`` indexes
    :data:`SCHEDULES` (all traced: one compiled program serves every schedule)."""
    where = lax.div(lax.mul(lax.convert_element_type(step, dtype), np.array(HORIZON, dtype)), total)
    branches = [
        lambda t, shape=shape: lax.convert_element_type(shape(t), dtype) for shape in _shapes()
    ]
    return lax.switch(lax.convert_element_type(kind, np.int32), branches, where)


def with_learning_rate(state: Any, lr: jax.Array) -> Any:
    """``state`` (an ``inject_hyperparams`` state) with its ``learning_rate`` set to ``lr``."""
    hyper = dict(state.hyperparams)
    hyper["learning_rate"] = lax.convert_element_type(lr, hyper["learning_rate"].dtype)
    return state._replace(hyperparams=hyper)


def learning_rates(name: str, lr: float, steps: int) -> np.ndarray:
    """The learning rate of every step of a run, computed on the host (for docs and tests)."""
    kind = np.int32(SCHEDULES.index(name))
    ks = np.arange(steps)
    factors = jax.vmap(lambda k: multiplier(kind, k, np.float64(steps), np.float32))(ks)
    return lr * np.asarray(factors, dtype=float)

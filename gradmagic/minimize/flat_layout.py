"""A run's variables as one vector inside the compiled loop, where the optimizer allows it.

Why: XLA:CPU runs the kernels of a loop body concurrently when they do not depend on each
other.  An optimizer's update of k variables is about 3k tiny independent kernels at the
top of every step (Adam: each variable's two moments and its new value), which the
executor hands out to other threads; on a small model the hand-offs cost more than the
kernels do.  Measured on the tutorial's MLP (six variables, 2 cores): steps 15-20 % slower
than the same loop with the update at the end of the body, and no difference at all on
one core.  On one vector the update is a few kernels, and the loop runs at the speed of
a hand-written ``lax.scan``.

Only for optimizers whose update is elementwise (``OptimizerSpec.elementwise``: each
number's update depends on that number alone) and variables of one dtype, so the loop
computes the same arithmetic in one place instead of several; XLA fuses it differently,
so results may differ in the last bit of float32.  And only for variables of more than
:data:`SMALL_NUMBERS` numbers in all: below that every buffer of the update is small,
XLA:CPU runs such bodies one kernel after another anyway (its ``ThunkExecutor`` does when
all buffers hold at most 512 bytes), and toy problems keep their results to the bit.

One variable of more than :data:`SMALL_NUMBERS` numbers gets a layout too (its vector is
the variable raveled): the fresh step is then selects fused into the update, instead of
a ``lax.cond`` whose output copies the variable and its optimiser state every step (on a
variable of 10⁶ numbers, a 10-15 % slower step).

The carry holds the vector (and optimiser state shaped like it); :meth:`FlatLayout.split`
and :meth:`FlatLayout.join` convert at the loop's edges, on the host or in a program, with
or without a leading run axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax import lax

from gradmagic.minimize.optimizers import OptimizerSpec

SMALL_NUMBERS = 128  # 512 bytes of float32; at most this many: an array per variable


class FlatLayout:
    """Where each variable sits in the vector: shapes, sizes and offsets, and the dtype."""

    def __init__(self, like: tuple) -> None:
        self.shapes = tuple(tuple(np.shape(p)) for p in like)
        self.sizes = tuple(math.prod(s) for s in self.shapes)
        self.offsets = tuple(int(o) for o in np.cumsum((0, *self.sizes[:-1])))
        self.dtype = np.dtype(like[0].dtype)

    @property
    def template(self) -> tuple:
        """The loop's variables: one vector of zeros (shapes and dtype only)."""
        return (np.zeros(sum(self.sizes), self.dtype),)

    def on_vector(self, objective: Callable) -> Callable:
        """``objective(variables, aux)`` as a function of ``((vector,), aux)``."""

        def of_vector(joined: tuple, aux: Any) -> Any:
            return objective(self.split(joined), aux)

        return of_vector

    def join(self, variables: tuple, runs: int = 0) -> tuple:
        """``(vector,)`` of ``variables`` (``runs``: leading run axes kept in front)."""
        arrays = list(variables)
        if not any(isinstance(a, jax.core.Tracer) for a in arrays):  # host values
            lead = np.shape(arrays[0])[:runs]
            parts = [np.reshape(np.asarray(a, self.dtype), (*lead, -1)) for a in arrays]
            return (np.concatenate(parts, axis=runs),)
        lead = tuple(arrays[0].shape[:runs])
        parts = [lax.reshape(a, (*lead, size)) for a, size in zip(arrays, self.sizes, strict=True)]
        return (lax.concatenate(parts, runs),)

    def split(self, joined: tuple, runs: int = 0) -> tuple:
        """The variables, shaped as given, of ``(vector,)`` (``runs``: leading run axes)."""
        (vector,) = joined
        if isinstance(vector, jax.core.Tracer):  # lax.split: its transpose is one concatenate
            lead = tuple(vector.shape[:runs])
            parts = lax.split(vector, self.sizes, axis=runs)
            return tuple(
                lax.reshape(p, (*lead, *s)) for p, s in zip(parts, self.shapes, strict=True)
            )
        vector = np.asarray(vector)
        lead = vector.shape[:runs]
        return tuple(
            np.reshape(vector[..., offset : offset + size], (*lead, *shape))
            for shape, size, offset in zip(self.shapes, self.sizes, self.offsets, strict=True)
        )


def layout_for(spec: OptimizerSpec, params: tuple) -> FlatLayout | None:
    """A :class:`FlatLayout` where it helps: variables of one dtype, more than
    :data:`SMALL_NUMBERS` numbers in all, and an optimizer whose update is elementwise.
    None otherwise."""
    if not spec.elementwise:
        return None
    if sum(math.prod(np.shape(p)) for p in params) <= SMALL_NUMBERS:
        return None
    if len({np.dtype(p.dtype) for p in params}) != 1:
        return None
    return FlatLayout(params)

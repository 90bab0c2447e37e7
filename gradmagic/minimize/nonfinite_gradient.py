"""The NaN-gradient trap: a finite objective whose gradient is not finite.

``jnp.where(x > 0, jnp.sqrt(x), 0.0)`` is 0 wherever ``x <= 0``, yet reverse mode multiplies
the derivative of the branch not taken (NaN for a negative ``x``, ∞ at 0) by 0, and
0 × NaN is NaN.  The next step then makes the variables NaN and the run stops exactly as a
divergence would, but a smaller learning rate cannot help: the step is NaN whatever its
length.  The driver hands :func:`found_at` the last finite point of a stopped run (the
start, or the step before the non-finite one, replayed) and :class:`NonFiniteGradient`
says what happened there and what fixes it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradmagic import render


@dataclass(frozen=True)
class NonFiniteGradient:
    """At ``step`` (0: the start) the objective was ``loss`` (finite) but the gradient was
    not finite: NaN somewhere when ``nan``, else only ±∞.  ``point`` describes the values
    there (``x = -2``), empty when a variable is an array."""

    step: int
    loss: float
    nan: bool
    point: str = ""

    @property
    def where(self) -> str:
        place = "the start" if self.step == 0 else f"step {self.step}"
        return f"{place} ({self.point})" if self.point else place

    def message(self, stopped_at: int) -> str:
        """Why the run stopped at ``stopped_at`` and the fix, instead of learning-rate advice."""
        kind = "NaN" if self.nan else "infinite"
        head = (
            f"Stopped at step {stopped_at}: at {self.where} the objective is finite "
            f"({render.number(self.loss)}) but its gradient is {kind}, so the next step made "
            "the variables non-finite; they keep their starting values. This is not a "
            "divergence: a smaller learning rate will not help."
        )
        if not self.nan:
            return head + (
                " The objective has an infinite slope there (as √x has at 0): start away from "
                "that point, or keep the argument off it (e.g. jnp.sqrt(x + 1e-6))."
            )
        return head + (
            " The usual cause is jnp.where(cond, f(x), other) with f undefined where cond is "
            "false (sqrt or log of a number ≤ 0): jnp.where computes both branches, and the "
            "gradient multiplies the unused branch's NaN derivative by 0, which is still NaN. "
            "Fix: keep bad inputs away from f with a second jnp.where on its input, e.g. "
            "jnp.where(x > 0, jnp.sqrt(jnp.where(x > 0, x, 1.0)), 0.0)."
        )


def found_at(
    step: int, loss: float, point: Sequence[Any], grad: Any, names: Sequence[str]
) -> NonFiniteGradient | None:
    """The trap at ``point`` (the values after ``step`` steps, objective ``loss``, gradient
    ``grad``), or None when the objective is not finite there or the gradient is."""
    import jax

    leaves = [np.asarray(g) for g in jax.tree_util.tree_leaves(grad)]
    if not math.isfinite(float(loss)) or all(np.isfinite(g).all() for g in leaves):
        return None
    values = [np.asarray(v) for v in point]
    described = ""
    if all(v.shape == () for v in values):
        described = ", ".join(
            f"{name} = {render.number(v)}" for name, v in zip(names, values, strict=False)
        )
    nan = any(np.isnan(g).any() for g in leaves)
    return NonFiniteGradient(step, float(loss), nan, described)

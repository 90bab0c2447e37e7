"""Step-size advice: what the curvature says about a learning rate, per optimizer.

One home for every learning-rate rule gradmagic states, so the divergence message of a
result, the panel's stability marker and its "best step" button can never disagree.  On a
quadratic with Hessian eigenvalues λmin ≤ λmax (and near a smooth minimum, approximately):

* plain SGD is stable for lr < 2/λmax and fastest at lr = 2/(λmin + λmax);
* heavy-ball momentum β (optax ``sgd(momentum=β)``) is stable for lr < 2(1+β)/λmax, and
  fastest with lr = 4/(√λmax + √λmin)², β = ((√λmax − √λmin)/(√λmax + √λmin))²;
* Nesterov momentum is stable for lr < 2(1+β)/((1+2β)λmax); lr = 1/λmax with
  β = (√κ − 1)/(√κ + 1), κ = λmax/λmin, is its classic tuning;
* adaptive methods (Adam, RMSprop, Adagrad…) divide each step by a running gradient
  scale, so no bound follows from the curvature: the advice is a smaller learning rate;
* L-BFGS ignores the learning rate (its line search picks each step), so no learning rate
  is ever suggested for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gradmagic import render
from gradmagic.minimize.optimizers import ADAPTIVE, OptimizerSpec

if TYPE_CHECKING:  # a run that never diverges never needs the curvature module
    from gradmagic.minimize.curvature import Curvature

# Significant digits of every learning rate gradmagic shows (the panel also runs with the
# rate rounded to them, so the number shown is the number used).
LR_DIGITS = 4
# Relative distance from the bound within which a learning rate counts as *on* it: half a
# unit in the last shown digit, so a rate that reads as the bound is treated as the bound.
EDGE = 5e-4


def lr_text(lr: float) -> str:
    """A learning rate as every gradmagic text shows it (:data:`LR_DIGITS` digits)."""
    return render.number(lr, LR_DIGITS)


def rounded(value: float) -> float:
    """``value`` at :data:`LR_DIGITS` significant digits: the number shown is the one used."""
    return float(f"{float(value):.{LR_DIGITS}g}")


@dataclass(frozen=True)
class StepSizeAdvice:
    """The learning-rate rules of one optimizer (with its momentum) at one curvature."""

    curvature: Curvature
    optimizer: str
    momentum: float | None = None
    uses_lr: bool = True

    @classmethod
    def for_optimizer(
        cls, curvature: Curvature, spec: OptimizerSpec, momentum: float | None
    ) -> StepSizeAdvice:
        return cls(curvature, spec.name, momentum, spec.uses_lr)

    # ------------------------------------------------------------------ the rules
    @property
    def formula(self) -> str | None:
        """The bound's formula in words, or None when the optimizer has no such bound."""
        return {
            "sgd": "2/λmax",
            "momentum": "2(1+β)/λmax",
            "nesterov": "2(1+β)/((1+2β)λmax)",
        }.get(self.optimizer)

    @property
    def bound(self) -> float | None:
        """The largest stable learning rate, or None (no rule, or no positive curvature)."""
        hi = self.curvature.lambda_max
        if self.formula is None or not self.curvature.finite or hi <= 0:
            return None
        b = self.momentum or 0.0
        factor = {"sgd": 1.0, "momentum": 1.0 + b, "nesterov": (1.0 + b) / (1.0 + 2.0 * b)}
        return 2.0 * factor[self.optimizer] / hi

    @property
    def best(self) -> tuple[float, float | None] | None:
        """``(lr, momentum)`` converging fastest on a quadratic with this curvature (momentum
        None for SGD), or None where there is no such rule or the Hessian is not positive
        definite."""
        lo, hi = self.curvature.lambda_min, self.curvature.lambda_max
        if self.formula is None or not self.curvature.finite or lo <= 0 or hi <= 0:
            return None
        if self.optimizer == "sgd":
            return 2.0 / (lo + hi), None
        root_lo, root_hi = math.sqrt(lo), math.sqrt(hi)
        if self.optimizer == "momentum":
            return 4.0 / (root_hi + root_lo) ** 2, ((root_hi - root_lo) / (root_hi + root_lo)) ** 2
        return 1.0 / hi, (root_hi - root_lo) / (root_hi + root_lo)

    def regime(self, lr: float) -> str:
        """``'stable'``, ``'edge'`` (on the bound: oscillates, never converges),
        ``'unstable'``, or ``'unknown'`` where there is no bound."""
        bound = self.bound
        if bound is None:
            return "unknown"
        if abs(lr - bound) <= EDGE * bound:
            return "edge"
        return "stable" if lr < bound else "unstable"

    # ------------------------------------------------------------------ what users read
    @property
    def name(self) -> str:
        """The optimizer as the advice names it: ``SGD`` or ``momentum (β = 0.9)``."""
        if self.optimizer == "sgd":
            return "SGD"
        if self.momentum is not None and self.formula is not None:
            return f"{self.optimizer} (β = {render.number(self.momentum)})"
        return self.optimizer

    def divergence_advice(self, lr: float, *, slider: bool = False) -> str:
        """What to try after a run diverged at ``lr``: one or two sentences (``slider``:
        for the panel, where the learning rate is a slider, not ``--lr``)."""
        hi = self.curvature.lambda_max
        if not self.uses_lr:
            return (
                f" {self.optimizer} picks every step length by line search (the learning rate "
                "is not used): check that the objective is bounded below and smooth near the "
                "start."
            )
        if self.curvature.finite and hi <= 0:
            return (
                f" The Hessian {self.curvature.where} has λmax = {render.number(hi)} ≤ 0: the "
                "objective curves downward in every direction there and may have no minimum."
            )
        bound = self.bound
        if bound is None:
            why = (
                f" {self.optimizer} divides each step by a running gradient scale, so the "
                "curvature gives no bound;"
                if self.optimizer in ADAPTIVE
                else ""
            )
            # After `why` the advice goes on the same sentence; alone, it starts one.
            tip = (
                f"move the slider below {lr_text(lr / 10)}"
                if slider
                else f"try a smaller learning rate, e.g. --lr {lr_text(lr / 10)}"
            )
            return f"{why} {tip}." if why else f" {tip[0].upper()}{tip[1:]}."
        tip = (
            f"move the slider below {lr_text(bound)}"
            if slider
            else f"try --lr {lr_text(bound / 2)}"
        )
        return (
            f" {self.name} is stable for lr < {self.formula} = {lr_text(bound)} here "
            f"(λmax = {render.number(hi, LR_DIGITS)} of the Hessian {self.curvature.where}); "
            f"{tip}."
        )

    def stability(self, lr: float) -> str:
        """One sentence on ``lr`` against the bound, for the panel."""
        shown = lr_text(lr)
        if not self.uses_lr:
            return f"{self.optimizer} chooses every step length by line search: the learning rate is not used."
        bound = self.bound
        if bound is None:
            if self.formula is not None:
                return f"No positive curvature {self.curvature.where}: no stability bound for {self.name}."
            return (
                f"lr = {shown}: {self.optimizer} rescales its steps, so the curvature gives no "
                "stability bound for it."
            )
        limit = f"{self.formula} = {lr_text(bound)}"
        measured = (
            f" (λmax = {render.number(self.curvature.lambda_max, LR_DIGITS)} "
            f"{self.curvature.where})"
        )
        regime = self.regime(lr)
        if regime == "stable":
            return f"lr = {shown} < {limit}{measured}: stable for {self.name}."
        if regime == "edge":
            return (
                f"lr = {shown} = {limit}{measured}: on the edge, {self.name} oscillates with "
                "constant size and never converges."
            )
        return (
            f"lr = {shown} > {limit}{measured}: {self.name} oscillates with growing steps "
            "and diverges."
        )

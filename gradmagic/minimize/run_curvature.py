"""The curvature a run meets, and a best step checked by running it.

On a quadratic the Hessian is the same everywhere; elsewhere a learning rate stable at the
start can diverge later: ``(x-2)**2 + 0.5*x**4`` has λ = 2 at x = 0 and λ = 8 at its
minimum x = 1, so 2/(λmin+λmax) of the start (0.5) diverges.  :class:`CurvatureMet` measures
the Hessian's extremes at points sampled along a run's path (one vectorised call, see
:func:`~gradmagic.minimize.curvature.curvature_along`) and keeps, per start, the largest
curvature met by SGD trial runs at the best step: the bound then holds along the run, and
its ``where`` says at which point it was measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradmagic import render
from gradmagic.minimize.curvature import ALONG_BATCH, Curvature, curvature_along
from gradmagic.minimize.optimizers import OptimizerSpec, resolve_optimizer
from gradmagic.minimize.step_size import StepSizeAdvice, rounded

TRIALS = 8  # trial runs at most per start (or per best-step search)
GROWTH = 1.5  # λmax is raised by this when a trial diverged without meeting more curvature


class CurvatureMet:
    """Curvature met by runs of one problem: per start (cached) and along any run."""

    def __init__(self, problem: Any) -> None:
        self.problem = problem
        self._by_start: dict[tuple, tuple[Curvature, Any]] = {}

    def _points(self, points: Sequence[tuple]) -> list[Curvature]:
        problem = self.problem
        return curvature_along(
            problem.objective, points, problem.aux(), cache_key=problem.cache_key
        )

    def along(self, run: Any, what: str) -> Curvature:
        """The largest curvature at points sampled on ``run``'s path (its start included),
        up to where the objective first rose above its starting value (a diverging run's
        first overshoot, not the blown-up points after it); ``what`` names the run."""
        path = [np.asarray(p, dtype=float) for p in run.path]
        history = np.asarray(run.history, dtype=float)
        finite = np.isfinite(history) & np.all(
            [np.isfinite(p).reshape(len(p), -1).all(axis=1) for p in path], axis=0
        )
        above = np.nonzero(~finite | (history > history[0]))[0]
        last = len(history) - 1 if above.size == 0 else int(above[0]) - (not finite[above[0]])
        indices = np.unique(np.linspace(0, max(last, 0), ALONG_BATCH).round().astype(int))
        points = [tuple(p[i] for p in path) for i in indices]
        met = self._points(points)
        best = max(range(len(met)), key=lambda k: met[k].lambda_max)
        index = int(indices[best])
        steps = getattr(run, "recorded_steps", None)
        step = index if steps is None else int(steps[index])
        names = self.problem.variables
        place = ", ".join(
            f"{n} = {render.number(v, 4)}"
            for n, v in zip(names, points[best], strict=False)
            if np.shape(v) == ()
        )
        if step == 0:
            where = "at the start"
        elif index == len(history) - 1 and run.diverged_at is None:
            where = f"at the end of {what}" + (f" ({place})" if place else "")
        else:
            where = f"at step {step} of {what}" + (f" ({place})" if place else "")
        lows = [c.lambda_min for c in met if c.lambda_min > 0]
        low = min(lows) if lows else min(c.lambda_min for c in met)
        return Curvature(low, met[best].lambda_max, where)

    def for_start(self, start: Sequence[float], steps: int) -> Curvature:
        """The largest curvature met from ``start``: at the start and along SGD trial runs
        at the best step, rerun with the new curvature until a trial converges without
        meeting more (cached per start and steps)."""
        key = (_start_key(start), steps)
        if key not in self._by_start:
            self._by_start[key] = self._search(tuple(start), steps)
        return self._by_start[key][0]

    def for_run(self, start: Sequence[float], steps: int, run: Any) -> Curvature:
        """The curvature met from ``start`` (cached) and along ``run``, which started there."""
        met = self.for_start(start, steps)
        return met.most_curved(self.along(run, "this run")) if len(run.path) else met

    def trial(self, start: Sequence[float], steps: int) -> Any:
        """The last SGD trial run from ``start`` (None when no best step exists there)."""
        self.for_start(start, steps)
        return self._by_start[(_start_key(start), steps)][1]

    def _search(self, start: tuple, steps: int) -> tuple[Curvature, Any]:
        curvature = self._points([start])[0]
        sgd = resolve_optimizer("sgd")
        run = None
        for _ in range(TRIALS):
            best = StepSizeAdvice.for_optimizer(curvature, sgd, None).best
            if best is None:
                break
            run = self.problem.run(optimizer="sgd", lr=rounded(best[0]), steps=steps, start=start)
            grown = curvature.most_curved(self.along(run, "a trial SGD run at best step"))
            more = grown.lambda_max > curvature.lambda_max * (1 + 1e-3)
            if run.diverged_at is None and not more:
                return self._refined(start, steps, grown, run)
            if not more:
                grown = Curvature(grown.lambda_min, GROWTH * curvature.lambda_max, grown.where)
            curvature = grown
        return curvature, run

    def _refined(self, start: tuple, steps: int, grown: Curvature, run: Any) -> tuple:
        """Drop curvature only met by earlier, overshooting trials when a run at the best
        step of what the converging trial met also converges without meeting more."""
        first = self._points([start])[0]
        refined = first.most_curved(self.along(run, "a trial SGD run at best step"))
        best = StepSizeAdvice.for_optimizer(refined, resolve_optimizer("sgd"), None).best
        if refined.lambda_max >= grown.lambda_max or best is None:
            return grown, run
        again = self.problem.run(optimizer="sgd", lr=rounded(best[0]), steps=steps, start=start)
        met = first.most_curved(self.along(again, "a trial SGD run at best step"))
        if again.diverged_at is None and met.lambda_max <= refined.lambda_max * (1 + 1e-3):
            return met, again
        return grown, run

    def best_step(
        self, spec: OptimizerSpec, momentum: float | None, start: Sequence[float], steps: int
    ) -> tuple[float, float | None] | None:
        """``(lr, momentum)`` of the optimizer's best-step rule at the curvature met from
        ``start``, rounded as shown, and checked by running it: λmax is raised until the run
        does not diverge.  None where the optimizer has no such rule."""
        curvature = self.for_start(start, steps)
        for _ in range(TRIALS):
            best = StepSizeAdvice.for_optimizer(curvature, spec, momentum).best
            if best is None:
                return None
            lr, beta = rounded(best[0]), None if best[1] is None else rounded(best[1])
            run = self.problem.run(
                optimizer=spec.name, lr=lr, steps=steps, momentum=beta, start=tuple(start)
            )
            if run.diverged_at is None:
                return lr, beta
            curvature = Curvature(
                curvature.lambda_min, GROWTH * curvature.lambda_max, curvature.where
            )
        return None


def _start_key(start: Sequence[Any]) -> tuple:
    """A start as a cache key: scalars by value, arrays by their bytes."""
    return tuple(
        float(v) if np.shape(v) == () else (np.shape(v), np.asarray(v).tobytes()) for v in start
    )

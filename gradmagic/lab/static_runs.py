"""The runs a static panel embeds: a learning-rate grid × optimizers, computed up front.

``%minimize ... --widgets --static`` cannot run anything once the page is shown (there may
be no kernel at all), so every setting its slider and menu can reach is run here: for each
optimizer (the chosen one, then sgd, momentum and adam) all :data:`LR_COUNT` learning rates
together, as one vectorised batch (:func:`gradmagic.minimize.batch.run_batch`).

The grid is log-spaced, :data:`PER_DECADE` rates a decade, ending :data:`DECADES_ABOVE`
above the stability bound of plain gradient descent, 2/λmax of the curvature met from the
start (the live panel's, :class:`~gradmagic.minimize.run_curvature.CurvatureMet`), so the
slider crosses from slow through fastest to divergence; without a bound it ends at the top
of the live panel's slider (10).  It is widened (keeping its count) to hold the chosen
``--lr`` and shifted so that ``--lr`` lies on it exactly; every rate is rounded to the
digits shown, so the number read is the number run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradmagic.errors import GradmagicError
from gradmagic.minimize.curvature import Curvature
from gradmagic.minimize.optimizers import resolve_optimizer
from gradmagic.minimize.record import stride_for
from gradmagic.minimize.step_size import StepSizeAdvice, lr_text, rounded

LR_COUNT = 48  # learning rates on the slider
PER_DECADE = 12  # ...12 a decade (so 0.01 on the grid means 0.1 and 0.001 are too)
DECADES_ABOVE = 0.5  # the grid ends this far above the SGD bound (momentum's is up to 2×)
NO_BOUND_TOP = 1.0  # log10 of the grid's top without a bound: the live panel's slider's
MENU = ("sgd", "momentum", "adam")  # offered besides the chosen optimizer
POINTS = 201  # recorded points per run (every step up to 200 steps)
# Plain gradient descent is heavy-ball momentum with β = 0 bit for bit (optax's trace adds
# 0·t to the gradient), so its runs join momentum's batch: one compiled program fewer, and
# compiling is nearly all of a static panel's cold time.
SAME_AS = {"sgd": ("momentum", 0.0)}


def lr_grid(lr: float, bound: float | None, count: int = LR_COUNT) -> np.ndarray:
    """``count`` log-spaced learning rates around ``bound`` (or the live panel's range),
    widened to hold ``lr`` and shifted so that ``lr`` is one of them, each rounded to the
    digits shown."""
    span = (count - 1) / PER_DECADE
    if bound is not None and math.isfinite(bound) and bound > 0:
        high = math.log10(bound) + DECADES_ABOVE
        low = high - span
    else:
        low, high = NO_BOUND_TOP - span, NO_BOUND_TOP
    chosen = math.log10(lr)
    low, high = min(low, chosen), max(high, chosen)
    step = (high - low) / (count - 1)
    shift = chosen - (low + round((chosen - low) / step) * step)
    exponents = low + shift + step * np.arange(count)
    grid = np.array([rounded(10.0**e) for e in exponents])
    grid[int(np.argmin(np.abs(exponents - chosen)))] = rounded(lr)
    return grid


@dataclass(frozen=True)
class OptimizerRuns:
    """One optimizer's runs over the grid: row ``k`` ran at ``lrs[k]``."""

    name: str
    momentum: float | None
    advice: StepSizeAdvice  # the bound marked on the slider, and the stability texts
    lrs: np.ndarray  # (K,)
    final: np.ndarray  # (K,) the last objective (the start's, for a diverged run)
    steps: np.ndarray  # (K,) steps run
    converged: np.ndarray  # (K,) reached --tol
    diverged_at: np.ndarray  # (K,) the step that went non-finite, -1 for none
    history: np.ndarray  # (K, R) the objective at each recorded step (NaN once diverged)
    path: np.ndarray | None  # (K, R, numbers) the variables at each recorded step (few)
    ends: np.ndarray  # (K, numbers) where each run ended (its start, if it diverged)
    recorded_steps: np.ndarray  # (R,) shared by all runs (one that stopped early holds)
    requested_steps: int


def held(series: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """A batch's series (run, recorded point, ...) on the full record ``recorded``: a batch
    whose runs all stopped early (converged, diverged) recorded fewer points, and each run
    holds its last value from then on, so every optimizer shares one step axis."""
    missing = len(recorded) - series.shape[1]
    if missing <= 0:
        return series.astype(float)
    tail = np.repeat(series[:, -1:], missing, axis=1)
    return np.concatenate([series, tail], axis=1).astype(float)


def menu(chosen: str) -> list[str]:
    """The optimizers in the menu: the chosen one first, then :data:`MENU`'s others."""
    name = resolve_optimizer(chosen).name
    return [name] + [other for other in MENU if other != name]


def check_static(optimizer: str) -> None:
    """A static panel runs a learning-rate grid: an optimizer that ignores the rate has
    nothing to slide through."""
    spec = resolve_optimizer(optimizer)
    if not spec.uses_lr:
        raise GradmagicError(
            f"--static runs a grid of learning rates, which {spec.name} does not use (its line "
            "search picks every step): use --widgets alone, or another --optimizer."
        )


def grid_runs(
    problem: Any,
    *,
    optimizer: str,
    lr: float,
    steps: int,
    momentum: float | None,
    tol: float | None,
    points: int = POINTS,
) -> tuple[np.ndarray, list[OptimizerRuns], Curvature]:
    """The learning-rate grid, per optimizer of :func:`menu` its runs from the problem's
    start (each optimizer's grid in one vectorised batch), and the curvature they met.
    The chosen optimizer runs with ``momentum`` (its default when None), the others with
    their defaults.  The grid is placed by the curvature at the start; the bounds (and
    texts) use the curvature met along SGD's run at its best step (:func:`met_along`)."""
    from dataclasses import replace

    from gradmagic.minimize.batch import run_batch
    from gradmagic.minimize.curvature import curvature_along

    check_static(optimizer)
    aux = problem.aux()
    start = (problem.start,)
    curvature = curvature_along(problem.objective, start, aux, cache_key=problem.cache_key)[0]
    sgd = StepSizeAdvice.for_optimizer(curvature, resolve_optimizer("sgd"), None)
    lrs = lr_grid(lr, sgd.bound)
    chosen = resolve_optimizer(optimizer).name
    stride = stride_for(steps, max(points - 1, 1))  # as run_batch records
    recorded = np.minimum(np.arange(-(-steps // stride) + 1) * stride, steps)
    settings = {}  # name -> (its momentum, the batch it joins, the momentum run there)
    for name in menu(optimizer):
        spec = resolve_optimizer(name)
        beta = momentum if name == chosen and momentum is not None else spec.default_momentum
        beta = None if spec.momentum_name is None else rounded(beta)
        settings[name] = (beta, *SAME_AS.get(name, (name, beta)))
    batches = {}
    for program in dict.fromkeys(joined for _, joined, _ in settings.values()):
        members = [name for name, (_, joined, _) in settings.items() if joined == program]
        batch = run_batch(
            problem,
            optimizer=program,
            lrs=np.tile(lrs, len(members)),
            momenta=[settings[name][2] for name in members for _ in lrs],
            steps=steps,
            tol=tol,
            points=points,
        )
        for k, name in enumerate(members):
            batches[name] = batch, slice(k * len(lrs), (k + 1) * len(lrs))
    found = []
    for name, (beta, _, _) in settings.items():
        batch, rows = batches[name]
        found.append(
            OptimizerRuns(
                name=name,
                momentum=beta,
                advice=StepSizeAdvice.for_optimizer(curvature, resolve_optimizer(name), beta),
                lrs=lrs,
                final=np.asarray(batch.final[rows], dtype=float),
                steps=np.asarray(batch.steps[rows], dtype=int),
                converged=np.asarray(batch.converged[rows], dtype=bool),
                diverged_at=np.asarray(batch.diverged_at[rows], dtype=int),
                history=held(np.asarray(batch.history[rows], dtype=float), recorded),
                path=None if batch.path is None else held(np.asarray(batch.path[rows]), recorded),
                ends=np.asarray(batch.ends[rows], dtype=float),
                recorded_steps=recorded,
                requested_steps=int(batch.requested_steps),
            )
        )
    met = met_along(problem, curvature, next(r for r in found if r.name == "sgd"))
    found = [
        replace(r, advice=StepSizeAdvice.for_optimizer(met, resolve_optimizer(r.name), r.momentum))
        for r in found
    ]
    return lrs, found, met


def met_along(problem: Any, curvature: Curvature, sgd: OptimizerRuns) -> Curvature:
    """The curvature at the start and along SGD's grid run nearest below its best step
    2/(λmin+λmax) that did not diverge: the live panel measures the same along its trial
    run at the best step (:class:`~gradmagic.minimize.run_curvature.CurvatureMet`), here
    the batch already holds that run, so nothing more is compiled or run.  Without a best
    step, a stored path, or a stable run there, the curvature at the start."""
    from types import SimpleNamespace

    from gradmagic.minimize.run_curvature import CurvatureMet

    best = StepSizeAdvice.for_optimizer(curvature, resolve_optimizer("sgd"), None).best
    scalar = all(np.shape(v) == () for v in problem.start)
    if best is None or sgd.path is None or not scalar:
        return curvature
    stable = np.flatnonzero((sgd.lrs <= best[0] * (1 + 1e-9)) & (sgd.diverged_at < 0))
    if not stable.size:
        return curvature
    k = int(stable[-1])
    run = SimpleNamespace(
        path=tuple(sgd.path[k, :, i] for i in range(len(problem.variables))),
        history=sgd.history[k],
        diverged_at=None,
        recorded_steps=sgd.recorded_steps,
    )
    what = f"the SGD run at lr = {lr_text(sgd.lrs[k])}"
    return curvature.most_curved(CurvatureMet(problem).along(run, what))

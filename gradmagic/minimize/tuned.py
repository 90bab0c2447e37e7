"""``--tune``: each optimizer at its own best learning rate (and momentum/β1), found fairly.

pytorch-optimizer's gallery tunes only the learning rate and its users call the comparison
unfair; here every optimizer gets the same grid of learning rates and, where it has one,
momentum or β1 in :data:`~gradmagic.minimize.grids.TUNE_MOMENTA`, all of one optimizer's
runs in one vectorised program (:func:`~gradmagic.minimize.batch.run_batch`).  The winner
is picked by :func:`~gradmagic.minimize.grids.best_run` (fewest steps to ``--tol``, else
the lowest final objective, never a diverged run), then run once more alone so its full
path and loss curve can be drawn (the single-run program is cached like any other).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradmagic import render
from gradmagic.errors import GradmagicError
from gradmagic.minimize import grids
from gradmagic.minimize.optimizers import resolve_optimizer
from gradmagic.minimize.step_size import LR_DIGITS, lr_text
from gradmagic.plots import ShownWithPlot
from gradmagic.render import Table


@dataclass(frozen=True, eq=False)
class TunedOptimizer:
    """One optimizer's grid, all its runs, and the best of them."""

    name: str
    momentum_name: str | None  # momentum, b1, decay; None: the optimizer has none
    grid: grids.Grid
    runs: Any  # gradmagic.minimize.batch.BatchRuns, in grid.settings order
    best: int | None  # index into the runs; None when every run diverged
    result: Any = None  # the best setting run alone (a MinimizeResult), for its path

    @property
    def final_grid(self) -> np.ndarray:
        """Final objectives laid out (momenta, learning rates), diverged runs as NaN."""
        final = np.where(self.runs.diverged, np.nan, self.runs.final.astype(float))
        return final.reshape(self.grid.shape())

    @property
    def diverged_count(self) -> int:
        return int(self.runs.diverged.sum())

    @property
    def best_lr(self) -> float | None:
        return None if self.best is None else float(self.runs.lrs[self.best])

    @property
    def best_momentum(self) -> float | None:
        return None if self.best is None else self.runs.momenta[self.best]


def tune_optimizers(
    problem: Any,
    optimizers: Sequence[str],
    *,
    lrs: np.ndarray,
    steps: int,
    tol: float | None,
) -> TunedComparison:
    """Every optimizer over ``lrs`` × its momenta in one batch each; the best rerun alone."""
    from gradmagic.minimize.batch import run_batch
    from gradmagic.minimize.result import MinimizeResult

    specs = [resolve_optimizer(name) for name in optimizers]  # all checked before running
    for spec in specs:
        if not spec.uses_lr:
            raise GradmagicError(
                f"--tune {spec.name}: {spec.name} has no learning rate to tune (its line "
                "search picks every step); leave it out of --compare or drop --tune."
            )
    tuned = {}
    for spec in specs:
        grid = grids.grid_for(spec.momentum_name is not None, lrs)
        settings = grid.settings
        runs = run_batch(
            problem,
            optimizer=spec.name,
            lrs=[lr for lr, _ in settings],
            momenta=[m for _, m in settings],
            steps=steps,
            tol=tol,
        )
        best = grids.best_run(runs.final, runs.steps, runs.converged, runs.diverged)
        result = None
        if best is not None:
            lr, momentum = settings[best]
            run = problem.run(optimizer=spec.name, lr=lr, momentum=momentum, steps=steps, tol=tol)
            result = MinimizeResult(problem, problem.start, run)
        tuned[spec.name] = TunedOptimizer(spec.name, spec.momentum_name, grid, runs, best, result)
    return TunedComparison(problem, tuned, steps, tol)


class TunedComparison(ShownWithPlot):
    """``--compare … --tune``: each optimizer's best setting (``tuned`` by name), a heat map
    of every setting's final objective, and the best runs' paths and loss curves."""

    def __init__(
        self, problem: Any, tuned: dict[str, TunedOptimizer], steps: int, tol: float | None
    ) -> None:
        self.problem = problem
        self.objective = problem.label
        self.tuned = tuned
        self.steps = steps
        self.tol = tol

    @property
    def best(self) -> dict[str, Any]:
        """Each optimizer's best run alone (a MinimizeResult), where any run did not diverge."""
        return {name: t.result for name, t in self.tuned.items() if t.result is not None}

    def _sections(self) -> list[Table | str]:
        starts = ", ".join(f"{n} = {render.array(v)}" for n, v in zip(
            self.problem.variables, self.problem.start, strict=True))  # fmt: skip
        table = Table(
            title=f"Tuned on {self.objective} from {starts}",
            header=[
                "optimizer", "best lr", "best momentum/β1", "steps", "final objective",
                "status", "diverged",
            ],
        )  # fmt: skip
        for name, t in self.tuned.items():
            total = len(t.runs)
            diverged = f"{t.diverged_count} of {total}"
            if t.best is None:
                table.rows.append([name, "—", "—", "—", "—", "every run diverged", diverged])
                continue
            momentum = "—"
            if t.momentum_name is not None:
                momentum = f"{t.momentum_name} {render.number(t.best_momentum, LR_DIGITS)}"
            converged = bool(t.runs.converged[t.best])
            table.rows.append(
                [
                    name,
                    lr_text(t.best_lr),
                    momentum,
                    str(int(t.runs.steps[t.best])),
                    render.number(t.runs.final[t.best]),
                    "converged" if converged else "finished",
                    diverged,
                ]
            )
        lrs = next(iter(self.tuned.values())).grid.lrs
        table.notes.append(
            f"Grid: {len(lrs)} learning rates from {lr_text(lrs[0])} to {lr_text(lrs[-1])} "
            f"(log-spaced) × momentum/β1 in {', '.join(f'{m:g}' for m in grids.TUNE_MOMENTA)} "
            f"where the optimizer has one; {self.steps} steps each, one vectorised program "
            "per optimizer."
        )
        rule = (
            f"the fewest steps to a gradient norm below {render.number(self.tol)}, else the "
            "lowest final objective"
            if self.tol is not None
            else "the lowest final objective (give --tol to rank by steps to convergence)"
        )
        table.notes.append(f"Best: {rule}; a diverged run never wins.")
        table.notes.append("The notebook's variables are unchanged.")
        return [table]

    def plot(self) -> Any:
        """Heat maps of the final objective per optimizer, and the best runs overlaid."""
        from gradmagic.minimize.tune_plot import tuned_plot

        return tuned_plot(self)

    def displayed_plot(self) -> Any:
        return self.plot()

"""``--starts``: one optimizer from many starting points, run together, and the minima found.

The starts are drawn in a box (seeded uniform, or a K×K grid; see
:mod:`~gradmagic.minimize.grids`), all run in one vectorised program
(:func:`~gradmagic.minimize.batch.run_batch`), and where they end is grouped into the
minima they found (:func:`~gradmagic.minimize.grids.basins`).  When the objective calls a
:mod:`gradmagic.functions` test function, its plotting box is the default box and its
documented minima name the minima found (Himmelblau's four basins, at a glance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradmagic import render
from gradmagic.errors import GradmagicError
from gradmagic.minimize import grids
from gradmagic.minimize.step_size import lr_text
from gradmagic.plots import ShownWithPlot
from gradmagic.render import Table

SHOWN_MINIMA = 12  # table rows at most; the rest are summed up in a note
DEFAULT_REACH = 2.0  # the default box: this far either side of the start


def test_function(problem: Any) -> Callable | None:
    """The :mod:`gradmagic.functions` function the objective calls (read directly, or as
    a global of a notebook function it calls), if any: it carries ``box`` and ``minima``."""
    seen = list(problem.program.frozen.values())
    for value in list(seen):
        if callable(value) and hasattr(value, "__code__") and hasattr(value, "__globals__"):
            names = value.__code__.co_names
            seen += [value.__globals__[n] for n in names if n in value.__globals__]
    for value in seen:
        module = getattr(value, "__module__", "") or ""
        if module == "gradmagic.functions" and callable(value) and hasattr(value, "box"):
            return value
    return None


def default_box(problem: Any, function: Callable | None) -> list[tuple[float, float]]:
    """The test function's box for two variables, else ±:data:`DEFAULT_REACH` around the start."""
    if function is not None and len(problem.variables) == 2:
        return [tuple(map(float, span)) for span in function.box]
    return [(float(v) - DEFAULT_REACH, float(v) + DEFAULT_REACH) for v in problem.start]


@dataclass(frozen=True, eq=False, repr=False)  # repr: the table (Rendered)
class ManyStarts(ShownWithPlot):
    """``--starts``: every run (``runs``, a BatchRuns), the minima they reached
    (``found``, a Basins), the box and how the starts were drawn."""

    problem: Any
    runs: Any
    found: grids.Basins
    box: list[tuple[float, float]]
    kind: str  # "random" or "grid"
    seed: int
    documented: tuple  # the test function's minima, or ()

    @property
    def objective(self) -> str:
        return self.problem.label

    def named(self, point: np.ndarray) -> str:
        """The documented minimum ``point`` is (within 1 % of the box), else ``—``."""
        if not self.documented:
            return "—"
        scale = max(high - low for low, high in self.box)
        known = np.asarray(self.documented, dtype=float)
        distance = np.linalg.norm(known - point, axis=1)
        k = int(np.argmin(distance))
        if distance[k] > 1e-2 * scale:
            return "—"
        return "(" + ", ".join(render.number(c, 4) for c in known[k]) + ")"

    def _sections(self) -> list[Table | str]:
        runs, found = self.runs, self.found
        table = Table(
            title=f"{len(runs)} starts on {self.objective} with {runs.optimizer} "
            f"(lr {lr_text(runs.lrs[0])})",
            header=["minimum", *runs.variables, "objective", "starts", "documented minimum"],
        )
        for k in range(min(len(found.counts), SHOWN_MINIMA)):
            table.rows.append(
                [
                    str(k + 1),
                    *[render.number(c) for c in found.minima[k]],
                    render.number(found.values[k]),
                    str(int(found.counts[k])),
                    self.named(found.minima[k]),
                ]
            )
        hidden = len(found.counts) - SHOWN_MINIMA
        if hidden > 0:
            rest = int(found.counts[SHOWN_MINIMA:].sum())
            table.notes.append(f"{hidden} more end points ({rest} starts) not shown.")
        how = (
            f"seeded uniform (seed {self.seed})"
            if self.kind == "random"
            else f"a grid of {round(len(runs) ** (1 / len(self.box)))} per variable"
        )
        box = ", ".join(
            f"{n}={render.number(lo)}:{render.number(hi)}"
            for n, (lo, hi) in zip(runs.variables, self.box, strict=True)
        )
        table.notes.append(f"Starts: {how} in --box {box}; one vectorised program.")
        converged = int(runs.converged.sum())
        tol = "" if runs.tol is None else f"; {converged} reached --tol"
        table.notes.append(
            f"{int(runs.diverged.sum())} of {len(runs)} diverged{tol}; "
            f"{runs.requested_steps} steps at most each."
        )
        table.notes.append("The notebook's variables are unchanged.")
        return [table]

    def plot(self) -> Any:
        """Loss curves and, for two variables, the paths over the contours, coloured by the
        minimum each run reaches."""
        from gradmagic.minimize.starts_plot import starts_plot

        return starts_plot(self)

    def displayed_plot(self) -> Any:
        return self.plot()


def many_starts(
    problem: Any,
    *,
    optimizer: str,
    lr: float,
    momentum: float | None,
    steps: int,
    tol: float | None,
    starts: str,
    box: str | None,
    seed: int | None,
) -> ManyStarts:
    """``--starts N|grid:K [--box …] [--seed S]``: run them all and group where they end."""
    from gradmagic.minimize.batch import run_batch

    kind, number = grids.parse_starts(starts)
    if any(np.shape(v) != () for v in problem.start):
        raise GradmagicError(
            "--starts draws scalar starting values; the variables here include arrays "
            f"({', '.join(problem.variables)}). Optimise scalar variables, or drop --starts."
        )
    if kind == "grid" and len(problem.variables) > 2:
        raise GradmagicError(
            f"--starts grid:{number} lays a grid over one or two variables, not "
            f"{len(problem.variables)}; give a number of random starts (e.g. --starts 64)."
        )
    function = test_function(problem)
    spans = grids.parse_box(box, problem.variables, default_box(problem, function))
    seed = 0 if seed is None else seed
    points = grids.start_points(kind, number, spans, seed)
    runs = run_batch(
        problem,
        optimizer=optimizer,
        lrs=[lr] * len(points),
        momenta=[momentum] * len(points),
        starts=tuple(points[:, v] for v in range(points.shape[1])),
        steps=steps,
        tol=tol,
    )
    ok = ~runs.diverged & np.isfinite(runs.final)
    scale = max(high - low for low, high in spans)
    found = grids.basins(runs.ends, runs.final, ok, scale)
    documented = function.minima if function is not None and len(spans) == 2 else ()
    return ManyStarts(problem, runs, found, spans, kind, seed, documented)

"""The figure of a tuned comparison: one heat map per optimizer of the final objective over
learning rate × momentum (log colour, the best cell starred, diverged cells grey and
hatched), and under them the best runs' loss curves and paths, overlaid."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradmagic.plots import Plot, new_figure

DIVERGED = "#b8b8b8"


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges around log-spaced centres (geometric midpoints, half a step outside)."""
    logs = np.log10(values)
    if len(logs) == 1:
        return 10.0 ** np.array([logs[0] - 0.5, logs[0] + 0.5])
    middle = (logs[:-1] + logs[1:]) / 2
    first, last = logs[0] - (middle[0] - logs[0]), logs[-1] + (logs[-1] - middle[-1])
    return 10.0 ** np.concatenate([[first], middle, [last]])


def _norm(values: np.ndarray) -> tuple[Any, np.ndarray]:
    """A log colour scale where every finite value is ≥ 0 (0 drawn on a floor), else linear."""
    from matplotlib.colors import LogNorm, Normalize

    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Normalize(0, 1), values
    positive = finite[finite > 0]
    if finite.min() < 0 or positive.size == 0:
        low, high = float(finite.min()), float(finite.max())
        return Normalize(low, high if high > low else low + 1), values
    floor = max(float(positive.min()), 1e-12 * float(positive.max()))
    shown = np.where(np.isfinite(values), np.maximum(values, floor), np.nan)
    high = float(positive.max())
    return LogNorm(floor, high if high > floor else floor * 10), shown


def draw_heat_map(axes: Any, tuned: Any) -> Any:
    """One optimizer's final objectives over the grid; returns the mesh (for a colour bar)."""
    import matplotlib as mpl
    from matplotlib.patches import Rectangle

    values = tuned.final_grid
    norm, shown = _norm(values)
    cmap = mpl.colormaps["viridis"].with_extremes(bad=DIVERGED)
    x = _edges(tuned.grid.lrs)
    rows = len(tuned.grid.momenta)
    y = np.arange(rows + 1) - 0.5
    mesh = axes.pcolormesh(x, y, np.ma.masked_invalid(shown), norm=norm, cmap=cmap)
    for r, c in zip(*np.nonzero(np.isnan(values)), strict=True):
        axes.add_patch(
            Rectangle(
                (x[c], y[r]), x[c + 1] - x[c], 1, fill=False, hatch="///", lw=0,
                edgecolor="#666666",
            )
        )  # fmt: skip
    axes.set_xscale("log")
    axes.set_xlim(x[0], x[-1])
    axes.set_ylim(y[0], y[-1])
    if tuned.momentum_name is None:
        axes.set_yticks([])
    else:
        axes.set_yticks(range(rows), [f"{m:g}" for m in tuned.grid.momenta])
        axes.set_ylabel(tuned.momentum_name)
    if tuned.best is not None:
        row, col = divmod(tuned.best, len(tuned.grid.lrs))
        axes.plot([tuned.grid.lrs[col]], [row], "*", color="white", mec="black", ms=14)
    axes.set_xlabel("learning rate")
    axes.set_title(f"{tuned.name}: {tuned.diverged_count} of {len(tuned.runs)} diverged")
    return mesh


def tuned_plot(comparison: Any) -> Plot:
    """Heat maps on top (one per optimizer, with a colour bar each), then the best runs'
    loss curves and paths (for one or two scalar variables) below."""
    from gradmagic.minimize.plot import draw_minimization

    tuned = list(comparison.tuned.values())
    problem = comparison.problem
    best = [t.result for t in tuned if t.result is not None]
    figure = new_figure(max(10.0, 3.6 * len(tuned)), 8.0 if best else 3.6)
    top, bottom = figure.subfigures(2, 1, height_ratios=(1, 1.25)) if best else (figure, None)
    axes = top.subplots(1, len(tuned), squeeze=False)[0]
    for ax, t in zip(axes, tuned, strict=True):
        mesh = draw_heat_map(ax, t)
        top.colorbar(mesh, ax=ax, label="final objective", shrink=0.9)
    if bottom is not None:
        draw_minimization(bottom, problem, best, True)
    return Plot(figure, f"tuned heat maps, best loss curves and paths of {problem.label}")

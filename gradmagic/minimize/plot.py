"""Plots of minimisation runs: loss curves, and paths over the objective's curve or contours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradmagic.plots import Plot, draw_contours, evaluate_on, frame, new_figure, readable_ticks


def _descent(run: Any, column: np.ndarray) -> np.ndarray:
    """``column`` of a run's path up to where its objective first became non-finite or
    rose above its start: a diverging run's blown-up points would swamp the frame."""
    history = np.asarray(run.history, dtype=float)
    if not history.size or not np.isfinite(history[0]):
        return column[:1]
    bad = np.nonzero(~np.isfinite(history) | (history > history[0]))[0]
    return column[: max(int(bad[0]), 1) if bad.size else len(column)]


def _minimum(results: list[Any]) -> list[float] | None:
    """The end of a run that converged (small gradient), where one did: a known minimum."""
    for result in results:
        if not result.diverged and result.grad_norm < 1e-3:
            return [float(np.asarray(v)) for v in result.values.values()]
    return None


@dataclass
class RunArtists:
    """The lines that draw one run, so an animation can reveal them step by step: its loss
    curve, and where the path is drawn, the path and its end marker."""

    curve: Any
    path: Any = None
    end: Any = None


def _loss_curves(curves: Any, results: list[Any]) -> list[Any]:
    """Each run's objective per step; a log scale where it spans decades or reaches 0
    (0 drawn on a floor 12 decades below the start at most)."""
    from matplotlib.ticker import LogLocator, MaxNLocator

    histories = [np.asarray(r.history, dtype=float) for r in results]
    finite = np.concatenate([h[np.isfinite(h)] for h in histories])
    positive = finite[finite > 0]
    logarithmic = (
        positive.size > 1
        and finite.min() >= 0
        and (positive.size < finite.size or positive.max() > 100 * positive.min())
    )
    floor = max(positive.min(), 1e-12 * positive.max()) / 10 if logarithmic else None
    lines = []
    for k, (result, history) in enumerate(zip(results, histories, strict=True)):
        shown = history if floor is None else np.maximum(history, floor)
        label = result.optimizer
        ends = getattr(result, "epoch_loss", None)
        minibatched = ends is not None and len(ends) > 0 and not result.run.batching.full
        if minibatched:
            label += " (minibatch)"
            at = np.asarray(result.recorded_epochs) * result.run.batching.per_epoch
            ends = np.asarray(ends, dtype=float)
            ends = ends if floor is None else np.maximum(ends, floor)
            markers = "o-" if len(ends) <= 50 else "-"
            epoch_label = f"{result.optimizer}: epoch loss (all data)"
            curves.plot(at, ends, markers, color=f"C{k}", ms=4, lw=1.5, label=epoch_label, zorder=3)
        lines += curves.plot(
            _steps(result),
            shown,
            color=f"C{k}",
            alpha=0.5 if minibatched else 1.0,
            label=label,
        )
    if logarithmic:
        curves.set_yscale("log")
        curves.yaxis.set_major_locator(LogLocator(numticks=6))
    else:
        curves.yaxis.set_major_locator(MaxNLocator(5))
    curves.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    return lines


def draw_minimization(
    figure: Any, problem: Any, results: list[Any], with_path: bool
) -> list[RunArtists]:
    """Loss curves (left) and, for one or two scalar variables, paths (right), framed on
    the paths, the start, the ends and a known minimum, with start/end markers.  Returns
    each result's lines (for :mod:`~gradmagic.minimize.animation`)."""
    scalar = all(np.shape(value) == () for value in problem.start)
    show_path = with_path and scalar and len(problem.variables) in (1, 2)
    scheduled = [r for r in results if getattr(r, "lr_history", None) is not None]
    if scheduled:  # a small panel of the learning rate per step under the loss curve
        grid = figure.add_gridspec(2, 2 if show_path else 1, height_ratios=(3, 1), hspace=0.08)
        curves = figure.add_subplot(grid[0, 0])
        _draw_learning_rates(figure.add_subplot(grid[1, 0], sharex=curves), scheduled)
    else:
        curves = figure.add_subplot(1, 2 if show_path else 1, 1)
    artists = [RunArtists(line) for line in _loss_curves(curves, results)]
    curves.set_xlabel("" if scheduled else "step")
    curves.set_ylabel("objective")
    diverged = [r for r in results if r.diverged]
    if len(results) == 1 and diverged:
        step = diverged[0].diverged_at
        title = f"diverged at step {step}"
        if diverged[0].run.nonfinite_gradient is not None:
            title = f"stopped at step {step}: non-finite gradient"
        curves.set_title(f"loss curve: {title}", color="#b00")
    else:
        curves.set_title("loss curve")
    if len(results) > 1 or any(getattr(r, "epoch_loss", None) is not None for r in results):
        curves.legend(fontsize=8)
    if not show_path:
        return artists
    axes = figure.add_subplot(grid[:, 1]) if scheduled else figure.add_subplot(1, 2, 2)
    objective = problem.pointwise()
    names = problem.variables
    runs = [r for r in results if r.path]
    start = [float(np.asarray(v)) for v in problem.start]
    minimum = _minimum(runs)
    traced: dict[int, tuple] = {}  # id(result) -> (path line, end marker)
    limits = []
    for i, name in enumerate(names):
        parts = [_descent(r.run, np.asarray(r.path[name], dtype=float)) for r in runs]
        parts.append(np.array([start[i]] + ([minimum[i]] if minimum else [])))
        limits.append(frame(np.concatenate(parts)))
    if len(names) == 1:
        xs = np.linspace(*limits[0], 200)
        ys = evaluate_on(objective, xs)
        axes.plot(xs, ys, color="gray")
        low, high = float(np.nanmin(ys)), float(np.nanmax(ys))
        pad = 0.08 * (high - low or 1.0)
        axes.set_ylim(low - pad, high + pad)
        axes.plot(start, [float(objective(start[0]))], "o", color="black", label="start")
        if minimum:
            axes.plot(
                minimum, [float(objective(minimum[0]))], "*", color="C2", ms=11, label="minimum"
            )
        for k, result in enumerate(runs):
            path = np.asarray(result.path[names[0]], dtype=float)
            # history[k] is the objective at path[k]: no need to evaluate it again
            (line,) = axes.plot(
                path, result.history, ".-", markersize=3, color=f"C{k}", label=result.optimizer
            )
            (end,) = axes.plot(path[-1:], np.asarray(result.history)[-1:], "X", color=f"C{k}", ms=8)
            traced[id(result)] = (line, end)
        axes.set_ylabel(problem.label)
    else:
        draw_contours(axes, objective, limits[0], limits[1], 60, levels=20, linewidths=0.8)
        axes.plot(start[:1], start[1:], "o", color="black", label="start")
        if minimum:
            axes.plot(minimum[:1], minimum[1:], "*", color="C2", ms=11, label="minimum")
        for k, result in enumerate(runs):
            p0, p1 = (np.asarray(result.path[n], dtype=float) for n in names)
            (line,) = axes.plot(p0, p1, ".-", markersize=3, color=f"C{k}", label=result.optimizer)
            (end,) = axes.plot(p0[-1:], p1[-1:], "X", color=f"C{k}", ms=8)
            traced[id(result)] = (line, end)
        axes.set_ylim(*limits[1])
        axes.set_ylabel(names[1])
    axes.set_xlim(*limits[0])
    axes.set_xlabel(names[0])
    axes.plot([], [], "X", color="gray", ms=8, label="end")
    readable_ticks(axes)
    box = getattr(results[0], "bounds", None)
    if box:
        _draw_box(axes, box)
    axes.set_title("path")
    axes.legend(fontsize=8, framealpha=0.7)
    for result, drawn in zip(results, artists, strict=True):
        drawn.path, drawn.end = traced.get(id(result), (None, None))
    return artists


def minimization_plot(problem: Any, results: list[Any], with_path: bool) -> Plot:
    """Loss curves (and paths) of ``results`` as a :class:`~gradmagic.plots.Plot`."""
    scalar = all(np.shape(value) == () for value in problem.start)
    with_path = with_path and scalar and len(problem.variables) in (1, 2)
    figure = new_figure(10.0 if with_path else 6.0, 4.0)
    draw_minimization(figure, problem, results, with_path)
    what = "loss curve" + (" and path" if with_path else "")
    return Plot(figure, f"{what} of {problem.label}")


def _draw_learning_rates(axes: Any, results: list[Any]) -> None:
    """The learning rate of each step (``--schedule``): step k's lr at x = k."""
    for result in results:
        rates = np.asarray(result.lr_history, dtype=float)
        axes.plot(_steps(result)[1:], rates, label=result.optimizer)
    axes.set_xlabel("step")
    axes.set_ylabel("lr")


def _steps(result: Any) -> np.ndarray:
    """The step number of each recorded point (a long run records every n-th step)."""
    steps = getattr(result, "recorded_steps", None)
    return np.arange(len(result.history)) if steps is None else np.asarray(steps)


def _draw_box(axes: Any, box: tuple) -> None:
    """The bounds as dashed lines: the first variable's across x, the second's across y."""
    style = {"color": "#b00", "linestyle": "--", "linewidth": 1}
    for interval, line in zip(box, (axes.axvline, axes.axhline), strict=False):
        for end in interval or ():
            if end is not None:
                line(end, **style)

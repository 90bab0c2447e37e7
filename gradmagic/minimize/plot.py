"""Plots of minimisation runs: loss curves, and paths over the objective's curve or contours."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradmagic.plots import Plot, draw_contours, evaluate_on, new_figure


def _path_extent(paths: list[np.ndarray], center: float) -> tuple[float, float]:
    finite = np.concatenate([p[np.isfinite(p)] for p in paths] + [np.array([center])])
    low, high = float(finite.min()), float(finite.max())
    span = max(high - low, 1e-3 * max(1.0, abs(center)), 0.5)
    return low - 0.25 * span, high + 0.25 * span


def draw_minimization(figure: Any, problem: Any, results: list[Any], with_path: bool) -> None:
    """Loss curves (left) and, for one or two scalar variables, paths (right)."""
    scalar = all(np.shape(value) == () for value in problem.start)
    show_path = with_path and scalar and len(problem.variables) in (1, 2)
    scheduled = [r for r in results if getattr(r, "lr_history", None) is not None]
    if scheduled:  # a small panel of the learning rate per step under the loss curve
        grid = figure.add_gridspec(2, 2 if show_path else 1, height_ratios=(3, 1), hspace=0.08)
        curves = figure.add_subplot(grid[0, 0])
        _draw_learning_rates(figure.add_subplot(grid[1, 0], sharex=curves), scheduled)
    else:
        curves = figure.add_subplot(1, 2 if show_path else 1, 1)
    for result in results:
        history = np.asarray(result.history, dtype=float)
        curves.plot(np.arange(len(history)), history, label=result.optimizer)
    finite = np.concatenate([np.asarray(r.history, dtype=float) for r in results])
    finite = finite[np.isfinite(finite)]
    if finite.size and finite.min() > 0 and finite.max() / max(finite.min(), 1e-300) > 100:
        curves.set_yscale("log")
    curves.set_xlabel("" if scheduled else "step")
    curves.set_ylabel("objective")
    diverged = [r for r in results if r.diverged]
    if len(results) == 1 and diverged:
        curves.set_title(f"loss curve: diverged at step {diverged[0].diverged_at}", color="#b00")
    else:
        curves.set_title("loss curve")
    if len(results) > 1:
        curves.legend()
    if not show_path:
        return
    axes = figure.add_subplot(grid[:, 1]) if scheduled else figure.add_subplot(1, 2, 2)
    aux = problem.aux()

    def objective(*values: Any) -> Any:
        return problem.objective(tuple(values), aux)

    names = problem.variables
    if len(names) == 1:
        paths = [np.asarray(r.path[names[0]], dtype=float) for r in results if r.path]
        low, high = _path_extent(paths, float(problem.start[0]))
        xs = np.linspace(low, high, 200)
        axes.plot(xs, evaluate_on(objective, xs), color="gray")
        for result, path in zip(results, paths, strict=False):
            # history[k] is the objective at path[k]: no need to evaluate it again
            axes.plot(path, result.history, ".-", markersize=3, label=result.optimizer)
        axes.set_xlabel(names[0])
        axes.set_ylabel(problem.label)
    else:
        paths0 = [np.asarray(r.path[names[0]], dtype=float) for r in results if r.path]
        paths1 = [np.asarray(r.path[names[1]], dtype=float) for r in results if r.path]
        low0, high0 = _path_extent(paths0, float(problem.start[0]))
        low1, high1 = _path_extent(paths1, float(problem.start[1]))
        draw_contours(axes, objective, (low0, high0), (low1, high1), 60, levels=20, linewidths=0.8)
        for result, p0, p1 in zip(results, paths0, paths1, strict=False):
            axes.plot(p0, p1, ".-", markersize=3, label=result.optimizer)
        axes.plot([float(problem.start[0])], [float(problem.start[1])], "o", color="black")
        axes.set_xlabel(names[0])
        axes.set_ylabel(names[1])
    box = getattr(results[0], "bounds", None)
    if box:
        _draw_box(axes, box)
    axes.set_title("path")
    if len(results) > 1:
        axes.legend()


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
        axes.plot(np.arange(1, len(rates) + 1), rates, label=result.optimizer)
    axes.set_xlabel("step")
    axes.set_ylabel("lr")


def _draw_box(axes: Any, box: tuple) -> None:
    """The bounds as dashed lines: the first variable's across x, the second's across y."""
    style = {"color": "#b00", "linestyle": "--", "linewidth": 1}
    for interval, line in zip(box, (axes.axvline, axes.axhline), strict=False):
        for end in interval or ():
            if end is not None:
                line(end, **style)

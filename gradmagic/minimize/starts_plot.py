"""The figure of ``--starts``: every run's loss curve and, for two scalar variables, every
path over the contours, each coloured by the minimum it reaches (diverged runs grey), with
the starts as dots, the minima found as crosses and the documented minima as stars."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradmagic.plots import Plot, draw_contours, frame, new_figure, readable_ticks

GREY = "#9a9a9a"
COLOURS = 10  # matplotlib's C0…C9; later minima reuse them


def _colour(label: int) -> str:
    return GREY if label < 0 else f"C{label % COLOURS}"


def _draw_curves(axes: Any, many: Any) -> None:
    runs = many.runs
    history = np.asarray(runs.history, dtype=float)
    finite = history[np.isfinite(history)]
    log = finite.size > 0 and finite.min() >= 0
    floor = None
    if log:
        positive = finite[finite > 0]
        floor = max(positive.min(), 1e-12 * positive.max()) / 10 if positive.size else 1e-12
    alpha = max(0.15, min(1.0, 8 / len(runs)))
    recorded = np.asarray(runs.recorded_steps)
    for i in range(len(runs)):
        shown = history[i] if floor is None else np.maximum(history[i], floor)
        stop = int(runs.steps[i])  # each curve ends where its run stopped
        until = int(np.searchsorted(recorded, stop)) + 1
        colour = _colour(int(many.found.labels[i]))
        x = np.minimum(recorded[:until], stop)
        axes.plot(x, shown[:until], color=colour, lw=0.8, alpha=alpha)
    if log:
        axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.set_ylabel("objective")
    axes.set_title("loss curves")


def _draw_paths(axes: Any, many: Any) -> None:
    problem, runs = many.problem, many.runs
    objective = problem.pointwise()
    limits = []
    for v in range(2):
        low, high = many.box[v]
        ends = runs.ends[~runs.diverged, v]
        limits.append(frame(np.concatenate([[low, high], ends]), margin=0.04))
    draw_contours(axes, objective, limits[0], limits[1], 80, levels=25, linewidths=0.7)
    alpha = max(0.25, min(1.0, 12 / len(runs)))
    for i in range(len(runs)):
        path = runs.path[i]
        keep = np.isfinite(path).all(axis=1)
        inside = keep & (np.abs(path - path[0]) < 10 * (np.ptp(np.array(many.box)) + 1)).all(1)
        colour = _colour(int(many.found.labels[i]))
        axes.plot(path[inside, 0], path[inside, 1], color=colour, lw=0.9, alpha=alpha)
    axes.plot(runs.starts[:, 0], runs.starts[:, 1], ".", color="black", ms=3, label="starts")
    for k, point in enumerate(many.found.minima[: len(many.found.counts)]):
        axes.plot([point[0]], [point[1]], "X", color=_colour(k), mec="black", ms=9)
    if many.documented:
        known = np.asarray(many.documented, dtype=float)
        axes.plot(known[:, 0], known[:, 1], "*", color="white", mec="black", ms=12,
                  label="documented minima")  # fmt: skip
    axes.plot([], [], "X", color=GREY, mec="black", ms=9, label="minima found")
    axes.set_xlim(*limits[0])
    axes.set_ylim(*limits[1])
    axes.set_xlabel(runs.variables[0])
    axes.set_ylabel(runs.variables[1])
    readable_ticks(axes)
    axes.legend(fontsize=8, framealpha=0.7, loc="upper right")
    axes.set_title("paths, coloured by the minimum reached")


def starts_plot(many: Any) -> Plot:
    """Loss curves (left) and, with two scalar variables and recorded paths, the paths."""
    paths = many.runs.path is not None and len(many.runs.variables) == 2
    figure = new_figure(11.0 if paths else 6.0, 4.6)
    if paths:
        left, right = figure.subplots(1, 2, width_ratios=(1, 1.3))
        _draw_curves(left, many)
        _draw_paths(right, many)
    else:
        _draw_curves(figure.add_subplot(1, 1, 1), many)
    what = "loss curves and paths" if paths else "loss curves"
    return Plot(figure, f"{what} of {len(many.runs)} starts on {many.problem.label}")

"""The panel's figure: built once, its artists updated in place; the static parts go out
as a PNG (rarely), the moving artists as an SVG overlay (each update, see
:mod:`gradmagic.lab.panel_svg`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradmagic.minimize.problem import Problem
from gradmagic.minimize.result import MinimizeResult


def _plain_log_label(value: float, _: Any = None) -> str:
    return f"{value:.0e}"


class PanelFigure:
    """One matplotlib figure, built once; each run only updates its artists."""

    def __init__(self, problem: Problem, scheduled: bool = False) -> None:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        from gradmagic.plots import new_figure

        self.problem = problem
        self.log_labels = FuncFormatter(_plain_log_label)
        # Two figures, one per image, so a narrow output area stacks them at a readable
        # size.  A fixed layout: constrained layout measures every tick label per redraw.
        # With --schedule, the learning rate of each step in a small panel under the curve.
        self.figure = new_figure(4.75, 4.3 if scheduled else 3.4, layout=None, dpi=80)
        self.figure.subplots_adjust(
            left=0.17, right=0.96, bottom=0.12 if scheduled else 0.15, top=0.88
        )
        grid = self.figure.add_gridspec(
            2 if scheduled else 1, 1, height_ratios=(3, 1)[: 1 + scheduled], hspace=0.1
        )
        self.curve_axes = self.figure.add_subplot(grid[0, 0])
        self.curve_axes.set_xlabel("" if scheduled else "step")
        self.curve_axes.set_ylabel("objective")
        self.rate_axes = self.rate_line = None
        self.rate_top = 0.0  # the lr panel's upper limit (changed only when the peak leaves it)
        if scheduled:
            self.rate_axes = self.figure.add_subplot(grid[1, 0], sharex=self.curve_axes)
            self.curve_axes.tick_params(labelbottom=False)
            self.rate_axes.set_xlabel("step")
            self.rate_axes.set_ylabel("lr")
            self.rate_axes.yaxis.set_major_locator(MaxNLocator(2))
            (self.rate_line,) = self.rate_axes.plot([], [], color="C1")
        (self.curve,) = self.curve_axes.plot([], [])
        # with --data: the objective on all the data after each epoch, as dots
        (self.epoch_dots,) = self.curve_axes.plot([], [], "o", ms=3.5, color="C0", zorder=3)
        self.path_figure = None
        self.path_axes = None
        if len(problem.variables) in (1, 2) and all(np.shape(v) == () for v in problem.start):
            self.path_figure = new_figure(4.75, 3.4, layout=None, dpi=80)
            self.path_figure.subplots_adjust(left=0.17, right=0.96, bottom=0.15, top=0.88)
            self.path_axes = self.path_figure.add_subplot()
        self.path_line = None
        self.end_marker = None
        # The title moves with each run; not the axes' own title, which an Axes.draw with
        # it hidden places off the figure
        self.title = self.curve_axes.text(
            0.5,
            1.03,
            "loss curve",
            transform=self.curve_axes.transAxes,
            ha="center",
            va="bottom",
            fontsize="large",
        )
        self._start_for: tuple | None = None
        self.curve_frame: tuple | None = None  # (scale, low, high) of the loss curve
        self.background_for: tuple | None = None  # the path plot's limits
        self._static: bytes | None = None  # the loss curve's static parts, as PNG
        self._path_static: bytes | None = None  # the path plot's

    def _frame(self, result: MinimizeResult, trial: Any) -> tuple:
        """Axis limits holding the start, the run's path (up to where it first rose above
        the start), its end and the trial run's end (the minimum, where known)."""
        from gradmagic.plots import frame

        names = self.problem.variables
        columns = [_descent(result.run, i) for i in range(len(names))]
        if trial is not None:
            columns = [np.concatenate([c, _descent(trial, i)]) for i, c in enumerate(columns)]
        return tuple(frame(c) for c in columns)

    def _background(self, limits: tuple, result: MinimizeResult, trial: Any) -> None:
        from gradmagic.plots import draw_contours, evaluate_on, readable_ticks

        axes = self.path_axes
        assert axes is not None
        axes.clear()
        objective = self.problem.pointwise()
        start = [float(result.start[n]) for n in self.problem.variables]
        minimum = _minimum(trial)
        if len(limits) == 1:
            xs = np.linspace(*limits[0], 200)
            ys = evaluate_on(objective, xs)
            axes.plot(xs, ys, color="gray")
            axes.set_xlim(*limits[0])
            finite = ys[np.isfinite(ys)]
            low, high = float(finite.min()), float(finite.max())
            pad = 0.08 * (high - low or 1.0)
            axes.set_ylim(low - pad, high + pad)
            axes.set_xlabel(self.problem.variables[0])
            axes.set_ylabel(self.problem.label)
            at = [objective(v) for v in start]
            axes.plot(start, at, "o", color="black", label="start")
            if minimum is not None:
                axes.plot(
                    minimum[:1],
                    [float(objective(minimum[0]))],
                    "*",
                    color="C2",
                    ms=10,
                    label="minimum",
                )
        else:
            draw_contours(axes, objective, limits[0], limits[1], 50, levels=15, linewidths=0.7)
            axes.set_xlim(*limits[0])
            axes.set_ylim(*limits[1])
            axes.set_xlabel(self.problem.variables[0])
            axes.set_ylabel(self.problem.variables[1])
            axes.plot(start[:1], start[1:], "o", color="black", label="start")
            if minimum is not None:
                axes.plot(minimum[:1], minimum[1:], "*", color="C2", ms=10, label="minimum")
        (self.path_line,) = axes.plot([], [], ".-", markersize=3, color="C1")
        (self.end_marker,) = axes.plot([], [], "X", color="C3", ms=8, label="end")
        # The legend sits above the axes, beside the title: never over the path
        axes.legend(
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=3,
            fontsize=8,
            frameon=False,
            borderaxespad=0.1,
            handletextpad=0.3,
            columnspacing=0.8,
        )
        readable_ticks(axes)
        axes.set_title("path", loc="left")
        self.background_for = limits
        self._path_static = None

    def draw(
        self, result: MinimizeResult, trial: Any = None
    ) -> tuple[tuple[bytes, str], tuple[bytes, str] | None]:
        """Both plots (see :meth:`draw_curve` and :meth:`draw_path`)."""
        return self.draw_curve(result), self.draw_path(result, trial)

    def draw_curve(self, result: MinimizeResult) -> tuple[bytes, str]:
        """Update the loss curve's moving artists; return its static PNG and an SVG of the
        moving artists to lay over it.  The static parts (axes, ticks, contours) are
        rendered only when the start or the number of steps changes or a run leaves the
        frame, which is then grown generously, so a new learning rate or momentum sends
        the same PNG (an unchanged widget value, so no message) and a few kilobytes of
        SVG.  Call it first for each result: it notices a new start."""
        from gradmagic.lab.panel_svg import overlay

        history = np.asarray(result.history, dtype=float)
        start = tuple(np.asarray(result.start[n], float).tobytes() for n in self.problem.variables)
        if self._start_for != (start, result.run.requested_steps):
            self._start_for = (start, result.run.requested_steps)
            self.curve_frame = None
            self.background_for = None
        self._draw_curve(result, history)
        moving = [self.curve, self.epoch_dots, self.title]
        if self.rate_line is not None:
            self._draw_rates(result)
            moving.append(self.rate_line)
        self._static = self._static or _static_png(self.figure, moving)
        return self._static, overlay(self.figure, moving)

    def draw_path(self, result: MinimizeResult, trial: Any = None) -> tuple[bytes, str] | None:
        """The path plot as :meth:`draw_curve` returns the loss curve (None without one).
        ``trial`` (a run reaching the minimum from the same start) helps frame it."""
        from gradmagic.lab.panel_svg import overlay

        if self.path_axes is None or not result.path:
            return None
        self._draw_path(result, np.asarray(result.history, dtype=float), trial)
        moving = [self.path_line, self.end_marker]
        self._path_static = self._path_static or _static_png(self.path_figure, moving)
        return self._path_static, overlay(self.path_figure, moving)

    def _draw_curve(self, result: MinimizeResult, history: np.ndarray) -> None:
        frame = self.curve_frame
        values = _descent_values(history)
        if frame is None or not _fits(values, frame):
            frame = _curve_frame(values, frame)
            self._set_curve_frame(frame, result.run.requested_steps)
        scale, low, _ = frame
        finite = np.isfinite(history)
        shown = history[finite]
        if scale == "log":
            # 0 and values far below the start sit on the floor, just above the axis
            shown = np.maximum(shown, low * 1.5)
        steps = np.asarray(result.recorded_steps)
        self.curve.set_data(steps[finite], shown)
        batching, ends = result.run.batching, result.epoch_loss
        minibatches = batching is not None and ends is not None and not batching.full
        self.curve.set_alpha(0.5 if minibatches else 1.0)
        if minibatches:
            ends = np.asarray(ends, dtype=float)
            at = np.asarray(result.recorded_epochs) * batching.per_epoch
            self.epoch_dots.set_data(at, np.maximum(ends, low * 1.5) if scale == "log" else ends)
        else:
            self.epoch_dots.set_data([], [])
        reached = steps[finite & (history <= 0)] if scale == "log" else []
        title = "loss curve"
        if result.diverged:
            title += f": diverged at step {result.diverged_at}"
        elif len(reached):
            title += f": reached 0 at step {int(reached[0])}"
        self.title.set_text(title)
        self.title.set_color("#b00" if result.diverged else "black")

    def _draw_rates(self, result: MinimizeResult) -> None:
        """Step k's learning rate at x = k (none for L-BFGS, whose line search picks each
        step).  The panel's limits follow the peak only when it leaves them or drops below a
        quarter of them, so a slider drag redraws the line alone."""
        rates = result.lr_history
        if rates is None:
            self.rate_line.set_data([], [])
            return
        rates = np.asarray(rates, dtype=float)
        peak = float(np.max(rates, initial=0.0)) or 1.0
        if not self.rate_top / 4 <= peak <= self.rate_top:
            self.rate_top = 1.25 * peak
            self.rate_axes.set_ylim(0.0, self.rate_top)
            self._static = None
        self.rate_line.set_data(np.asarray(result.recorded_steps)[1:], rates)

    def _set_curve_frame(self, frame: tuple, steps: int) -> None:
        from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

        scale, low, high = frame
        axes = self.curve_axes
        axes.set_yscale(scale)
        axes.set_xlim(-0.02 * steps, 1.02 * steps)
        axes.set_ylim(low, high)
        axes.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        if scale == "log":
            axes.yaxis.set_major_locator(LogLocator(numticks=6))
            axes.yaxis.set_minor_locator(NullLocator())
            # Plain "1e-03" labels: mathtext's 10^x layout is slow.
            axes.yaxis.set_major_formatter(self.log_labels)
        else:
            axes.yaxis.set_major_locator(MaxNLocator(5))
        self.curve_frame = frame
        self._static = None

    def _draw_path(self, result: MinimizeResult, history: np.ndarray, trial: Any) -> None:
        limits = self.background_for
        if limits is None:
            self._background(self._frame(result, trial), result, trial)
        elif _outside(result.run, limits):
            # grown generously, so the next few learning rates stay inside
            self._background(_grown(limits, self._frame(result, None)), result, trial)
        columns = [np.asarray(result.path[n], dtype=float) for n in self.problem.variables]
        keep = np.all([np.isfinite(c) for c in columns], axis=0)
        if len(columns) == 1:
            # history[k] is the objective at path[k]: no need to evaluate it again
            self.path_line.set_data(columns[0][keep], history[keep])
        else:
            self.path_line.set_data(columns[0][keep], columns[1][keep])
        ends = np.nonzero(keep)[0]
        if ends.size:
            last = ends[-1]
            y = history[last] if len(columns) == 1 else columns[1][last]
            self.end_marker.set_data([columns[0][last]], [y])


def _static_png(figure: Any, moving: list) -> bytes:
    """``figure`` as PNG without its ``moving`` artists (the overlay draws those)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = figure.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(figure)
    shown = [artist.get_visible() for artist in moving]
    for artist in moving:
        artist.set_visible(False)
    canvas.draw()
    for artist, visible in zip(moving, shown, strict=True):
        artist.set_visible(visible)
    buffer = io.BytesIO()
    # RGB: the figure is opaque, and a quarter less to compress; zlib's run-length
    # strategy (3) is about as small and faster on flat plot colours
    Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).save(
        buffer, format="png", compress_level=1, compress_type=3
    )
    return buffer.getvalue()


def _descent(run: Any, i: int) -> np.ndarray:
    """Variable ``i`` along ``run`` up to where the objective first rose above its start."""
    history = np.asarray(run.history, dtype=float)
    column = np.asarray(run.path[i], dtype=float)
    bad = np.nonzero(~np.isfinite(history) | (history > history[0]))[0]
    return column[: bad[0] if bad.size else len(column)]


def _outside(run: Any, limits: tuple) -> bool:
    """Whether the run's descending part leaves the frame ``limits``."""
    for i, (low, high) in enumerate(limits):
        column = _descent(run, i)
        if column.size and (column.min() < low or column.max() > high):
            return True
    return False


def _minimum(trial: Any) -> list[float] | None:
    """The end of a trial run that converged (small gradient), else None."""
    if trial is None or trial.diverged_at is not None or not trial.grad_norm < 1e-3:
        return None
    return [float(np.asarray(v)) for v in trial.values]


def _grown(old: tuple, new: tuple) -> tuple:
    """Limits holding ``old`` and ``new``, each span doubled about its middle."""
    grown = []
    for (low0, high0), (low1, high1) in zip(old, new, strict=True):
        low, high = min(low0, low1), max(high0, high1)
        middle, half = (low + high) / 2, high - low
        grown.append((middle - half, middle + half))
    return tuple(grown)


def _descent_values(history: np.ndarray) -> np.ndarray:
    """The objective up to where it first became non-finite or rose above its start."""
    if not history.size or not np.isfinite(history[0]):
        return history[:0]
    bad = np.nonzero(~np.isfinite(history) | (history > history[0]))[0]
    return history[: bad[0] if bad.size else len(history)]


FLOOR = 1e-12  # a log-scale loss curve shows 12 decades below the start at most


def _fits(values: np.ndarray, frame: tuple) -> bool:
    """Whether the descending part of a loss curve shows well in ``frame``."""
    scale, low, high = frame
    if not values.size:
        return True
    if scale == "linear":
        return bool(values.min() >= low and values.max() <= high)
    positive = values[values > 0]
    floored = low <= FLOOR * values[0] or not positive.size or positive.min() >= 2 * low
    return bool(values.min() >= 0 and values.max() <= high and floored)


def _curve_frame(values: np.ndarray, previous: tuple | None) -> tuple:
    """``(scale, low, high)`` for a loss curve: a log scale where it spans decades or
    reaches 0, with room for a couple more decades below (limits never shrink while the
    start is the same, so the frame changes rarely)."""
    if not values.size:
        return previous or ("linear", 0.0, 1.0)
    top, positive = float(values[0]), values[values > 0]
    wide = positive.size and (positive.size < values.size or positive.max() > 100 * positive.min())
    was_log = previous is not None and previous[0] == "log"
    if top > 0 and values.min() >= 0 and (wide or was_log):
        # 6 decades below the start, or 12 where the run goes further: one frame for
        # most learning rates, so the axes are redrawn rarely
        deep = positive.size < values.size or positive.min() < 1e-6 * top
        low = top * (FLOOR if deep else 1e-6) / 2
        if was_log:
            low = min(low, previous[1])
        return "log", low, 2 * top
    low, high = float(values.min()), float(values.max())
    span = high - low or abs(high) or 1.0
    if previous is not None and previous[0] == "linear":
        return "linear", min(low - 0.5 * span, previous[1]), max(high + 0.08 * span, previous[2])
    return "linear", low - 0.08 * span, high + 0.08 * span

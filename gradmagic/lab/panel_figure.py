"""The panel's figure: built once, its artists updated in place, rendered by blitting."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradmagic.minimize.problem import Problem
from gradmagic.minimize.result import MinimizeResult


def _plain_log_label(value: float, _: Any = None) -> str:
    return f"{value:.0e}"


class PanelFigure:
    """One matplotlib figure, built once; each run only updates its artists."""

    def __init__(self, problem: Problem) -> None:
        from matplotlib.ticker import FuncFormatter

        from gradmagic.plots import new_figure

        self.problem = problem
        self.log_labels = FuncFormatter(_plain_log_label)
        # A fixed layout: constrained layout measures every tick label on every redraw.
        self.figure = new_figure(9.5, 3.4, layout=None, dpi=80)
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.88, wspace=0.28)
        self.curve_axes = self.figure.add_subplot(1, 2, 1)
        self.curve_axes.set_xlabel("step")
        self.curve_axes.set_ylabel("objective")
        (self.curve,) = self.curve_axes.plot([], [])
        self.path_axes = (
            self.figure.add_subplot(1, 2, 2) if len(problem.variables) in (1, 2) else None
        )
        self.path_line = None
        self.end_marker = None
        self._start_for: tuple | None = None
        self.background_for: tuple | None = None
        self._static: Any = None  # the rendered static parts, for blitting

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
        aux = self.problem.aux()

        def objective(*values: Any) -> Any:
            return self.problem.objective(tuple(values), aux)

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
        axes.legend(loc="best", fontsize=8, framealpha=0.6)
        readable_ticks(axes)
        axes.set_title("path")
        self.background_for = limits

    def draw(self, result: MinimizeResult, trial: Any = None) -> bytes:
        """Update the artists and render: static parts come from a cached buffer (blitting).
        ``trial`` (a run reaching the minimum from the same start) helps frame the path."""
        history = np.asarray(result.history, dtype=float)
        finite = np.isfinite(history)
        steps = np.arange(len(history))
        axes = self.curve_axes
        positive = history[finite & (history > 0)]
        reached = np.nonzero(finite & (history <= 0))[0] if finite.any() else []
        shown = history.copy()
        logarithmic = (
            positive.size > 1
            and (len(reached) or positive.max() > 100 * positive.min())
            and history[finite].min() >= 0
        )
        if logarithmic:
            # A floor for the log scale: 0 and values 12 decades below the start sit on it
            # (dozens of decades of ticks cost most of a redraw).
            floor = max(positive.min(), 1e-12 * positive.max()) / 10
            shown[finite] = np.maximum(shown[finite], floor)
        self.curve.set_data(steps[finite], shown[finite])
        axes.set_yscale("linear")
        axes.relim()
        axes.autoscale_view()
        if logarithmic:
            from matplotlib.ticker import LogLocator, NullLocator

            axes.set_yscale("log")
            axes.yaxis.set_major_locator(LogLocator(numticks=6))
            axes.yaxis.set_minor_locator(NullLocator())
            # Plain "1e-03" labels: mathtext's 10^x layout is the slowest part of a redraw.
            axes.yaxis.set_major_formatter(self.log_labels)
        title = "loss curve"
        if result.diverged:
            title += f": diverged at step {result.diverged_at}"
        elif len(reached):
            title += f": reached 0 at step {int(reached[0])}"
        axes.set_title(title, color="#b00" if result.diverged else "black")
        if self.path_axes is not None and result.path:
            limits = self.background_for
            if (
                limits is None
                or self._start_for != tuple(result.start.values())
                or _outside(result.run, limits)
            ):
                self._start_for = tuple(result.start.values())
                self._background(self._frame(result, trial), result, trial)
                self._static = None
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
        return self._render()

    def _render(self) -> bytes:
        import io

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from PIL import Image

        canvas = self.figure.canvas
        if not isinstance(canvas, FigureCanvasAgg):
            canvas = FigureCanvasAgg(self.figure)
        if self._static is None:
            # Everything but the moving parts, drawn once per start point.
            self.curve_axes.set_visible(False)
            moving = [a for a in (self.path_line, self.end_marker) if a is not None]
            for artist in moving:
                artist.set_visible(False)
            canvas.draw()
            self._static = canvas.copy_from_bbox(self.figure.bbox)
            self.curve_axes.set_visible(True)
            for artist in moving:
                artist.set_visible(True)
        canvas.restore_region(self._static)
        renderer = canvas.get_renderer()
        self.curve_axes.draw(renderer)
        if self.path_line is not None and self.path_axes is not None:
            self.path_axes.draw_artist(self.path_line)
            self.path_axes.draw_artist(self.end_marker)
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(canvas.buffer_rgba())).save(
            buffer, format="png", compress_level=1
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

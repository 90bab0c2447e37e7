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
        self.background_for: tuple | None = None
        self._static: Any = None  # the rendered static parts, for blitting

    def _background(self, start: tuple[float, ...]) -> None:
        from gradmagic.plots import draw_contours, evaluate_on

        axes = self.path_axes
        assert axes is not None
        axes.clear()
        aux = self.problem.aux()

        def objective(*values: Any) -> Any:
            return self.problem.objective(tuple(values), aux)

        spans = [max(1.0, 1.5 * abs(v)) for v in start]
        if len(start) == 1:
            xs = np.linspace(-spans[0], spans[0], 200) + 0.0
            axes.plot(xs, evaluate_on(objective, xs), color="gray")
            axes.set_xlabel(self.problem.variables[0])
            axes.set_ylabel(self.problem.label)
            (self.path_line,) = axes.plot([], [], ".-", markersize=3, color="C1")
        else:
            spans0, spans1 = (-spans[0], spans[0]), (-spans[1], spans[1])
            draw_contours(axes, objective, spans0, spans1, 50, levels=15, linewidths=0.7)
            axes.set_xlabel(self.problem.variables[0])
            axes.set_ylabel(self.problem.variables[1])
            (self.path_line,) = axes.plot([], [], ".-", markersize=3, color="C1")
            axes.set_xlim(-spans[0], spans[0])
            axes.set_ylim(-spans[1], spans[1])
        axes.set_title("path")
        self.background_for = start

    def draw(self, result: MinimizeResult) -> bytes:
        """Update the artists and render: static parts come from a cached buffer (blitting)."""
        history = np.asarray(result.history, dtype=float)
        finite = np.isfinite(history)
        steps = np.arange(len(history))
        self.curve.set_data(steps[finite], history[finite])
        axes = self.curve_axes
        axes.set_yscale("linear")
        axes.relim()
        axes.autoscale_view()
        if (
            finite.any()
            and history[finite].min() > 0
            and history[finite].max() > 100 * history[finite].min()
        ):
            from matplotlib.ticker import LogLocator, NullLocator

            axes.set_yscale("log")
            axes.yaxis.set_major_locator(LogLocator(numticks=6))
            axes.yaxis.set_minor_locator(NullLocator())
            # Plain "1e-03" labels: mathtext's 10^x layout is the slowest part of a redraw.
            axes.yaxis.set_major_formatter(self.log_labels)
        title = "loss curve"
        if result.diverged:
            title += f": diverged at step {result.diverged_at}"
        axes.set_title(title, color="#b00" if result.diverged else "black")
        if self.path_axes is not None and result.path:
            start = tuple(float(result.start[n]) for n in self.problem.variables)
            if self.background_for != start:
                self._background(start)
                self._static = None
            columns = [np.asarray(result.path[n], dtype=float) for n in self.problem.variables]
            keep = np.all([np.isfinite(c) for c in columns], axis=0)
            if len(columns) == 1:
                # history[k] is the objective at path[k]: no need to evaluate it again
                self.path_line.set_data(columns[0][keep], history[keep])
            else:
                self.path_line.set_data(columns[0][keep], columns[1][keep])
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
            if self.path_line is not None:
                self.path_line.set_visible(False)
            canvas.draw()
            self._static = canvas.copy_from_bbox(self.figure.bbox)
            self.curve_axes.set_visible(True)
            if self.path_line is not None:
                self.path_line.set_visible(True)
        canvas.restore_region(self._static)
        renderer = canvas.get_renderer()
        self.curve_axes.draw(renderer)
        if self.path_line is not None and self.path_axes is not None:
            self.path_axes.draw_artist(self.path_line)
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(canvas.buffer_rgba())).save(
            buffer, format="png", compress_level=1
        )
        return buffer.getvalue()

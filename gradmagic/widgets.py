"""``%minimize --widgets``: an interactive optimizer lab built from ipywidgets.

The panel maps control values to a run (:meth:`OptimizerPanel.recompute`, pure apart from
drawing) and keeps the wiring separate, as ipywidgets' ``interact`` does.  Speed comes
from three choices:

* every run reuses the compiled loop of ``%minimize`` (learning rate, momentum, steps and
  start are dynamic arguments, so no control ever recompiles);
* the figure is built once and its artists are updated in place (``set_data``), then
  rendered to PNG into one ``Image`` widget: no output area is cleared, nothing flickers;
* the front end keeps at most one update in flight and merges the rest while the kernel
  is busy, so a drag never queues a backlog as long as one update is quick.

Moving controls never touches the notebook; "Use these values" writes the current
result's values back.  Errors inside callbacks are shown in the panel's message area.
"""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as widgets
import numpy as np

from gradmagic import render
from gradmagic.errors import GradmagicError
from gradmagic.minimize_result import MinimizeResult, magic_line
from gradmagic.minimizing import Problem

PANEL_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop", "lbfgs")
LR_RANGE = (-5.0, 1.0)  # log10 of the slider's ends
_SLIDER_WIDTH = 420  # px of the slider track, so the stability marker lines up under it
_DESCRIPTION_WIDTH = 110


def _fraction(lr: float) -> float:
    low, high = LR_RANGE
    return min(max((math.log10(lr) - low) / (high - low), 0.0), 1.0)


class StartPoint(widgets.HBox):
    """One number field per scalar variable; ``values`` reads them in variable order."""

    def __init__(self, names: tuple[str, ...], values: tuple[Any, ...]) -> None:
        self.fields = {
            name: widgets.FloatText(
                value=float(value),
                description=f"{name}₀",
                layout=widgets.Layout(width="150px"),
                style={"description_width": "30px"},
            )
            for name, value in zip(names, values, strict=True)
        }
        super().__init__(children=list(self.fields.values()))

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(field.value for field in self.fields.values())


class OptimizerPanel(widgets.VBox):
    """Learning rate, optimizer, steps, momentum and start, with a live plot and summary."""

    def __init__(
        self,
        problem: Problem,
        namespace: dict[str, Any],
        *,
        optimizer: str = "sgd",
        lr: float = 0.01,
        steps: int = 200,
        momentum: float | None = None,
        tol: float | None = None,
    ) -> None:
        from gradmagic.optimize import resolve_optimizer, suggested_learning_rate

        self.problem = problem
        self._namespace = namespace
        self._tol = tol
        if not all(np.shape(value) == () for value in problem.start):
            raise GradmagicError(
                "--widgets needs scalar variables (one or two, for the plot); "
                "for arrays use %minimize without --widgets."
            )
        spec = resolve_optimizer(optimizer)
        self.lambda_min, self.lambda_max, self.bound = suggested_learning_rate(
            problem.objective, problem.start, problem.aux(), cache_key=problem.cache_key
        )
        description = {"description_width": f"{_DESCRIPTION_WIDTH}px"}
        self.lr = widgets.FloatLogSlider(
            value=lr,
            base=10,
            min=LR_RANGE[0],
            max=LR_RANGE[1],
            step=0.05,
            description="learning rate",
            readout_format=".3g",
            style=description,
            layout=widgets.Layout(width=f"{_SLIDER_WIDTH + _DESCRIPTION_WIDTH + 80}px"),
        )
        choices = list(PANEL_OPTIMIZERS) + (
            [spec.name] if spec.name not in PANEL_OPTIMIZERS else []
        )
        self.optimizer = widgets.Dropdown(
            options=choices, value=spec.name, description="optimizer", style=description
        )
        self.steps = widgets.BoundedIntText(
            value=steps, min=1, max=100_000, description="steps", style=description
        )
        self.momentum = widgets.FloatSlider(
            value=momentum if momentum is not None else (spec.default_momentum or 0.9),
            min=0.0,
            max=0.999,
            step=0.001,
            description=spec.momentum_name or "momentum",
            readout_format=".3f",
            style=description,
        )
        self.start = StartPoint(problem.variables, problem.start)
        self.best_step = widgets.Button(
            description="best step",
            tooltip="lr = 2/(λmin+λmax) of the Hessian at the start: the fastest stable SGD rate on a quadratic",
        )
        self.use = widgets.Button(description="Use these values", button_style="primary")
        self.stability = widgets.HTML()
        self.marker = widgets.HTML(self._marker_html())
        self.plot = widgets.Image(format="png", layout=widgets.Layout(width="760px"))
        self.summary = widgets.HTML()
        self.line = widgets.HTML()
        self.message = widgets.HTML()
        self.result: MinimizeResult | None = None
        self._figure = _PanelFigure(problem)
        super().__init__(
            children=[
                self.lr,
                self.marker,
                self.stability,
                widgets.HBox([self.optimizer, self.momentum]),
                widgets.HBox([self.steps, self.best_step]),
                self.start,
                self.plot,
                self.summary,
                self.line,
                widgets.HBox([self.use]),
                self.message,
            ]
        )
        for widget, name in (
            (self, "gm-panel"),
            (self.lr, "gm-lr"),
            (self.optimizer, "gm-optimizer"),
            (self.plot, "gm-plot"),
            (self.summary, "gm-summary"),
            (self.stability, "gm-stability"),
            (self.message, "gm-message"),
        ):
            widget.add_class(name)  # stable hooks for styling and the browser tests
        for control in (self.lr, self.steps, self.momentum, *self.start.fields.values()):
            control.observe(self._on_change, names="value")
        self.optimizer.observe(self._on_optimizer, names="value")
        self._switching = False  # set while a switch of optimizer adjusts other controls
        self.best_step.on_click(self._on_best_step)
        self.use.on_click(self._on_use)
        self.recompute()

    # ------------------------------------------------------------------ pure-ish mapping
    def recompute(self) -> MinimizeResult | None:
        """Run the current settings, then redraw; errors land in the message area."""
        from gradmagic.optimize import resolve_optimizer

        try:
            spec = resolve_optimizer(self.optimizer.value)
            self.momentum.layout.display = None if spec.momentum_name else "none"
            self.momentum.description = spec.momentum_name or "momentum"
            self.lr.disabled = not spec.uses_lr  # L-BFGS: the line search picks each step
            momentum = self.momentum.value if spec.momentum_name else None
            self.result = self.problem.solve(
                optimizer=spec.name,
                lr=self.lr.value,
                steps=self.steps.value,
                momentum=momentum,
                tol=self._tol,
                start=self.start.values,
            )
            self.stability.value = self._stability_html(spec.name)
            self.summary.value = self.result._repr_html_()
            self.line.value = (
                '<code style="user-select:all">'
                + html.escape(
                    magic_line(
                        self.problem.label,
                        self.problem.variables,
                        spec.name,
                        self.lr.value,
                        self.steps.value,
                        momentum,
                        self._tol,
                    )
                )
                + "</code>"
            )
            self.plot.value = self._figure.draw(self.result)
            self.message.value = ""
        except GradmagicError as error:
            self.message.value = f'<span style="color:#b00">{html.escape(str(error))}</span>'
        except Exception as error:  # a dead panel helps nobody: say what happened
            self.message.value = (
                f'<span style="color:#b00">{html.escape(type(error).__name__)}: '
                f"{html.escape(str(error))}</span>"
            )
        return self.result

    # ------------------------------------------------------------------ wiring
    def _on_change(self, change: dict[str, Any]) -> None:
        if not self._switching:
            self.recompute()

    def _on_optimizer(self, change: dict[str, Any]) -> None:
        """A new optimizer starts from its own default momentum/β (0.9 for adam's b1),
        not the previous optimizer's, and recomputes once."""
        from gradmagic.optimize import resolve_optimizer

        spec = resolve_optimizer(change["new"])
        if spec.default_momentum is not None:
            self._switching = True
            try:
                self.momentum.value = spec.default_momentum
            finally:
                self._switching = False
        self.recompute()

    def _on_best_step(self, _: Any = None) -> None:
        if self.lambda_min > 0 and math.isfinite(self.lambda_max):
            self.lr.value = 2.0 / (self.lambda_min + self.lambda_max)
        elif math.isfinite(self.bound):
            self.lr.value = self.bound / 2
            self.message.value = (
                "The Hessian at the start is not positive definite, so there is no best "
                "quadratic step; using half the stability bound."
            )

    def _on_use(self, _: Any = None) -> None:
        result = self.result
        if result is None or not result.succeeded:
            self.message.value = "Nothing to use: the current run did not finish cleanly."
            return
        self._namespace.update(result.values)
        self._namespace["_min"] = result
        written = ", ".join(f"{n} = {render.array(v)}" for n, v in result.values.items())
        self.message.value = f"Wrote {html.escape(written)} to the notebook."

    # ------------------------------------------------------------------ display pieces
    def _marker_html(self) -> str:
        if not math.isfinite(self.bound):
            return ""
        left = _DESCRIPTION_WIDTH + 12 + _fraction(self.bound) * _SLIDER_WIDTH
        return (
            f'<div style="position:relative;height:16px;font-size:11px;color:#b00">'
            f'<span style="position:absolute;left:{left:.0f}px">▲ 2/λmax = {render.number(self.bound, 3)}</span></div>'
        )

    def _stability_html(self, optimizer: str) -> str:
        lr = self.lr.value
        if not math.isfinite(self.bound):
            return "No positive curvature at the start: no SGD stability bound."
        from gradmagic.optimize import resolve_optimizer

        if not resolve_optimizer(optimizer).uses_lr:
            return f"{optimizer} chooses every step length by line search: the learning rate is not used."
        if optimizer != "sgd":
            note = f"(the bound 2/λmax = {render.number(self.bound, 3)} is exact for plain SGD on a quadratic)"
            return f"lr = {render.number(lr, 3)} {note}"
        if lr < self.bound:
            return f"lr = {render.number(lr, 3)} &lt; 2/λmax = {render.number(self.bound, 3)}: stable for SGD."
        return (
            f'<span style="color:#b00">lr = {render.number(lr, 3)} ≥ 2/λmax = '
            f"{render.number(self.bound, 3)}: SGD oscillates with growing steps and diverges.</span>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = self.text_summary()
        return bundle

    def text_summary(self) -> str:
        """A deterministic line for nbval and terminals (widget views are not compared)."""
        if self.result is None:
            return f"OptimizerPanel for {self.problem.label}: {self.message.value}"
        return (
            f"OptimizerPanel for {self.problem.label} ({self.result.settings_text()}, "
            f"{self.steps.value} steps): {self.result.status()} "
            + ", ".join(f"{n} = {render.array(v)}" for n, v in self.result.values.items())
        )


def _plain_log_label(value: float, _: Any = None) -> str:
    return f"{value:.0e}"


class _PanelFigure:
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

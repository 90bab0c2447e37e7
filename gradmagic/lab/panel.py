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
from gradmagic.lab.panel_figure import PanelFigure
from gradmagic.minimize.curvature import curvature_at
from gradmagic.minimize.optimizers import OptimizerSpec, resolve_optimizer
from gradmagic.minimize.problem import Problem
from gradmagic.minimize.result import MinimizeResult, magic_line
from gradmagic.minimize.step_size import StepSizeAdvice

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
        self.problem = problem
        self._namespace = namespace
        self._tol = tol
        if not all(np.shape(value) == () for value in problem.start):
            raise GradmagicError(
                "--widgets needs scalar variables (one or two, for the plot); "
                "for arrays use %minimize without --widgets."
            )
        spec = resolve_optimizer(optimizer)
        self.curvature = curvature_at(
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
        self.marker = widgets.HTML()
        self.plot = widgets.Image(format="png", layout=widgets.Layout(width="760px"))
        self.summary = widgets.HTML()
        self.line = widgets.HTML()
        self.message = widgets.HTML()
        self.result: MinimizeResult | None = None
        self._figure = PanelFigure(problem)
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
            advice = self.advice(spec)
            self.marker.value = self._marker_html(advice)
            self.stability.value = self._stability_html(advice)
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

    @property
    def lambda_min(self) -> float:
        """The smallest Hessian eigenvalue at the start."""
        return self.curvature.lambda_min

    @property
    def lambda_max(self) -> float:
        """The largest Hessian eigenvalue at the start."""
        return self.curvature.lambda_max

    @property
    def bound(self) -> float:
        """The chosen optimizer's largest stable learning rate (inf where it has none)."""
        bound = self.advice().bound
        return math.inf if bound is None else bound

    def advice(self, spec: OptimizerSpec | None = None) -> StepSizeAdvice:
        """The step-size rules for the chosen optimizer and momentum at this curvature."""
        spec = spec or resolve_optimizer(self.optimizer.value)
        momentum = self.momentum.value if spec.momentum_name else None
        return StepSizeAdvice.for_optimizer(self.curvature, spec, momentum)

    # ------------------------------------------------------------------ wiring
    def _on_change(self, change: dict[str, Any]) -> None:
        if not self._switching:
            self.recompute()

    def _on_optimizer(self, change: dict[str, Any]) -> None:
        """A new optimizer starts from its own default momentum/β (0.9 for adam's b1),
        not the previous optimizer's, and recomputes once."""
        spec = resolve_optimizer(change["new"])
        if spec.default_momentum is not None:
            self._switching = True
            try:
                self.momentum.value = spec.default_momentum
            finally:
                self._switching = False
        self.recompute()

    def _on_best_step(self, _: Any = None) -> None:
        """The fastest stable setting on a quadratic with the curvature at the start (for
        momentum methods, the learning rate and the momentum together)."""
        advice = self.advice()
        if advice.best is None:
            self.message.value = html.escape(
                f"No best-step rule for {advice.name} here: it needs a positive definite "
                "Hessian and an optimizer whose steps scale with the gradient (sgd, momentum, "
                "nesterov)."
            )
            return
        lr, momentum = advice.best
        if momentum is not None:
            self._switching = True
            try:
                self.momentum.value = momentum
            finally:
                self._switching = False
        self.lr.value = lr

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
    def _marker_html(self, advice: StepSizeAdvice) -> str:
        bound = advice.bound
        if bound is None:
            return ""
        left = _DESCRIPTION_WIDTH + 12 + _fraction(bound) * _SLIDER_WIDTH
        return (
            f'<div style="position:relative;height:16px;font-size:11px;color:#b00">'
            f'<span style="position:absolute;left:{left:.0f}px">▲ {advice.formula} = '
            f"{render.number(bound, 3)}</span></div>"
        )

    def _stability_html(self, advice: StepSizeAdvice) -> str:
        text = html.escape(advice.stability(self.lr.value))
        if advice.regime(self.lr.value) in ("edge", "unstable"):
            return f'<span style="color:#b00">{text}</span>'
        return text

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

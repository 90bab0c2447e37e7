"""``%minimize --widgets``: an interactive optimizer lab built from ipywidgets.

The panel maps control values to a run (:meth:`OptimizerPanel.recompute`, pure apart from
drawing) and keeps the wiring separate, as ipywidgets' ``interact`` does.  Speed comes
from three choices:

* every run reuses the compiled loop of ``%minimize`` (learning rate, momentum, steps and
  start are dynamic arguments, so no control ever recompiles);
* the figure is built once and its artists are updated in place (``set_data``); its
  static parts go out as a PNG when they change, the moving artists as a small SVG laid
  over it (:mod:`gradmagic.lab.panel_svg`): no output area is cleared, nothing flickers,
  and a slider step sends no image;
* the front end keeps at most one update in flight and sends the next when the kernel is
  idle, so a slider step computes only the run and its plots; the curvature along the run
  and the texts follow once the slider rests (:mod:`gradmagic.lab.settle`).

One learning rate: the panel keeps it (``learning_rate``) at the digits it shows, and the
slider, the readout, the texts, the summary and the ``%minimize`` line all show that
number; a slider echo within half a slider step of it never replaces it.  The stability
bound and "best step" use the curvature met from the current start (see
:mod:`gradmagic.minimize.run_curvature`), cached per start.

Moving controls never touches the notebook; "Use these values" writes the current
result's values back.  Errors inside callbacks are shown in the panel's message area.
"""

from __future__ import annotations

import contextlib
import html
import math
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets

from gradmagic import render
from gradmagic.errors import GradmagicError
from gradmagic.lab import panel_html
from gradmagic.lab.panel_controls import (
    MOMENTUM_DECADES,
    PanelText,
    PlotView,
    StartPoint,
    TrainingControls,
    decades,
    lr_controls,
    row,
)
from gradmagic.lab.panel_figure import PanelFigure
from gradmagic.lab.settle import Settle
from gradmagic.minimize.curvature import Curvature
from gradmagic.minimize.optimizers import OptimizerSpec, resolve_optimizer
from gradmagic.minimize.problem import Problem, start_difference
from gradmagic.minimize.result import MinimizeResult, magic_line
from gradmagic.minimize.run_curvature import CurvatureMet
from gradmagic.minimize.step_size import StepSizeAdvice, lr_text, rounded

PANEL_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop", "lbfgs")
LR_RANGE = (-5.0, 1.0)  # log10 of the slider's ends (widened to hold a rate outside)
LR_STEP = 0.01  # decades per slider step; the rate itself is never snapped to it


class OptimizerPanel(PanelText, widgets.VBox):
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
        training: dict[str, Any] | None = None,
        schedule: str | None = None,
    ) -> None:
        self.problem = problem
        self._namespace = namespace
        self._tol = tol
        self.schedule = schedule  # --schedule: the slider sets its peak
        spec = resolve_optimizer(optimizer)
        self.met = CurvatureMet(problem)
        self.learning_rate = rounded(lr)
        exponent = math.log10(self.learning_rate)
        self.lr_range = (
            min(LR_RANGE[0], math.floor(exponent)),
            max(LR_RANGE[1], math.ceil(exponent)),
        )
        self.lr, self.lr_readout = lr_controls(self.learning_rate, self.lr_range, LR_STEP)
        choices = list(PANEL_OPTIMIZERS) + (
            [spec.name] if spec.name not in PANEL_OPTIMIZERS else []
        )
        description = {"description_width": "80px"}
        self.optimizer = widgets.Dropdown(
            options=choices,
            value=spec.name,
            description="optimizer",
            style=description,
            layout=widgets.Layout(width="230px"),
        )
        self.steps = widgets.BoundedIntText(
            value=steps,
            min=1,
            max=100_000,
            description="steps",
            style=description,
            layout=widgets.Layout(width="230px"),
        )
        beta = rounded(momentum if momentum is not None else (spec.default_momentum or 0.9))
        self.momentum = widgets.BoundedFloatText(
            value=beta,
            min=0.0,
            max=0.9999,
            step=0.001,
            description=spec.momentum_name or "momentum",
            style=description,
            layout=widgets.Layout(width="170px"),
        )
        self.momentum_scale = widgets.FloatSlider(
            value=decades(beta),
            min=0.0,
            max=MOMENTUM_DECADES,
            step=0.01,
            readout=False,
            tooltip="-log10(1-β): 1 is 0.9, 2 is 0.99, 3 is 0.999",
            layout=widgets.Layout(flex="1 1 160px", min_width="120px"),
        )
        self.momentum_box = row(self.momentum, self.momentum_scale, flex="1 1 330px")
        self.start = StartPoint(problem.variables, problem.start, problem.names)
        # With --data: batch size and epochs instead of steps (None without data)
        self.training = TrainingControls.for_problem(problem, training or {})
        self.best_step = widgets.Button(
            description="best step",
            tooltip="lr = 2/(λmin+λmax) of the curvature met from the start, checked by a run",
        )
        self.use = widgets.Button(description="Use these values", button_style="primary")
        self.style = widgets.HTML(panel_html.STYLE, layout=widgets.Layout(display="none"))
        self.stability = widgets.HTML()
        self.marker = widgets.HTML(layout=widgets.Layout(width="100%", margin="0"))
        self.plot_view, self.path_view = PlotView("gm-plot"), PlotView("gm-path")
        self.plot, self.path_plot = self.plot_view.image, self.path_view.image
        self.summary = widgets.HTML(layout=widgets.Layout(max_width="100%", overflow="auto"))
        self.line = widgets.HTML(layout=widgets.Layout(max_width="100%"))
        self.message = widgets.HTML()
        self.result: MinimizeResult | None = None
        self.curvature: Curvature | None = None
        self._figure = PanelFigure(problem, scheduled=schedule is not None)
        self._quiet = False  # set while the panel adjusts its own controls
        self._texts = Settle(lambda: self._shown(self._describe))  # after a slider step
        track = widgets.VBox(
            [self.lr, self.marker], layout=widgets.Layout(flex="1 1 200px", min_width="150px")
        )
        super().__init__(
            children=[
                self.style,
                row(
                    widgets.Label("learning rate", layout=widgets.Layout(width="95px")),
                    track,
                    self.lr_readout,
                ),
                self.stability,
                row(self.optimizer, self.momentum_box),
                row(self.training or self.steps, self.best_step),
                self.start,
                row(self.plot_view, self.path_view),  # side by side, stacked when narrow
                self.summary,
                self.line,
                widgets.HBox([self.use]),
                self.message,
            ],
            layout=widgets.Layout(max_width="100%"),
        )
        for widget, name in (
            (self, "gm-panel"),
            (self.lr, "gm-lr"),
            (self.lr_readout, "gm-lr-readout"),
            (self.optimizer, "gm-optimizer"),
            (self.momentum_scale, "gm-momentum"),
            (self.summary, "gm-summary"),
            (self.stability, "gm-stability"),
            (self.marker, "gm-marker-row"),
            (self.line, "gm-line"),
            (self.message, "gm-message"),
        ):
            widget.add_class(name)  # stable hooks for styling and the browser tests
        controls = self.training.controls if self.training else (self.steps,)
        for control in (*controls, *self.start.fields.values()):
            control.observe(self._on_change, names="value")
        self.lr.observe(self._on_slider, names="value")
        self.lr_readout.observe(self._on_readout, names="value")
        self.momentum.observe(self._on_momentum, names="value")
        self.momentum_scale.observe(self._on_momentum_scale, names="value")
        self.optimizer.observe(self._on_optimizer, names="value")
        self.best_step.on_click(self._on_best_step)
        self.use.on_click(self._on_use)
        self.recompute()

    # ------------------------------------------------------------------ pure-ish mapping
    def recompute(self) -> MinimizeResult | None:
        """Run the current settings, redraw, then describe the run (texts, marker)."""
        self._texts.cancel()
        if self._shown(self._run_and_draw):
            self._shown(self._describe)
        return self.result

    def _slide(self) -> None:
        """A slider step: the run and its plots now, the texts once the slider rests."""
        ran = self._shown(self._run_and_draw)
        self._texts.later() if ran else self._texts.cancel()  # a failed step keeps its message

    def _shown(self, part: Callable[[], None]) -> bool:
        """Run ``part``; an error lands in the message area (a dead panel helps nobody)."""
        try:
            part()
            return True
        except GradmagicError as error:
            self.message.value = panel_html.warning(str(error))
        except Exception as error:  # say what happened
            self.message.value = panel_html.warning(f"{type(error).__name__}: {error}")
        return False

    def _run_and_draw(self) -> None:
        spec = resolve_optimizer(self.optimizer.value)
        self.momentum_box.layout.display = None if spec.momentum_name else "none"
        self.momentum.description = spec.momentum_name or "momentum"
        self.lr.disabled = self.lr_readout.disabled = not spec.uses_lr  # L-BFGS
        start = self.start.values
        self.result = self.problem.solve(
            optimizer=spec.name,
            lr=self.learning_rate,
            steps=self.steps.value,
            momentum=self.momentum_value if spec.momentum_name else None,
            tol=self._tol,
            schedule=self.schedule if spec.uses_lr else None,
            start=start,
            curvature=self.met.for_start(start, self.steps.value),  # cached per start
            **(self.training.settings() if self.training else {}),
        )
        self.result.in_panel = True
        # the loss curve before the path: each widget sends its message at once
        self.plot_view.show(*self._figure.draw_curve(self.result))
        path = self._figure.draw_path(self.result, self.met.trial(start, self.steps.value))
        if path is not None:
            self.path_view.show(*path)
        self.path_view.layout.display = None if path else "none"

    def _describe(self) -> None:
        """The curvature along the run, and the texts it feeds: marker, stability,
        summary, line (a widget whose text did not change sends nothing)."""
        assert self.result is not None
        spec = resolve_optimizer(self.optimizer.value)
        momentum = self.momentum_value if spec.momentum_name else None
        start = self.start.values
        self.curvature = self.met.for_run(start, self.steps.value, self.result.run)
        advice = self.advice(spec)
        if self.result.diverged:
            self.result.advice = advice  # the same numbers as the marker and the text
        line = magic_line(
            self.problem.label,
            self.problem.names,
            spec.name,
            self.learning_rate,
            self.steps.value,
            momentum,
            self._tol,
            start_difference(self.problem, start),
            self.training.line_options() if self.training else None,
            self.schedule,
        )
        texts = panel_html.texts(advice, self.learning_rate, self.lr_range, self.result, line)
        for name, value in texts.items():
            getattr(self, name).value = value
        self.message.value = ""

    @property
    def momentum_value(self) -> float:
        """The momentum the runs use: the field's value at the digits shown."""
        return rounded(self.momentum.value)

    @property
    def bound(self) -> float:
        """The chosen optimizer's largest stable learning rate (inf where it has none)."""
        bound = self.advice().bound
        return math.inf if bound is None else bound

    def advice(self, spec: OptimizerSpec | None = None) -> StepSizeAdvice:
        """The step-size rules for the chosen optimizer and momentum at this curvature."""
        spec = spec or resolve_optimizer(self.optimizer.value)
        momentum = self.momentum_value if spec.momentum_name else None
        return StepSizeAdvice.for_optimizer(self.curvature, spec, momentum)

    def set_lr(self, value: float, *, sliding: bool = False) -> None:
        """Set the learning rate (rounded to the digits shown) and rerun (``sliding``: a
        slider step, whose texts wait until the slider rests)."""
        if not value > 0 or not math.isfinite(value):
            raise GradmagicError(f"The learning rate must be a positive number, got {value}.")
        self.learning_rate = rounded(value)
        with self._adjusting():
            low, high = (10**end for end in self.lr_range)
            shown = min(max(self.learning_rate, low), high)
            # a slider already within half a step of it stays (no message to send)
            if abs(math.log10(self.lr.value / shown)) >= LR_STEP / 2:
                self.lr.value = shown
            if not sliding:
                self.lr_readout.value = lr_text(self.learning_rate)
        self._slide() if sliding else self.recompute()
        with self._adjusting():  # a slider step's readout: after the plots, which go first
            self.lr_readout.value = lr_text(self.learning_rate)

    # ------------------------------------------------------------------ wiring
    @contextlib.contextmanager
    def _adjusting(self) -> Iterator[None]:
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _on_change(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.recompute()

    def _on_slider(self, change: dict[str, Any]) -> None:
        """A slider move sets the rate, unless it is the slider's own echo of the rate
        (the front end snaps a value it is given to its steps)."""
        if self._quiet:
            return
        new = float(change["new"])
        low = self.lr_range[0]
        snapped = 10 ** (low + round((math.log10(self.learning_rate) - low) / LR_STEP) * LR_STEP)
        if math.isclose(new, snapped, rel_tol=1e-6) or math.isclose(new, self.learning_rate):
            return
        self.set_lr(new, sliding=self.lr.moved)  # code setting the value gets the texts now

    def _on_readout(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        try:
            value = float(change["new"])
        except ValueError:
            value = math.nan
        if not value > 0 or not math.isfinite(value):
            self.message.value = panel_html.warning(
                f"{change['new']!r} is not a learning rate: type a positive number, e.g. 0.01."
            )
            with self._adjusting():
                self.lr_readout.value = lr_text(self.learning_rate)
            return
        self.set_lr(value)

    def _on_momentum(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        with self._adjusting():
            self.momentum_scale.value = decades(float(change["new"]))
        self.recompute()

    def _on_momentum_scale(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.momentum.value = rounded(1.0 - 10.0 ** -float(change["new"]))

    def _on_optimizer(self, change: dict[str, Any]) -> None:
        """A new optimizer starts from its own default momentum/β (0.9 for adam's b1),
        not the previous optimizer's, and recomputes once."""
        spec = resolve_optimizer(change["new"])
        if spec.default_momentum is not None:
            with self._adjusting():
                self.momentum.value = spec.default_momentum
                self.momentum_scale.value = decades(spec.default_momentum)
        self.recompute()

    def _on_best_step(self, _: Any = None) -> None:
        """The fastest stable setting on a quadratic with the curvature met from the start
        (for momentum methods, the learning rate and the momentum together), checked by a
        run that does not diverge."""
        spec = resolve_optimizer(self.optimizer.value)
        momentum = self.momentum_value if spec.momentum_name else None
        best = self.met.best_step(spec, momentum, self.start.values, self.steps.value)
        if best is None:
            self.message.value = panel_html.no_best_step(self.advice().name)
            return
        lr, momentum = best
        if momentum is not None:
            with self._adjusting():
                self.momentum.value = momentum
                self.momentum_scale.value = decades(momentum)
        self.set_lr(lr)

    def _on_use(self, _: Any = None) -> None:
        result = self.result
        if result is None or not result.succeeded:
            self.message.value = "Nothing to use: the current run did not finish cleanly."
            return
        self._namespace.update(self.problem.by_name(result.run.values, written=True))
        self._namespace["_min"] = result
        written = ", ".join(f"{n} = {render.summary(v)}" for n, v in result.values.items())
        self.message.value = f"Wrote {html.escape(written)} to the notebook."

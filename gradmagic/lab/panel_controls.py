"""Small controls of the optimizer panel: wrapping rows, the start point, the momentum scale."""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as widgets
import numpy as np
from traitlets import CFloat

from gradmagic import render
from gradmagic.minimize.step_size import lr_text

MOMENTUM_DECADES = 3.0  # the momentum slider runs over -log10(1-β): 0 … 0.999


def decades(beta: float) -> float:
    """Where momentum β sits on its slider: -log10(1-β), so 0.9, 0.99, 0.999 are 1, 2, 3."""
    return min(-math.log10(max(1.0 - beta, 1e-12)), MOMENTUM_DECADES)


def row(*children: widgets.Widget, **layout: Any) -> widgets.HBox:
    """Children side by side, wrapping onto new lines in a narrow output area."""
    box = widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap", **layout))
    box.add_class("gm-row")
    return box


class LogSlider(widgets.FloatLogSlider):
    """A log slider whose moves the kernel does not echo back to the browser (the front
    end already shows its own value, and an echo is one more message ahead of the plot on
    each step) and which tells a move in the browser (``moved``) from code setting it."""

    value = CFloat(1.0, help="Float value").tag(sync=True, echo_update=False)
    moved = False  # True while a value from the browser is being set (a drag, a key)

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state message from the browser; code setting ``value`` never comes here."""
        self.moved = True
        try:
            super().set_state(sync_data)
        finally:
            self.moved = False


def lr_controls(
    lr: float, lr_range: tuple[float, float], step: float
) -> tuple[LogSlider, widgets.Text]:
    """The learning rate's slider (``step`` decades per step over ``10**lr_range``) and
    its readout, where a rate can be typed."""
    slider = LogSlider(
        value=lr,
        base=10,
        min=lr_range[0],
        max=lr_range[1],
        step=step,
        readout=False,
        layout=widgets.Layout(width="100%", margin="0"),
    )
    readout = widgets.Text(
        value=lr_text(lr),
        continuous_update=False,
        layout=widgets.Layout(width="90px"),
        tooltip="type a learning rate",
    )
    return slider, readout


class PlotView(widgets.Box):
    """One plot, 380 px wide (narrower where the output area is): its static PNG in an
    ``Image`` (CSS class ``name``) with the moving artists' SVG laid over it in an
    ``HTML`` widget (class ``name-overlay``), so a slider step sends a few kilobytes of SVG and no image."""

    def __init__(self, name: str) -> None:
        flat = {"margin": "0", "padding": "0"}
        self.image = widgets.Image(
            format="png", layout=widgets.Layout(width="100%", height="auto", **flat)
        )
        self.image.add_class(name)
        self.overlay = widgets.HTML(layout=widgets.Layout(**flat))
        self.overlay.add_class("gm-overlay")
        self.overlay.add_class(f"{name}-overlay")
        super().__init__(
            [self.image, self.overlay], layout=widgets.Layout(width="380px", max_width="100%")
        )
        self.add_class("gm-figure")

    def show(self, png: bytes, svg: str) -> None:
        """The static image (sent only when it changed) and the overlay."""
        self.image.value = png
        self.overlay.value = svg


class StartPoint(widgets.HBox):
    """One number field per scalar variable; ``values`` reads them in variable order.

    A model (any array or pytree variable) has no fields: a run starts from the notebook's
    current values, which the panel says instead of showing thousands of numbers."""

    def __init__(
        self, names: tuple[str, ...], values: tuple[Any, ...], holders: tuple[str, ...] = ()
    ) -> None:
        self.start = tuple(values)
        self.editable = all(np.shape(value) == () for value in values)
        self.fields = {}
        children: list[Any] = []
        if self.editable:
            self.fields = {
                name: widgets.FloatText(
                    value=float(value),
                    description=f"{name}₀",
                    layout=widgets.Layout(width="150px"),
                    style={"description_width": "30px"},
                )
                for name, value in zip(names, values, strict=True)
            }
            children = list(self.fields.values())
        else:
            numbers = sum(int(np.size(value)) for value in values)
            label = ", ".join(holders or names)
            children = [
                widgets.HTML(
                    f"start: the current values of {html.escape(label)} "
                    f"({numbers:,} numbers)".replace(",", " ")
                )
            ]
        super().__init__(children=children, layout=widgets.Layout(flex_flow="row wrap"))

    @property
    def values(self) -> tuple[Any, ...]:
        if not self.editable:
            return self.start
        return tuple(field.value for field in self.fields.values())


class PanelText:
    """The panel's deterministic text form (nbval and terminals do not see widget views)."""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = self.text_summary()
        return bundle

    @property
    def line_text(self) -> str:
        """The ``%minimize`` line under the plot, as plain text."""
        return html.unescape(self.line.value.split(">", 1)[1].rsplit("<", 1)[0])

    def _length(self) -> str:
        training = getattr(self, "training", None)
        return f"{training.epochs.value} epochs" if training else f"{self.steps.value} steps"

    def text_summary(self) -> str:
        """A deterministic line for nbval and terminals (widget views are not compared)."""
        if self.result is None:
            return f"OptimizerPanel for {self.problem.label}: {self.message.value}"
        return (
            f"OptimizerPanel for {self.problem.label} ({self.result.settings_text()}, "
            f"{self._length()}): {self.result.message} "
            + ", ".join(f"{n} = {render.summary(v)}" for n, v in self.result.values.items())
        )


class TrainingControls(widgets.HBox):
    """With ``--data``: the batch size (powers of two up to the examples, or all of them)
    and the number of epochs, in place of the steps field."""

    def __init__(self, data: tuple[str, ...], examples: int, settings: dict[str, Any]) -> None:
        self.data = data
        self.seed = settings.get("seed") or 0
        sizes = [2**k for k in range(20) if 2**k < examples]
        batch = settings.get("batch")
        if batch is not None and batch not in sizes and batch < examples:
            sizes = sorted({*sizes, batch})
        self.batch = widgets.Dropdown(
            options=[(str(n), n) for n in sizes] + [(f"all {examples}", None)],
            value=None if batch is None or batch >= examples else batch,
            description="batch",
            style={"description_width": "80px"},
            layout=widgets.Layout(width="200px"),
        )
        self.epochs = widgets.BoundedIntText(
            value=settings.get("epochs") or 10,
            min=1,
            max=10_000,
            description="epochs",
            style={"description_width": "60px"},
            layout=widgets.Layout(width="150px"),
        )
        self.controls = (self.batch, self.epochs)
        super().__init__(children=list(self.controls))
        self.add_class("gm-training")  # a stable hook for the browser tests

    @classmethod
    def for_problem(cls, problem: Any, settings: dict[str, Any]) -> TrainingControls | None:
        """The controls for a problem with data (None without)."""
        if not problem.data:
            return None
        first = problem.program.frozen[problem.data[0]]
        import jax

        examples = int(np.shape(jax.tree_util.tree_leaves(first)[0])[0])
        return cls(tuple(problem.data), examples, settings)

    def settings(self) -> dict[str, Any]:
        """What a run takes: ``batch``, ``epochs`` and ``seed``."""
        return {"batch": self.batch.value, "epochs": self.epochs.value, "seed": self.seed}

    def line_options(self) -> str:
        """The same settings as ``%minimize`` options."""
        batch = "" if self.batch.value is None else f" --batch {self.batch.value}"
        return (
            f"--data {','.join(self.data)}{batch} --epochs {self.epochs.value} --seed {self.seed}"
        )

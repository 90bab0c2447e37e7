"""Small controls of the optimizer panel: wrapping rows, the start point, the momentum scale."""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as widgets
import numpy as np

MOMENTUM_DECADES = 3.0  # the momentum slider runs over -log10(1-β): 0 … 0.999


def decades(beta: float) -> float:
    """Where momentum β sits on its slider: -log10(1-β), so 0.9, 0.99, 0.999 are 1, 2, 3."""
    return min(-math.log10(max(1.0 - beta, 1e-12)), MOMENTUM_DECADES)


def row(*children: widgets.Widget, **layout: Any) -> widgets.HBox:
    """Children side by side, wrapping onto new lines in a narrow output area."""
    box = widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap", **layout))
    box.add_class("gm-row")
    return box


def plot_image(name: str) -> widgets.Image:
    """A PNG image of one plot (380 px, narrower where the output area is), CSS class ``name``."""
    image = widgets.Image(
        format="png", layout=widgets.Layout(width="380px", max_width="100%", height="auto")
    )
    image.add_class(name)
    return image


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

"""Small controls of the optimizer panel: wrapping rows, the start point, the momentum scale."""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets

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
        super().__init__(
            children=list(self.fields.values()), layout=widgets.Layout(flex_flow="row wrap")
        )

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(field.value for field in self.fields.values())

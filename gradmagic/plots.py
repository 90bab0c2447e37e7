"""Plots for tapes (and later minimisation runs), drawn with matplotlib's object API.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state, no backend
surprises) and shown as a bare PNG plus a fixed one-line text, so nbval, which skips
images, compares only that deterministic line.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from gradmagic.errors import GradmagicError
from gradmagic.render import Rendered

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gradmagic.tape import Tape


def new_figure(
    width: float = 6.0, height: float = 4.0, layout: str | None = "constrained", dpi: int = 100
) -> Figure:
    """A figure outside pyplot; ``layout=None`` for figures redrawn often (the panel)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=dpi, layout=layout)


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


class Plot:
    """A finished figure that displays itself: a PNG plus a fixed one-line text.

    nbval skips images and compares the text, so the text says what is drawn and never
    changes between runs.  ``figure`` is the matplotlib figure, for users who want to
    restyle or save it.
    """

    def __init__(self, figure: Figure, description: str) -> None:
        self.figure = figure
        self.description = description

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        data = base64.b64encode(png_bytes(self.figure)).decode("ascii")
        return {"image/png": data, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"[plot: {self.description}]"


class ShownWithPlot(Rendered):
    """A result that displays its tables and then its plot (see :meth:`displayed_plot`).

    One object returned by a magic can then show a table and a figure, the way a notebook
    user expects both; ``r = %minimize ...`` keeps it and shows nothing.
    """

    animation: Any = None  # shown instead of the plot when set (``--animate``)

    def displayed_plot(self) -> Plot | None:
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display({"text/plain": repr(self), "text/html": self._repr_html_()}, raw=True)
        plot = self.animation if self.animation is not None else self.displayed_plot()
        if plot is not None:
            display(plot)


def evaluate_on(function: Callable[..., Any], *coordinates: np.ndarray) -> np.ndarray:
    """``function`` at every point of flattened coordinate arrays (one per argument).

    A function with an ``on_grid`` method (a problem's objective, see
    :class:`~gradmagic.minimize.grid_values.PointObjective`) evaluates them in one compiled
    call; otherwise vectorised with ``jax.vmap`` when the code allows, else point by point
    (Python control flow on values cannot be vectorised).
    """
    import jax
    import jax.numpy as jnp

    def vectorised(*columns: np.ndarray) -> np.ndarray:
        return np.asarray(jax.vmap(function)(*[jnp.asarray(c) for c in columns]))

    try:  # one attempt at a vectorised evaluation: a failed on_grid fails vmap too
        return getattr(function, "on_grid", vectorised)(*coordinates)
    except Exception:
        return np.array([float(function(*point)) for point in zip(*coordinates, strict=True)])


def contour_levels(values: np.ndarray, count: int) -> np.ndarray | int:
    """``count`` levels, log-spaced above the minimum where the values span decades (so
    Rosenbrock's valley shows), else ``count`` (matplotlib's evenly spaced ones)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return count
    low, high = float(finite.min()), float(finite.max())
    middle = float(np.median(finite))
    if high <= low or middle - low > 0.05 * (high - low):
        return count
    return low + np.geomspace((high - low) * 1e-4, high - low, count)


def frame(points: np.ndarray, margin: float = 0.12, least: float = 0.5) -> tuple[float, float]:
    """Axis limits holding every finite value of ``points`` with a margin on each side."""
    finite = points[np.isfinite(points)]
    low, high = float(finite.min()), float(finite.max())
    span = max(high - low, least * max(1e-3, 0.01 * abs(low) + 0.01 * abs(high)), 1e-3)
    if high - low < span:
        middle = (low + high) / 2
        low, high = middle - span / 2, middle + span / 2
    return low - margin * span, high + margin * span


def readable_ticks(axes: Any) -> None:
    """At most five ticks per axis, so labels never collide."""
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(5))
    axes.yaxis.set_major_locator(MaxNLocator(5))


def draw_contours(
    axes: Any,
    function: Callable[..., Any],
    range0: tuple[float, float],
    range1: tuple[float, float],
    points: int,
    **style: Any,
) -> Any:
    """Contour lines of a two-argument scalar function over a ``points``² grid (levels
    log-spaced where the values span decades, unless ``levels`` is a sequence)."""
    mesh0, mesh1 = np.meshgrid(np.linspace(*range0, points), np.linspace(*range1, points))
    values = evaluate_on(function, mesh0.ravel(), mesh1.ravel()).reshape(mesh0.shape)
    if isinstance(style.get("levels"), int):
        style["levels"] = contour_levels(values, style["levels"])
    return axes.contour(mesh0, mesh1, values, cmap="viridis", **style)


def tape_plot(tape: Tape) -> Plot:
    """One scalar input: target and tangent (and quadratic with --hessian); two: contours."""
    derivatives = tape.derivatives
    external = [s for s in derivatives.sources if not s.intermediate]
    scalar_inputs = [s for s in external if np.shape(tape.program.source_value(s)) == ()]
    scalar_targets = [t for t in derivatives.targets if np.shape(derivatives.values[t]) == ()]
    if (
        not scalar_targets
        or len(scalar_inputs) not in (1, 2)
        or len(scalar_inputs) != len(external)
    ):
        raise GradmagicError(
            "--plot needs a scalar target and one or two scalar inputs; "
            f"this tape has inputs {', '.join(s.label for s in external) or 'none'}. "
            "Choose them with --wrt."
        )
    from gradmagic.cell_program import cell_function

    target = scalar_targets[0]
    label = tape.program.label(target)
    function = cell_function(tape.program, external, [target])

    def scalar(*values: Any) -> Any:
        return function(*values)[0]

    point = [float(tape.program.source_value(s)) for s in external]
    gradient = [
        float(np.asarray(derivatives.jacobians[target][derivatives.sources.index(s)]))
        for s in external
    ]
    value = float(derivatives.values[target])
    figure = new_figure()
    axes = figure.add_subplot()
    if len(external) == 1:
        name = external[0].label
        span = max(1.0, abs(point[0]))
        xs = np.linspace(point[0] - span, point[0] + span, 201)
        ys = evaluate_on(scalar, xs)
        axes.plot(xs, ys, label=label)
        axes.plot(xs, value + gradient[0] * (xs - point[0]), "--", label="tangent")
        if target in derivatives.hessians:
            curvature = float(np.asarray(derivatives.hessians[target])[0, 0])
            quadratic = (
                value + gradient[0] * (xs - point[0]) + 0.5 * curvature * (xs - point[0]) ** 2
            )
            axes.plot(xs, quadratic, ":", label="quadratic approximation")
        axes.plot([point[0]], [value], "o", color="black")
        axes.set_xlabel(name)
        axes.set_ylabel(label)
        low, high = float(np.nanmin(ys)), float(np.nanmax(ys))
        margin = 0.1 * (high - low or 1.0)
        axes.set_ylim(low - margin, high + margin)
        axes.legend()
        description = f"{label} against {name} around {name} = {point[0]:g}, with its tangent"
    else:
        (n0, n1) = (external[0].label, external[1].label)
        spans = [max(1.0, abs(p)) for p in point]
        contours = draw_contours(
            axes,
            scalar,
            (point[0] - spans[0], point[0] + spans[0]),
            (point[1] - spans[1], point[1] + spans[1]),
            61,
            levels=20,
        )
        axes.clabel(contours, fontsize=7)
        norm = float(np.hypot(*gradient)) or 1.0
        scale = 0.25 * min(spans) / norm
        axes.annotate(
            "",
            xy=(point[0] + gradient[0] * scale, point[1] + gradient[1] * scale),
            xytext=(point[0], point[1]),
            arrowprops={"arrowstyle": "->", "color": "red", "lw": 2},
        )
        axes.plot([point[0]], [point[1]], "o", color="black")
        axes.set_xlabel(n0)
        axes.set_ylabel(n1)
        axes.set_title(f"{label}: contours and gradient (red)")
        description = (
            f"contours of {label} over {n0}, {n1} with the gradient at ({point[0]:g}, {point[1]:g})"
        )
    return Plot(figure, description)

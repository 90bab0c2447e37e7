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


def show_png(figure: Figure, description: str) -> None:
    """Display a figure as PNG with a deterministic text alternative."""
    from IPython.display import display

    data = base64.b64encode(png_bytes(figure)).decode("ascii")
    display({"image/png": data, "text/plain": f"[plot: {description}]"}, raw=True)


def evaluate_on(function: Callable[..., Any], *coordinates: np.ndarray) -> np.ndarray:
    """``function`` at every point of flattened coordinate arrays (one per argument).

    Vectorised with ``jax.vmap`` when the code allows, else point by point (Python control
    flow on values cannot be vectorised).
    """
    import jax
    import jax.numpy as jnp

    try:
        return np.asarray(jax.vmap(function)(*[jnp.asarray(c) for c in coordinates]))
    except Exception:
        return np.array([float(function(*point)) for point in zip(*coordinates, strict=True)])


def draw_contours(
    axes: Any,
    function: Callable[..., Any],
    range0: tuple[float, float],
    range1: tuple[float, float],
    points: int,
    **style: Any,
) -> Any:
    """Contour lines of a two-argument scalar function over a ``points``² grid."""
    mesh0, mesh1 = np.meshgrid(np.linspace(*range0, points), np.linspace(*range1, points))
    values = evaluate_on(function, mesh0.ravel(), mesh1.ravel()).reshape(mesh0.shape)
    return axes.contour(mesh0, mesh1, values, cmap="viridis", **style)


def plot_tape(tape: Tape) -> None:
    """One scalar input: target and tangent (and quadratic with --hessian); two: contours."""
    derivatives = tape._derivatives
    external = [s for s in derivatives.sources if not s.intermediate]
    scalar_inputs = [s for s in external if np.shape(tape._program.frozen[s.name]) == ()]
    scalar_targets = [t for t in derivatives.targets if np.shape(derivatives.values[t]) == ()]
    if (
        not scalar_targets
        or len(scalar_inputs) not in (1, 2)
        or len(scalar_inputs) != len(external)
    ):
        raise GradmagicError(
            "--plot needs a scalar target and one or two scalar inputs; "
            f"this tape has inputs {', '.join(s.name for s in external) or 'none'}. "
            "Choose them with --wrt."
        )
    from gradmagic.core import cell_function

    target = scalar_targets[0]
    label = tape._program.label(target)
    function = cell_function(tape._program, external, [target])

    def scalar(*values: Any) -> Any:
        return function(*values)[0]

    point = [float(tape._program.frozen[s.name]) for s in external]
    gradient = [
        float(np.asarray(derivatives.jacobians[target][derivatives.sources.index(s)]))
        for s in external
    ]
    value = float(derivatives.values[target])
    figure = new_figure()
    axes = figure.add_subplot()
    if len(external) == 1:
        name = external[0].name
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
        (n0, n1) = (external[0].name, external[1].name)
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
    show_png(figure, description)


def _path_extent(paths: list[np.ndarray], center: float) -> tuple[float, float]:
    finite = np.concatenate([p[np.isfinite(p)] for p in paths] + [np.array([center])])
    low, high = float(finite.min()), float(finite.max())
    span = max(high - low, 1e-3 * max(1.0, abs(center)), 0.5)
    return low - 0.25 * span, high + 0.25 * span


def draw_minimization(figure: Figure, problem: Any, results: list[Any], with_path: bool) -> None:
    """Loss curves (left) and, for one or two scalar variables, paths (right)."""
    scalar = all(np.shape(value) == () for value in problem.start)
    show_path = with_path and scalar and len(problem.variables) in (1, 2)
    curves = figure.add_subplot(1, 2 if show_path else 1, 1)
    for result in results:
        history = np.asarray(result.history, dtype=float)
        curves.plot(np.arange(len(history)), history, label=result.optimizer)
    finite = np.concatenate([np.asarray(r.history, dtype=float) for r in results])
    finite = finite[np.isfinite(finite)]
    if finite.size and finite.min() > 0 and finite.max() / max(finite.min(), 1e-300) > 100:
        curves.set_yscale("log")
    curves.set_xlabel("step")
    curves.set_ylabel("objective")
    diverged = [r for r in results if r.diverged]
    if len(results) == 1 and diverged:
        curves.set_title(f"loss curve: diverged at step {diverged[0].diverged_at}", color="#b00")
    else:
        curves.set_title("loss curve")
    if len(results) > 1:
        curves.legend()
    if not show_path:
        return
    axes = figure.add_subplot(1, 2, 2)
    aux = problem.aux()

    def objective(*values: Any) -> Any:
        return problem.objective(tuple(values), aux)

    names = problem.variables
    if len(names) == 1:
        paths = [np.asarray(r.path[names[0]], dtype=float) for r in results if r.path]
        low, high = _path_extent(paths, float(problem.start[0]))
        xs = np.linspace(low, high, 200)
        axes.plot(xs, evaluate_on(objective, xs), color="gray")
        for result, path in zip(results, paths, strict=False):
            # history[k] is the objective at path[k]: no need to evaluate it again
            axes.plot(path, result.history, ".-", markersize=3, label=result.optimizer)
        axes.set_xlabel(names[0])
        axes.set_ylabel(problem.label)
    else:
        paths0 = [np.asarray(r.path[names[0]], dtype=float) for r in results if r.path]
        paths1 = [np.asarray(r.path[names[1]], dtype=float) for r in results if r.path]
        low0, high0 = _path_extent(paths0, float(problem.start[0]))
        low1, high1 = _path_extent(paths1, float(problem.start[1]))
        draw_contours(axes, objective, (low0, high0), (low1, high1), 60, levels=20, linewidths=0.8)
        for result, p0, p1 in zip(results, paths0, paths1, strict=False):
            axes.plot(p0, p1, ".-", markersize=3, label=result.optimizer)
        axes.plot([float(problem.start[0])], [float(problem.start[1])], "o", color="black")
        axes.set_xlabel(names[0])
        axes.set_ylabel(names[1])
    axes.set_title("path")
    if len(results) > 1:
        axes.legend()


def show_minimization(problem: Any, results: list[Any], with_path: bool) -> None:
    figure = new_figure(10.0 if with_path else 6.0, 4.0)
    draw_minimization(figure, problem, results, with_path)
    what = "loss curve" + (" and path" if with_path else "")
    show_png(figure, f"{what} of {problem.label}")

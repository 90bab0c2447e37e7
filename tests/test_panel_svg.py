"""The panel's SVG overlay draws the moving artists where Agg would, in few bytes."""

from __future__ import annotations

import re

import numpy as np
import pytest


@pytest.fixture
def panel(nb):
    nb.run("x = 1.0; y = 1.0")
    return nb.run("%minimize x**2 + 10*y**2 --wrt x,y --lr 0.01 --steps 200 --widgets")


def _subpaths(d: str) -> list[np.ndarray]:
    """The polylines of an SVG path made of ``M``/``L`` commands (and ``h0`` dots)."""
    lines: list[list[tuple[float, float]]] = []
    for command, x, y in re.findall(r"([ML])([-\d.]+) ([-\d.]+)", d):
        if command == "M":
            lines.append([])
        lines[-1].append((float(x), float(y)))
    return [np.asarray(line) for line in lines]


def _distance_to_polyline(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Each point's distance to the polyline ``line`` (pixels)."""
    a, b = line[:-1][None], line[1:][None]
    p = points[:, None]
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, -1) / np.maximum(np.sum(ab * ab, -1), 1e-12), 0, 1)
    return np.min(np.linalg.norm(p - (a + t[..., None] * ab), axis=-1), axis=1)


def _display_points(line, height: float) -> np.ndarray:
    """A Line2D's data in the SVG's pixels (y down), as matplotlib transforms it."""
    xy = line.get_transform().transform_path(line.get_path()).vertices
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    return np.column_stack([xy[:, 0], height - xy[:, 1]])


@pytest.mark.parametrize("lr", [0.003, 0.0123, 0.05, 0.095])
def test_overlay_lines_follow_matplotlibs_to_a_fraction_of_a_pixel(panel, lr):
    """Straight stretches go out as one segment (Agg's own simplification, 1/9 px), so a
    200-step loss curve is a few dozen points; every point of the run stays on the drawn
    line, and every point of the path has its dot."""
    panel.lr.value = lr
    figure = panel._figure
    curve_svg, path_svg = panel.plot_view.overlay.value, panel.path_view.overlay.value
    height = figure.figure.bbox.height
    (stroke,) = _subpaths(re.search(r'<path d="([^"]+)" fill="none"', curve_svg).group(1))
    run = _display_points(figure.curve, height)
    assert len(stroke) < 50 < len(run)
    assert _distance_to_polyline(run, stroke).max() < 0.2  # 1/9 px and the 0.1 px rounding
    assert len(curve_svg) < 1500  # was 2.8 kB with every point

    height = figure.path_figure.bbox.height
    stroke, dots = re.findall(r'<path d="([^"]+)"', path_svg)
    path = _display_points(figure.path_line, height)
    (drawn,) = _subpaths(stroke)
    assert _distance_to_polyline(path, drawn).max() < 0.2
    centres = np.vstack(_subpaths(dots))
    nearest = np.min(np.linalg.norm(path[:, None] - centres[None], axis=-1), axis=1)
    assert nearest.max() < 0.1  # a dot on every point of the path (shared where they pile up)
    assert len(centres) <= len(path)


def test_overlays_clip_to_their_own_axes_without_page_wide_ids(panel):
    """Two overlays on one page (two plots, or two panels) must not clip by each other's
    boxes: an SVG id is global to the page, so each line is clipped by a nested viewport
    the size of its own axes instead."""
    for view, figure in (
        (panel.plot_view, panel._figure.figure),
        (panel.path_view, panel._figure.path_figure),
    ):
        svg = view.overlay.value
        assert " id=" not in svg and "url(#" not in svg
        height = figure.bbox.height
        axes_boxes = {
            f"{a.bbox.x0:.1f} {height - a.bbox.y1:.1f} {a.bbox.width:.1f} {a.bbox.height:.1f}"
            for a in figure.axes
        }
        viewports = re.findall(r'<svg x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" '
                               r'viewBox="([^"]+)"', svg)  # fmt: skip
        assert viewports and set(viewports) <= axes_boxes

"""The panel's moving artists as SVG, drawn by the browser over the plot's static PNG.

A slider step changes only a few artists (the loss curve, the epoch dots, the title, the
path and its end).  Rendering them into a new PNG costs the kernel most of an update
(drawing, then compressing 380 × 272 pixels twice) and the browser a decode; as SVG they
are a few kilobytes of text that the browser draws in the same frame.  The coordinates
come from matplotlib's own transforms (log scales included), lines are clipped to the
axes by :meth:`matplotlib.path.Path.cleaned` as Agg clips them, and sizes in points are
converted at the figure's dpi, so the overlay lands on the pixels of the static image.
"""

from __future__ import annotations

import functools
import html
from typing import Any

import numpy as np

# matplotlib's filled "X" marker on a unit square (``markers._x_filled_path``)
_X = [
    (-0.5, -0.25),
    (-0.25, -0.5),
    (0.0, -0.25),
    (0.25, -0.5),
    (0.5, -0.25),
    (0.25, 0.0),
    (0.5, 0.25),
    (0.25, 0.5),
    (0.0, 0.25),
    (-0.25, 0.5),
    (-0.5, 0.25),
    (-0.25, 0.0),
]


def overlay(figure: Any, artists: list) -> str:
    """An ``<svg>`` as big as ``figure`` (pixels, y down) holding the visible ``artists``
    (``Line2D`` and ``Text``), each line clipped to its axes.

    A line is clipped by a nested ``<svg>`` viewport the size of its axes (its viewBox
    keeps the figure's coordinates), not by a ``clipPath``: an id is global to the page,
    and two overlays (two plots, two panels) would clip by each other's boxes."""
    from matplotlib.lines import Line2D

    width, height = figure.bbox.width, figure.bbox.height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" '
        'preserveAspectRatio="none">'
    ]
    px = figure.dpi / 72
    for artist in artists:
        if not artist.get_visible():
            continue
        if isinstance(artist, Line2D):
            parts.append(_line(artist, px, height))
        else:
            parts.append(_text(artist, px, height))
    parts.append("</svg>")
    return "".join(parts)


def _colour(value: Any) -> str:
    """``value`` (any matplotlib colour) as ``#rrggbb``; remembered per value, since
    matplotlib's conversion (through the colour cycle for ``"C0"``) costs more than a
    whole line's coordinates."""
    try:
        return _hex(value)
    except TypeError:  # an array: not hashable
        return _hex(tuple(np.ravel(value).tolist()))


@functools.lru_cache(maxsize=256)
def _hex(value: Any) -> str:
    from matplotlib.colors import to_hex

    return to_hex(value)


def _viewport(axes: Any, height: float) -> str:
    """The opening tag of a nested ``<svg>`` that clips its content to ``axes``."""
    x0, y0, x1, y1 = axes.bbox.extents
    box = f"{x0:.1f} {height - y1:.1f} {x1 - x0:.1f} {y1 - y0:.1f}"
    x, y, w, h = box.split()
    return (
        f'<svg x="{x}" y="{y}" width="{w}" height="{h}" viewBox="{box}" '
        'preserveAspectRatio="none" overflow="hidden">'
    )


def _line(line: Any, px: float, height: float) -> str:
    """A ``Line2D``: its stroke as one clipped path, its markers as circles or shapes."""
    path = line.get_transform().transform_path(line.get_path())
    alpha = line.get_alpha()
    opacity = "" if alpha is None or alpha >= 1 else f' opacity="{alpha:g}"'
    out = [_viewport(line.axes, height), f"<g{opacity}>"]
    if line.get_linestyle() not in ("None", "", " ", "none"):
        x0, y0, x1, y1 = line.axes.bbox.extents
        # Agg's clipping, with a margin so the stroke's ends stay outside the box, and its
        # simplification (a long line drops the points less than 1/9 px off its course)
        cleaned = path.cleaned(
            remove_nans=True,
            clip=(x0 - 5, y0 - 5, x1 + 5, y1 + 5),
            simplify=path.should_simplify,
        )
        codes = cleaned.codes
        keep = (codes == 1) | (codes == 2)  # MOVETO, LINETO (not STOP)
        commands = _points("M", cleaned.vertices[keep], height, codes[keep] == 2)
        if commands:
            out.append(
                f'<path d="{commands}" fill="none" '
                f'stroke="{_colour(line.get_color())}" '
                f'stroke-width="{line.get_linewidth() * px:.2f}" '
                'stroke-linejoin="round" stroke-linecap="square"/>'
            )
    marker = line.get_marker()
    if marker in ("o", ".", "X"):
        points = path.vertices
        x0, y0, x1, y1 = line.axes.bbox.extents
        size = line.get_markersize() * px
        keep = np.all(np.isfinite(points), axis=1)
        keep &= (points[:, 0] > x0 - size) & (points[:, 0] < x1 + size)
        keep &= (points[:, 1] > y0 - size) & (points[:, 1] < y1 + size)
        # a converging run piles its points up: a dot on the last one (at the SVG's 0.1 px)
        # adds nothing
        tenths = np.round(points * 10)
        keep[1:] &= np.any(tenths[1:] != tenths[:-1], axis=1)
        fill = _colour(line.get_markerfacecolor())
        edge = line.get_markeredgewidth() * px  # matplotlib outlines markers too
        if marker == "X":
            for x, y in points[keep]:
                corners = " ".join(
                    f"{x + dx * size:.1f},{height - y - dy * size:.1f}" for dx, dy in _X
                )
                out.append(
                    f'<polygon points="{corners}" fill="{fill}" stroke="{fill}" '
                    f'stroke-width="{edge:.2f}" stroke-linejoin="miter"/>'
                )
        else:
            # dots as zero-length round-capped segments: one short path for all of them
            diameter = (size if marker == "o" else size / 2) + edge  # "." is a half "o"
            dots = _points("M", points[keep], height, None, "h0")
            if dots:
                out.append(
                    f'<path d="{dots}" stroke="{fill}" stroke-width="{diameter:.2f}" '
                    'stroke-linecap="round"/>'
                )
    out.append("</g></svg>")
    return "".join(out)


def _points(
    move: str, points: np.ndarray, height: float, line_to: np.ndarray | None, tail: str = ""
) -> str:
    """SVG path commands for ``points`` (display pixels, y up): each an ``M`` (or an ``L``
    where ``line_to`` says so) and ``tail``; formatted in one ``%`` operation, several
    times faster than an f-string per point for the few hundred points of a run."""
    if not len(points):
        return ""
    if line_to is None:
        template = (move + "%.1f %.1f" + tail) * len(points)
    else:
        step, jump = "L%.1f %.1f" + tail, move + "%.1f %.1f" + tail
        template = "".join([step if draw else jump for draw in line_to.tolist()])
    flipped = np.column_stack([points[:, 0], height - points[:, 1]])
    return template % tuple(flipped.ravel().tolist())


def _text(text: Any, px: float, height: float) -> str:
    """A ``Text`` anchored at its position (horizontal alignment, bottom or top)."""
    x, y = text.get_transform().transform(text.get_position())
    anchor = {"left": "start", "center": "middle", "right": "end"}[text.get_ha()]
    size = text.get_fontsize() * px
    baseline = {"bottom": -0.25 * size, "baseline": 0.0, "top": 0.8 * size}.get(text.get_va(), 0.0)
    return (
        f'<text x="{x:.1f}" y="{height - y + baseline:.1f}" text-anchor="{anchor}" '
        f'font-size="{size:.1f}" font-family="DejaVu Sans, Bitstream Vera Sans, sans-serif" '
        f'fill="{_colour(text.get_color())}">{html.escape(text.get_text())}</text>'
    )

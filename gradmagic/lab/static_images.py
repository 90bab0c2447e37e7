"""The static panel's pictures: axes (and contours) drawn once by matplotlib, over which
the page's script draws the chosen run, and the still image of the chosen setting.

Each figure is rendered twice from one draw (blitting): without the moving lines (the
background the script draws on) and with the chosen run's lines (the still image an
untrusted notebook shows).  Each comes with the pixel box of its axes and their limits, so
the script maps data to pixels exactly as matplotlib did.  Frames are shared by every run
of the panel: a slider move never rescales the axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SIZE = (4.75, 3.4)  # inches, for each of the two figures
DPI = 100
FLOOR = 1e-12  # a log-scale loss curve shows 12 decades below the start at most
COLOURS = 64  # palette of each PNG: a third of the bytes, deterministic


@dataclass(frozen=True)
class Picture:
    """A figure as the page uses it: the background, the still image, where its axes are
    (``box``: left, top, right, bottom in image pixels) and what they show (``limits``:
    x and y ranges; ``log``: a log-scale y axis)."""

    background: bytes
    still: bytes
    width: int
    height: int
    box: tuple[float, float, float, float]
    limits: tuple[tuple[float, float], tuple[float, float]]
    log: bool = False


def descent(history: np.ndarray) -> np.ndarray:
    """A loss curve up to where it first became non-finite or rose above its start."""
    if not history.size or not np.isfinite(history[0]):
        return history[:0]
    bad = np.nonzero(~np.isfinite(history) | (history > history[0]))[0]
    return history[: bad[0] if bad.size else len(history)]


def curve_frame(histories: np.ndarray) -> tuple[bool, float, float]:
    """``(log, low, high)`` holding the descending part of every run (all from one start):
    a log scale where they span decades or reach 0, at most :data:`FLOOR` below the start."""
    top = float(histories[0, 0])
    values = np.concatenate([descent(h) for h in histories])
    positive = values[values > 0]
    wide = positive.size < values.size or (positive.size and positive.min() < top / 100)
    if top > 0 and values.min() >= 0 and wide:
        deepest = positive.min() if positive.size else top * FLOOR
        return True, max(float(deepest), top * FLOOR) / 2, 2 * top
    low, high = float(values.min()), float(values.max())
    span = high - low or abs(high) or 1.0
    return False, low - 0.08 * span, high + 0.08 * span


def path_limits(paths: np.ndarray, histories: np.ndarray) -> list[tuple[float, float]]:
    """Axis limits per variable holding the descending part of every run's path."""
    from gradmagic.plots import frame

    limits = []
    for i in range(paths.shape[2]):
        column = [p[: len(descent(h)), i] for p, h in zip(paths, histories, strict=True)]
        limits.append(frame(np.concatenate(column)))
    return limits


def _figure() -> Any:
    from gradmagic.plots import new_figure

    figure = new_figure(*SIZE, layout=None, dpi=DPI)
    figure.subplots_adjust(left=0.17, right=0.96, bottom=0.15, top=0.9)
    return figure


def _pictures(figure: Any, axes: Any, moving: list, log: bool) -> Picture:
    """Render ``figure`` without, then with, the ``moving`` artists (blitting)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    from gradmagic.minimize.animation import png

    canvas = FigureCanvasAgg(figure)
    for artist in moving:
        artist.set_visible(False)
    canvas.draw()
    background = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    static = canvas.copy_from_bbox(figure.bbox)
    for artist in moving:
        artist.set_visible(True)
    canvas.restore_region(static)
    for artist in moving:
        (artist.axes or figure).draw_artist(artist)
    still = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    width, height = background.size
    bbox = axes.get_window_extent()
    box = (float(bbox.x0), float(height - bbox.y1), float(bbox.x1), float(height - bbox.y0))
    palette = still.quantize(COLOURS, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)

    def encoded(image: Any) -> bytes:
        return png(image.quantize(palette=palette, dither=Image.Dither.NONE))

    limits = (tuple(map(float, axes.get_xlim())), tuple(map(float, axes.get_ylim())))
    return Picture(encoded(background), encoded(still), width, height, box, limits, log)


def curve_picture(
    frame: tuple[bool, float, float],
    steps: int,
    recorded: np.ndarray,
    history: np.ndarray,
    title: str,
) -> Picture:
    """The loss-curve axes (``frame`` from :func:`curve_frame`), with ``history`` (at the
    ``recorded`` steps) and ``title`` drawn in the still image only."""
    from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

    log, low, high = frame
    figure = _figure()
    axes = figure.add_subplot()
    axes.set_xlabel("step")
    axes.set_ylabel("objective")
    axes.set_xlim(-0.02 * steps, 1.02 * steps)
    axes.set_yscale("log" if log else "linear")
    axes.set_ylim(low, high)
    axes.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    if log:
        axes.yaxis.set_major_locator(LogLocator(numticks=6))
        axes.yaxis.set_minor_locator(NullLocator())
    else:
        axes.yaxis.set_major_locator(MaxNLocator(5))
    finite = np.isfinite(history)
    shown = np.maximum(history[finite], low * 1.5) if log else history[finite]
    (curve,) = axes.plot(recorded[finite], shown, color="C0")
    label = axes.text(0.5, 1.03, title, transform=axes.transAxes, ha="center", va="bottom")
    return _pictures(figure, axes, [curve, label], log)


def path_picture(
    problem: Any,
    limits: Sequence[tuple[float, float]],
    path: np.ndarray,
    history: np.ndarray,
) -> Picture:
    """The objective's curve (one variable) or contours (two) over ``limits``, the start
    marked; the still image adds the chosen run's ``path`` (its objective ``history``
    gives the height on a curve)."""
    from gradmagic.plots import draw_contours, evaluate_on, readable_ticks

    figure = _figure()
    axes = figure.add_subplot()
    objective = problem.pointwise()
    names = problem.variables
    start = [float(v) for v in problem.start]
    if len(limits) == 1:
        xs = np.linspace(*limits[0], 200)
        ys = evaluate_on(objective, xs)
        axes.plot(xs, ys, color="gray")
        finite = ys[np.isfinite(ys)]
        low, high = float(finite.min()), float(finite.max())
        pad = 0.08 * (high - low or 1.0)
        axes.set_ylim(low - pad, high + pad)
        axes.set_ylabel(problem.label)
        axes.plot(start, [float(history[0])], "o", color="black", label="start")
        columns = (path[:, 0], history)
    else:
        draw_contours(axes, objective, limits[0], limits[1], 60, levels=15, linewidths=0.7)
        axes.set_ylim(*limits[1])
        axes.set_ylabel(names[1])
        axes.plot(start[:1], start[1:], "o", color="black", label="start")
        columns = (path[:, 0], path[:, 1])
    axes.set_xlim(*limits[0])
    axes.set_xlabel(names[0])
    keep = np.isfinite(columns[0]) & np.isfinite(columns[1])
    xs, ys = columns[0][keep], columns[1][keep]
    (line,) = axes.plot(xs, ys, ".-", markersize=3, color="C1")
    (end,) = axes.plot(xs[-1:], ys[-1:], "X", color="C3", ms=8, label="end")
    axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False)
    readable_ticks(axes)
    axes.set_title("path", loc="left")
    return _pictures(figure, axes, [line, end], False)

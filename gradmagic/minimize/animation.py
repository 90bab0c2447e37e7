"""``--animate`` / ``--save``: a run's loss curve and path drawn step by step.

The figure is the one ``--plot`` draws (:func:`~gradmagic.minimize.plot.draw_minimization`,
several optimizers overlaid for ``--compare``); each frame shows the lines up to one
recorded step.  The frames become matplotlib's JavaScript player (the format of
``Animation.to_jshtml``: frames embedded as PNG images, with play, step and loop controls),
which plays in a saved notebook and in an HTML export with no kernel and no network, or a
GIF written with Pillow.

Frames are blitted: the axes, ticks and contours are drawn once, and each frame only
redraws the growing lines on a copy of them (a full redraw per frame costs about 40 times
more, in tick-label layout).  They share one palette of :data:`COLOURS` colours taken from
the last frame, which makes the PNGs a third of the size and the GIF free of flicker.

Limits, so that a notebook stays light: at most :data:`MAX_FRAMES` frames, evenly spaced
over the recorded steps with the first and last kept, and at most :data:`MAX_BYTES` of
HTML (the resolution, then the frame count, is lowered until it fits).  The HTML is
byte-identical for the same inputs, since nbval compares it: the player's id is derived
from the frames (matplotlib's writer draws a random one), and the icon font it would load
from a CDN is replaced by plain characters.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradmagic.errors import GradmagicError

MAX_FRAMES = 100
MAX_BYTES = 2_000_000
FPS = 20
SIZE = (7.5, 3.0)  # inches, for the loss curve and path (5 wide for the loss curve alone)
DPIS = (100, 90, 80, 72, 64, 56, 48)  # tried in turn until the size fits
FEWEST_FRAMES = 10
COLOURS = 64
SAVE_KINDS = {".gif": "an animated GIF", ".html": "a web page that plays with no kernel"}

# The player's buttons use Font Awesome from a CDN; plain characters work offline.
ICON_FONT = re.compile(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">\s*')
ICON_STYLE = """<style>
.anim-buttons .fa { font-style: normal; display: inline-block; min-width: 1.2em; }
.anim-buttons .fa-flip-horizontal { transform: scaleX(-1); }
.fa-minus::before { content: "\\2212"; } .fa-plus::before { content: "+"; }
.fa-fast-backward::before { content: "|\\25C0\\25C0"; }
.fa-fast-forward::before { content: "\\25B6\\25B6|"; }
.fa-step-backward::before { content: "|\\25C0"; } .fa-step-forward::before { content: "\\25B6|"; }
.fa-play::before { content: "\\25B6"; } .fa-pause::before { content: "\\2016"; }
</style>
"""


@dataclass(frozen=True)
class SaveTarget:
    """Where ``--save`` writes: the path as the user wrote it (shown back) and its kind."""

    text: str
    path: Path
    kind: str  # ".gif" or ".html"


def save_target(text: str | None) -> SaveTarget | None:
    """``--save FILE``, checked before anything runs: a known extension and a folder that
    exists and can be written to."""
    if text is None:
        return None
    path = Path(os.path.expanduser(text))
    kind = path.suffix.lower()
    if kind not in SAVE_KINDS:
        kinds = " or ".join(f"{k} ({what})" for k, what in SAVE_KINDS.items())
        raise GradmagicError(f"--save {text}: the file name must end in {kinds}.")
    folder = path.parent
    if path.is_dir():
        raise GradmagicError(f"--save {text}: that is a folder; give a file name in it.")
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise GradmagicError(
            f"--save {text}: {folder} {what}; create the folder or save elsewhere."
        )
    existed = path.exists()
    try:  # the only sure test (permissions, read-only disks, root): open it for writing
        with open(path, "ab"):
            pass
    except OSError as error:
        raise GradmagicError(
            f"--save {text}: cannot write there ({error.strerror or error}); save elsewhere."
        ) from None
    if not existed:
        path.unlink()
    return SaveTarget(text, path, kind)


def frame_indices(count: int, frames: int = MAX_FRAMES) -> np.ndarray:
    """At most ``frames`` indices into ``count`` recorded steps, evenly spaced, the first
    and the last always among them."""
    if count <= frames:
        return np.arange(count)
    return np.unique(np.round(np.linspace(0, count - 1, max(frames, 2))).astype(int))


def recorded_steps(result: Any) -> np.ndarray:
    """The step number of each recorded point of ``result`` (every step unless the run
    recorded only some: ``recorded_steps``)."""
    steps = getattr(result, "recorded_steps", None)
    return np.arange(len(result.history)) if steps is None else np.asarray(steps)


class Animation:
    """The animation of one run (or a comparison): ``html`` (the player), ``frames``,
    ``images`` (one per frame), ``indices`` (the recorded point each frame shows), ``dpi``,
    ``description``, ``saved`` (the ``--save`` path, if any), ``figure``.

    Displays as the player (``text/html``) with a fixed one-line ``text/plain``;
    :meth:`save` writes it as a GIF or a web page.
    """

    def __init__(
        self,
        problem: Any,
        results: list[Any],
        *,
        max_frames: int = MAX_FRAMES,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        from gradmagic.minimize.plot import draw_minimization
        from gradmagic.plots import new_figure

        scalar = all(np.shape(value) == () for value in problem.start)
        self.with_path = scalar and len(problem.variables) in (1, 2)
        width, height = SIZE
        self.figure = new_figure(width if self.with_path else 5.0, height, dpi=DPIS[0])
        self.artists = draw_minimization(self.figure, problem, results, self.with_path)
        # The layout is computed once: frames must not jiggle, and it is faster.
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")
        self.label = self.figure.text(0.005, 0.995, "", ha="left", va="top", fontsize=9)
        self.full = [
            {
                role: (line.get_xdata(), line.get_ydata())
                for role in ("curve", "path")
                if (line := getattr(drawn, role)) is not None
            }
            for drawn in self.artists
        ]
        self.moving = [self.label] + [
            line
            for drawn in self.artists
            for line in (drawn.curve, drawn.path, drawn.end)
            if line is not None
        ]
        self.steps = [recorded_steps(result) for result in results]
        self.count = max(len(result.history) for result in results)
        self.last_step = max(int(steps[-1]) for steps in self.steps)
        what = "loss curve" + (" and path" if self.with_path else "")
        if not self.with_path:
            what += f" (no path: {no_path_reason(problem)})"
        self.what = f"{what} of {problem.label}"
        self.saved: str | None = None
        self.images: list[Any] = []
        self.indices = np.arange(0)
        self.html = self.fit(max_frames, max_bytes)

    @property
    def frames(self) -> int:
        return len(self.images)

    @property
    def dpi(self) -> float:
        return self.figure.dpi

    @property
    def description(self) -> str:
        text = f"{self.frames} frames of the {self.what}"
        return text + (f"; saved to {self.saved}" if self.saved else "")

    def show(self, index: int) -> None:
        """Set the lines to the recorded points up to ``index`` (each run's last one, for a
        run that recorded fewer)."""
        for drawn, full, steps in zip(self.artists, self.full, self.steps, strict=True):
            shown = min(index + 1, len(steps))
            drawn.curve.set_data(full["curve"][0][:shown], full["curve"][1][:shown])
            if drawn.path is not None:
                xs, ys = full["path"][0][:shown], full["path"][1][:shown]
                drawn.path.set_data(xs, ys)
                drawn.end.set_data(xs[-1:], ys[-1:])
        step = int(max(steps[min(index, len(steps) - 1)] for steps in self.steps))
        self.label.set_text(f"step {step} of {self.last_step}")

    def render(self, indices: np.ndarray, dpi: float) -> list[Any]:
        """The frames at ``indices`` as palette images: the static parts drawn once, the
        moving lines blitted over them, every frame in the last frame's colours."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from PIL import Image

        self.figure.set_dpi(dpi)
        canvas = FigureCanvasAgg(self.figure)
        for artist in self.moving:
            artist.set_visible(False)
        canvas.draw()
        static = canvas.copy_from_bbox(self.figure.bbox)
        for artist in self.moving:
            artist.set_visible(True)

        def frame(index: int) -> Any:
            self.show(index)
            canvas.restore_region(static)
            for artist in self.moving:
                (artist.axes or self.figure).draw_artist(artist)
            return Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])

        last = frame(int(indices[-1]))
        # maximum coverage keeps the exact background white, and the files smallest
        palette = last.quantize(
            COLOURS, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE
        )
        images = [
            frame(int(i)).quantize(palette=palette, dither=Image.Dither.NONE) for i in indices[:-1]
        ]
        return [*images, last.quantize(palette=palette, dither=Image.Dither.NONE)]

    def fit(self, max_frames: int, max_bytes: int) -> str:
        """The player's HTML at the highest resolution, then the most frames, whose size
        fits ``max_bytes``: estimated from the fullest frame, then checked."""
        frames = min(max_frames, self.count)
        budget = max_bytes - len(player_html([], "")) - 200
        (last,) = self.render(frame_indices(self.count, frames)[-1:], DPIS[0])
        per_frame = 4 / 3 * len(png(last)) + 60  # base64, and its line of script
        # a frame's bytes grow about as its pixels: start at the largest dpi estimated to fit
        fitting = [d for d in DPIS if per_frame * (d / DPIS[0]) ** 2 * frames <= 0.95 * budget]
        ladder = DPIS[DPIS.index(fitting[0]) if fitting else -1 :]
        for dpi in ladder:
            html = self.player(frames, dpi)
            if len(html.encode()) <= max_bytes:
                return html
        while frames > FEWEST_FRAMES:  # the smallest dpi and still too large: fewer frames
            frames = max(FEWEST_FRAMES, int(frames * max_bytes / len(html.encode()) * 0.95))
            html = self.player(frames, ladder[-1])
            if len(html.encode()) <= max_bytes:
                break
        return html

    def player(self, frames: int, dpi: float) -> str:
        self.indices = frame_indices(self.count, frames)  # the recorded point of each frame
        self.images = self.render(self.indices, dpi)
        return player_html([png(image) for image in self.images], self.what)

    def save(self, target: SaveTarget) -> None:
        """Write the animation to ``target``: the frames as a looping GIF (Pillow), or the
        player as a standalone web page."""
        try:
            if target.kind == ".gif":
                first, *rest = self.images
                first.save(
                    target.path,
                    format="GIF",
                    save_all=True,
                    append_images=rest,
                    duration=1000 // FPS,
                    loop=0,
                )
            else:
                target.path.write_text(page(self.html, self.what), encoding="utf-8")
        except OSError as error:
            raise GradmagicError(f"--save {target.text}: {error.strerror or error}.") from None
        self.saved = target.text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        caption = f"<p>Saved to {escape(self.saved)}.</p>" if self.saved else ""
        return {"text/html": self.html + caption, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"[animation: {self.description}]"


def no_path_reason(problem: Any) -> str:
    count = len(problem.variables)
    if count > 2:
        return f"{count} variables; a path is drawn for one or two"
    return "a path is drawn for scalar variables only"


def png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)  # 9: 6% smaller, 7 times slower
    return buffer.getvalue()


def player_html(pngs: list[bytes], title: str) -> str:
    """matplotlib's JavaScript player around ``pngs`` (what ``to_jshtml`` writes), with an
    id derived from the frames and offline icons."""
    from matplotlib._animation_data import DISPLAY_TEMPLATE, JS_INCLUDE, STYLE_INCLUDE

    encoded = [base64.b64encode(data).decode("ascii") for data in pngs]
    digest = hashlib.sha256(title.encode())
    for data in encoded:
        digest.update(data.encode("ascii"))
    fill = "".join(f'  frames[{i}] = "data:image/png;base64,{d}"\n' for i, d in enumerate(encoded))
    display = DISPLAY_TEMPLATE.format(
        id=digest.hexdigest()[:32],
        Nframes=len(encoded),
        fill_frames="\n" + fill,
        interval=1000 // FPS,
        once_checked="",
        loop_checked="checked",
        reflect_checked="",
    )
    return ICON_FONT.sub("", JS_INCLUDE) + STYLE_INCLUDE + ICON_STYLE + display


def escape(text: str) -> str:
    import html

    return html.escape(text)


def page(player: str, title: str) -> str:
    """A standalone HTML document around the player."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n{player}\n</body>\n</html>\n"
    )


def animate(result: Any, save: SaveTarget | None = None) -> Animation:
    """``--animate`` (and ``--save``) for a ``%minimize`` result: one run, or a
    comparison (``results`` by optimizer), whose runs are then animated together."""
    runs = list(result.results.values()) if hasattr(result, "results") else [result]
    animation = Animation(result.problem, runs)
    if save is not None:
        animation.save(save)
    return animation

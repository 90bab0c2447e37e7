"""``%minimize ... --widgets --static``: a panel that needs no kernel.

Every setting the panel offers is run up front (:mod:`~gradmagic.lab.static_runs`: a
learning-rate grid × optimizers, each optimizer's grid in one vectorised batch) and
embedded in the output with a small script (``static_panel.js``, read from the package):
its slider and menu redraw the loss curve and the path from that data in the browser.
Nothing is fetched, so it works in an HTML export opened from disk, on nbviewer-style
pages and in a trusted notebook in JupyterLab.

JupyterLab strips the scripts of an untrusted notebook's outputs; the output's HTML
therefore holds a still image of the chosen setting and a sentence saying why it does not
move, both of which the script replaces with the live panel when it runs.

The output is byte-identical for the same inputs (nbval compares it): no timings, and the
element id comes from a hash of the content.  It is at most :data:`MAX_BYTES` (each
series is thinned when a panel would be larger).
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources
from typing import Any

import numpy as np

from gradmagic.errors import GradmagicError
from gradmagic.lab import static_data, static_images
from gradmagic.lab.static_runs import OptimizerRuns, check_static, grid_runs
from gradmagic.minimize.step_size import lr_text, rounded

MAX_BYTES = 1_000_000
UNTRUSTED_NOTE = (
    "A still image of {setting}: the slider and the optimizer menu of this panel run in "
    "the output's script, which has not run here (JupyterLab does not run the scripts of "
    "an untrusted notebook). Trust the notebook (command palette: Trust Notebook), run "
    "the cell again, or open the notebook's HTML export."
)


def script() -> str:
    """The panel's JavaScript (the package's ``static_panel.js``)."""
    return resources.files("gradmagic.lab").joinpath("static_panel.js").read_text("utf-8")


class StaticPanel:
    """The runs of a learning-rate grid × optimizers, shown by a self-contained page.

    ``lrs`` (the grid), ``runs`` (one :class:`~gradmagic.lab.static_runs.OptimizerRuns`
    per optimizer in the menu, the chosen one first), ``chosen`` (the grid index of
    ``--lr``), ``data`` (what the page embeds), ``html`` and ``size`` (its bytes)."""

    def __init__(
        self,
        problem: Any,
        *,
        optimizer: str = "sgd",
        lr: float = 0.01,
        steps: int = 200,
        momentum: float | None = None,
        tol: float | None = None,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        check_static(optimizer)  # before anything runs
        self.problem = problem
        self.steps = steps
        self.lrs, self.runs, self.curvature = grid_runs(
            problem,
            optimizer=optimizer,
            lr=lr,
            steps=steps,
            momentum=momentum,
            tol=tol,
        )
        self.chosen = int(np.flatnonzero(self.lrs == rounded(lr))[0])
        scalar = all(np.shape(v) == () for v in problem.start)
        recorded_path = self.runs[0].path is not None
        self.with_path = scalar and len(problem.variables) in (1, 2) and recorded_path
        histories = np.concatenate([r.history for r in self.runs])
        self.limits = None
        if self.with_path:
            paths = np.concatenate([r.path for r in self.runs])
            self.limits = static_images.path_limits(paths, histories)
        first = self.runs[0]
        k = self.chosen
        self.setting = f"{first.name}, lr {lr_text(self.lrs[k])}"
        texts = static_data.run_texts(first, k, problem, tol)
        self.curve = static_images.curve_picture(
            static_images.curve_frame(histories),
            steps,
            first.recorded_steps,
            first.history[k],
            f"loss curve: {self.setting}"
            + (f", diverged at step {first.diverged_at[k]}" if first.diverged_at[k] >= 0 else ""),
        )
        self.path = None
        if self.with_path:
            self.path = static_images.path_picture(
                problem, self.limits, first.path[k], first.history[k]
            )
        self.html, self.data = "", {}
        for stride in (1, 2, 4, 8, 16):
            self.data = self._data(tol, stride)
            self.html = self._html(texts)
            if self.size <= max_bytes:
                break
        else:
            raise GradmagicError(
                f"The static panel would be {self.size / 1e6:.1f} MB (at most "
                f"{max_bytes / 1e6:g} MB): optimise fewer variables, or use --widgets alone."
            )

    @property
    def size(self) -> int:
        return len(self.html.encode("utf-8"))

    def _data(self, tol: float | None, stride: int) -> dict[str, Any]:
        """The page's data, each series keeping every ``stride``-th recorded point (the
        last always)."""
        recorded = self.runs[0].recorded_steps
        keep = np.unique(np.append(np.arange(0, len(recorded), stride), len(recorded) - 1))
        optimizers = [
            static_data.optimizer_data(_thinned(runs, keep), self.problem, tol, self.limits)
            for runs in self.runs
        ]
        return {
            "lrs": [float(v) for v in self.lrs],
            "lrText": [lr_text(v) for v in self.lrs],
            "chosen": {"optimizer": 0, "lr": self.chosen},
            "steps": [int(s) for s in recorded[keep]],
            "curve": _picture_data(self.curve),
            "path": None if self.path is None else _picture_data(self.path),
            "optimizers": optimizers,
        }

    def _html(self, texts: dict[str, Any]) -> str:
        payload = static_data.escaped_json(self.data)
        digest = hashlib.sha256(payload.encode("ascii"))
        for picture in (self.curve, self.path):
            if picture is not None:
                digest.update(picture.still)
        ident = f"gm-static-{digest.hexdigest()[:16]}"
        images = "".join(
            f'<img src="data:image/png;base64,{_b64(p.still)}" width="{p.width}" '
            f'height="{p.height}" alt="{static_data.escape(self.setting)}" '
            'style="max-width:100%;height:auto">'
            for p in (self.curve, self.path)
            if p is not None
        )
        note = static_data.escape(UNTRUSTED_NOTE.format(setting=self.setting))
        warn = "color:#c62828" if texts["w"] else ""
        still = (
            '<div class="gm-static-still">'
            f'<div style="{warn}">{static_data.escape(texts["b"])}</div>'
            f'<div style="display:flex;flex-wrap:wrap">{images}</div>'
            f"<div>{static_data.escape(texts['s'])}</div>"
            f"<code>{static_data.escape(texts['l'])}</code>"
            f'<p class="gm-static-note" style="font-style:italic">{note}</p></div>'
        )
        call = f"window.gmStaticPanel(document.currentScript.parentNode,{payload});"
        return (
            f'<div class="gm-static" id="{ident}">{still}'
            f"<script>\n{script()}\n{call}\n</script></div>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html, "text/plain": self.text_summary()}

    def text_summary(self) -> str:
        """A deterministic line for nbval and terminals."""
        names = ", ".join(r.name for r in self.runs)
        return (
            f"[static panel of {self.problem.label}: {len(self.lrs)} learning rates from "
            f"{lr_text(self.lrs[0])} to {lr_text(self.lrs[-1])} × {names}, {self.steps} "
            f"steps each; showing {self.setting}; {self.size / 1e3:.0f} kB]"
        )

    def __repr__(self) -> str:
        return self.text_summary()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _picture_data(picture: static_images.Picture) -> dict[str, Any]:
    return {
        "background": _b64(picture.background),
        "width": picture.width,
        "height": picture.height,
        "box": [round(v, 3) for v in picture.box],
        "limits": [list(picture.limits[0]), list(picture.limits[1])],
        "log": picture.log,
    }


def _thinned(runs: OptimizerRuns, keep: np.ndarray) -> OptimizerRuns:
    from dataclasses import replace

    return replace(
        runs,
        history=runs.history[:, keep],
        path=None if runs.path is None else runs.path[:, keep],
        recorded_steps=runs.recorded_steps[keep],
    )

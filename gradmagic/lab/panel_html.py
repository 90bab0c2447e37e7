"""The panel's HTML pieces: theme-aware styles, the stability marker, the texts.

Colours come from JupyterLab's CSS variables (``--jp-error-color1``,
``--jp-content-font-color1``…), so the warnings keep a contrast of at least 4.5:1 in the
light and the dark theme.  The plot is a PNG drawn on white with an SVG
overlay (the moving artists); in a dark theme (``body[data-jp-theme-light="false"]``) the
stylesheet inverts both with its hues kept
(``invert(0.9) hue-rotate(180deg)``): a deterministic choice that needs nothing from the
kernel, which cannot know the page's theme.

The marker row has the slider's width and the slider track's margins (half a handle, less
the borders, as ipywidgets' own stylesheet computes them), so a percentage ``left:`` puts
the ▲ exactly under the handle at that value, at any width.
"""

from __future__ import annotations

import html
import math
from typing import Any

from gradmagic.minimize.step_size import StepSizeAdvice, lr_text

STYLE = """<style>
.gm-panel { max-width: 100%; min-width: 0; }
.gm-panel .gm-row { flex-wrap: wrap; max-width: 100%; }
.gm-panel .gm-warn, .gm-panel .gm-marker { color: var(--jp-error-color1); }
.gm-panel .gm-text { color: var(--jp-content-font-color1); }
.gm-panel .gm-track {
  position: relative; height: 16px; font-size: 11px; line-height: 16px;
  margin: 0 calc(var(--jp-widgets-slider-handle-size) / 2
                 - 2 * var(--jp-widgets-slider-border-width));
}
.gm-panel .gm-tip { position: absolute; top: 0; line-height: 16px;
  transform: translateX(-50%); }
.gm-panel .gm-tip-label { position: absolute; top: 0; line-height: 16px; white-space: nowrap; }
.gm-panel .gm-figure { position: relative; }
.gm-panel .gm-figure img { display: block; max-width: 100%; height: auto; }
.gm-panel .gm-overlay { position: absolute; left: 0; top: 0; width: 100%; height: 100%;
  pointer-events: none; }
.gm-panel .gm-overlay .widget-html-content, .gm-panel .gm-overlay .widget-html-content > svg {
  display: block; width: 100%; height: 100%; }
body[data-jp-theme-light="false"] .gm-panel .gm-figure {
  filter: invert(0.9) hue-rotate(180deg);
}
</style>"""


def marker_html(advice: StepSizeAdvice, low: float, high: float) -> str:
    """The ▲ at the bound on a track from 10**low to 10**high (empty without a bound)."""
    bound = advice.bound
    if bound is None:
        return ""
    fraction = min(max((math.log10(bound) - low) / (high - low), 0.0), 1.0)
    percent = 100 * fraction
    label = html.escape(f"{advice.formula} = {lr_text(bound)}")
    side = (
        f"right:calc({100 - percent:.4f}% + 8px)"
        if fraction > 0.6
        else f"left:calc({percent:.4f}% + 8px)"
    )
    return (
        f'<div class="gm-track gm-marker">'
        f'<span class="gm-tip" style="left:{percent:.4f}%">▲</span>'
        f'<span class="gm-tip-label" style="{side}">{label}</span></div>'
    )


def stability_html(advice: StepSizeAdvice, lr: float) -> str:
    text = html.escape(advice.stability(lr))
    style = "gm-warn" if advice.regime(lr) in ("edge", "unstable") else "gm-text"
    return f'<span class="{style}">{text}</span>'


def edge_note(advice: StepSizeAdvice, lr: float, diverged: bool) -> str:
    """What the summary must add when the rate sits on the bound: it never converges."""
    if diverged or advice.regime(lr) != "edge":
        return ""
    return (
        '<div class="gm-warn">lr is on the stability bound: the run oscillates with constant '
        "size and never converges (move the slider below "
        f"{html.escape(lr_text(advice.bound or lr))}).</div>"
    )


def texts(
    advice: StepSizeAdvice, lr: float, lr_range: tuple[float, float], result: Any, line: str
) -> dict[str, str]:
    """The panel's texts for ``result`` at ``lr``, by widget: the ▲ marker, the stability
    text, the summary and the ``%minimize`` line, all from one advice."""
    return {
        "marker": marker_html(advice, *lr_range),
        "stability": stability_html(advice, lr),
        "summary": result._repr_html_() + edge_note(advice, lr, result.diverged),
        "line": f'<code style="user-select:all">{html.escape(line)}</code>',
    }


def no_best_step(name: str) -> str:
    """Why "best step" leaves the rate of optimizer ``name`` as it is."""
    return html.escape(
        f"No best-step rule for {name} here: it needs a positive definite Hessian and an "
        "optimizer whose steps scale with the gradient (sgd, momentum, nesterov)."
    )


def warning(text: str) -> str:
    return f'<span class="gm-warn">{html.escape(text)}</span>'

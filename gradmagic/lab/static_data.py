"""The static panel's embedded data: each run's curves, compactly encoded, and its texts.

Every series (a loss curve, one variable's path) is quantised to 16 bits over its own
range and written as base64 of little-endian ``uint16``: 2.7 bytes per number in the page.
A loss curve whose values are all positive is quantised in log10 (a curve falling through
twelve decades keeps 0.04 % relative precision everywhere); others linearly.  The value
:data:`MISSING` marks a point that is not finite (a diverged run's last steps).  Path
values far off the plot (beyond :data:`REACH` plot-widths) are clipped there first, so the
points on the plot keep their precision.  :func:`decode` is what the page's script does,
in NumPy (the tests read the page's data back with it).

The texts (stability, the run's outcome, the ``%minimize`` line) are written here with
the live panel's own functions, so both panels say the same about the same setting.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import numpy as np

from gradmagic import render
from gradmagic.lab.static_runs import OptimizerRuns
from gradmagic.minimize.result import magic_line
from gradmagic.minimize.step_size import lr_text

MISSING = 65535
LEVELS = 65534  # codes 0..LEVELS are values from ``lo`` to ``hi``
REACH = 4.0  # path values are clipped this many plot-widths beyond the plot's edges


def encode(values: np.ndarray, log: bool | None = None) -> dict[str, Any]:
    """``values`` as ``{"q": base64 uint16, "lo", "hi", "log"}`` (log: in log10, the default
    when every finite value is positive)."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    if log is None:
        log = bool(finite.any() and (values[finite] > 0).all())
    shown = np.log10(np.where(finite, values, 1.0)) if log else np.where(finite, values, 0.0)
    lo = float(shown[finite].min()) if finite.any() else 0.0
    hi = float(shown[finite].max()) if finite.any() else 0.0
    scaled = (shown - lo) / (hi - lo) * LEVELS if hi > lo else np.zeros_like(shown)
    codes = np.where(finite, np.clip(np.round(scaled), 0, LEVELS), MISSING).astype("<u2")
    text = base64.b64encode(codes.tobytes()).decode("ascii")
    return {"q": text, "lo": _short(lo), "hi": _short(hi), "log": log}


def decode(encoded: dict[str, Any]) -> np.ndarray:
    """The values of :func:`encode`'s output (NaN where not finite), as the page reads them."""
    codes = np.frombuffer(base64.b64decode(encoded["q"]), dtype="<u2").astype(float)
    lo, hi = encoded["lo"], encoded["hi"]
    values = lo + (hi - lo) * codes / LEVELS
    values = 10.0**values if encoded["log"] else values
    return np.where(codes == MISSING, np.nan, values)


def _short(value: float) -> float:
    """A range end at 10 significant digits: shorter JSON, still far below a code's step."""
    return float(f"{value:.10g}")


def clipped(column: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """A path column with values far off the plot clipped :data:`REACH` widths beyond it."""
    low, high = limits
    span = high - low
    return np.clip(column, low - REACH * span, high + REACH * span)


def run_texts(runs: OptimizerRuns, k: int, problem: Any, tol: float | None) -> dict[str, Any]:
    """What the page shows beside run ``k``: the stability sentence (``w``: a warning),
    its outcome (``s``) and the ``%minimize`` line that reproduces it (``l``)."""
    from gradmagic.minimize.problem import start_difference

    lr = float(runs.lrs[k])
    advice = runs.advice
    steps, diverged = int(runs.steps[k]), int(runs.diverged_at[k])
    if diverged >= 0:
        outcome = f"Diverged at step {diverged}." + advice.divergence_advice(lr, slider=True)
    else:
        reached = "Converged (gradient norm below --tol)" if runs.converged[k] else "Ran"
        outcome = f"{reached} {steps} steps: objective {render.number(runs.final[k])}"
        end = runs.ends[k]
        if 0 < len(problem.variables) == end.size:
            ends = zip(problem.variables, end, strict=True)
            outcome += " at " + ", ".join(f"{n} = {render.number(v)}" for n, v in ends)
        outcome += "."
    line = magic_line(
        problem.label,
        problem.names,
        runs.name,
        lr,
        runs.requested_steps,
        runs.momentum,
        tol,
        start_difference(problem, problem.start),
    )
    regime = advice.regime(lr)
    return {
        "b": advice.stability(lr),
        "w": regime in ("edge", "unstable"),
        "s": outcome,
        "l": line,
    }


def marker(runs: OptimizerRuns) -> dict[str, Any] | None:
    """The ▲ under the slider: where the bound sits between the grid's ends (a fraction of
    the track, as the handle's positions are), and its label; None without a bound."""
    bound = runs.advice.bound
    if bound is None:
        return None
    exponents = np.log10(runs.lrs)
    index = float(np.interp(np.log10(bound), exponents, np.arange(len(exponents))))
    fraction = index / (len(exponents) - 1)
    return {
        "fraction": round(fraction, 6),
        "label": f"{runs.advice.formula} = {lr_text(bound)}",
        "beyond": bool(bound < runs.lrs[0] or bound > runs.lrs[-1]),
    }


def optimizer_data(
    runs: OptimizerRuns,
    problem: Any,
    tol: float | None,
    limits: list[tuple[float, float]] | None,
) -> dict[str, Any]:
    """One optimizer's entry in the page's data: its menu label, marker and runs."""
    entries = []
    for k in range(len(runs.lrs)):
        entry = run_texts(runs, k, problem, tol)
        entry["h"] = encode(runs.history[k])
        entry["d"] = int(runs.diverged_at[k])
        if limits is not None:
            entry["p"] = [
                encode(clipped(runs.path[k, :, i], limits[i]), log=False)
                for i in range(len(limits))
            ]
        entries.append(entry)
    name = runs.name
    if runs.momentum is not None:
        name += f" ({_momentum_name(runs.name)} = {render.number(runs.momentum, 4)})"
    return {"name": runs.name, "label": name, "marker": marker(runs), "runs": entries}


def _momentum_name(optimizer: str) -> str:
    from gradmagic.minimize.optimizers import resolve_optimizer

    name = resolve_optimizer(optimizer).momentum_name
    return "β" if name in (None, "momentum") else name


def escaped_json(data: Any) -> str:
    """``data`` as JSON safe inside a ``<script>`` element (no ``</``, ASCII only)."""
    import json

    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def escape(text: str) -> str:
    return html.escape(text)

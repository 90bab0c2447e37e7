"""Box constraints (``--bounds``): every step is projected back into the box.

The box enters the compiled loop as arrays shaped like the variables (``-inf``/``+inf``
where an end is open), so new bounds never recompile; the loop projects with
``optax.projections.projection_box`` after every optimizer step, L-BFGS's included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradmagic import render
from gradmagic.errors import GradmagicError

Interval = tuple[float | None, float | None]  # (lower, upper); None: open


def box_arrays(bounds: Sequence[Interval | None], params: tuple) -> tuple[tuple, tuple]:
    """Lower and upper arrays shaped like each variable (a scalar bound applies to all its
    elements; ``None`` or an open end gives ``-inf``/``+inf``)."""
    lower, upper = [], []
    for interval, p in zip(bounds, params, strict=True):
        low, high = interval if interval is not None else (None, None)
        lower.append(np.full(p.shape, -math.inf if low is None else low, p.dtype))
        upper.append(np.full(p.shape, math.inf if high is None else high, p.dtype))
    return tuple(lower), tuple(upper)


def check_start_inside(
    box: tuple[tuple, tuple], start: tuple, labels: Sequence[str], bounds: Sequence[Any]
) -> None:
    """Raise when a starting value lies outside its bounds (naming it and the fix)."""
    for label, value, low, high, interval in zip(labels, start, *box, bounds, strict=True):
        array = np.asarray(value)
        if np.all((array >= low) & (array <= high)):
            continue
        lo, hi = interval
        span = (
            f"{'' if lo is None else render.number(lo)}:{'' if hi is None else render.number(hi)}"
        )
        raise GradmagicError(
            f"The start of {label} ({render.array(array)}) is outside its bounds {label}={span}; "
            f"start inside the box (set {label} to a value in it) or widen --bounds."
        )


def describe(names: Sequence[str], bounds: Sequence[Interval | None]) -> str:
    """``x in [0, 1], y ≤ 5``: the box as the output shows it."""
    parts = []
    for name, interval in zip(names, bounds, strict=True):
        if interval is None:
            continue
        low, high = interval
        if low is not None and high is not None:
            parts.append(f"{name} in [{render.number(low)}, {render.number(high)}]")
        elif low is not None:
            parts.append(f"{name} ≥ {render.number(low)}")
        elif high is not None:
            parts.append(f"{name} ≤ {render.number(high)}")
    return ", ".join(parts)

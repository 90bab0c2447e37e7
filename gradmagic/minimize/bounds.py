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

Bound = float | list | None  # a number for every element, a list per element, None: open
Interval = tuple[Bound, Bound]  # (lower, upper)


def box_arrays(
    bounds: Sequence[Interval | None], params: tuple, labels: Sequence[str] | None = None
) -> tuple[tuple, tuple]:
    """Lower and upper arrays shaped like each variable: a number bounds every element, a
    list (per-element bounds) is broadcast to the variable's shape, ``None`` or an open end
    gives ``-inf``/``+inf``.  A list that does not broadcast is an error naming the
    variable (``labels``) and both shapes."""
    lower, upper = [], []
    for i, (interval, p) in enumerate(zip(bounds, params, strict=True)):
        low, high = interval if interval is not None else (None, None)
        label = labels[i] if labels is not None else f"variable {i + 1}"
        lower.append(_filled(low, -math.inf, p, label, "lower"))
        upper.append(_filled(high, math.inf, p, label, "upper"))
    return tuple(lower), tuple(upper)


def _filled(end: Bound, open_value: float, p: Any, label: str, which: str) -> np.ndarray:
    value = np.asarray(open_value if end is None else end, p.dtype)
    try:
        return np.array(np.broadcast_to(value, p.shape))
    except ValueError:
        count = int(np.prod(p.shape))
        raise GradmagicError(
            f"--bounds {label}: the {which} bound has shape {value.shape}, which does not "
            f"broadcast to {label}'s shape {tuple(p.shape)}; give one number for every element"
            + (f" or a list of {p.shape[-1]} (or shaped {tuple(p.shape)})." if count > 1 else ".")
        ) from None


def check_start_inside(
    box: tuple[tuple, tuple], start: tuple, labels: Sequence[str], bounds: Sequence[Any]
) -> None:
    """Raise when a starting value lies outside its bounds, naming the first element outside
    (``v[2]``), its value, its bounds and the fix."""
    for label, value, low, high, interval in zip(labels, start, *box, bounds, strict=True):
        array = np.asarray(value)
        outside = np.argwhere(~((array >= low) & (array <= high)))
        if not len(outside):
            continue
        where = tuple(int(i) for i in outside[0])
        element = f"{label}[{', '.join(map(str, where))}]" if where else label
        lo, hi = interval
        span = f"{_end(lo)}:{_end(hi)}"
        detail = ""
        if where and (isinstance(lo, list) or isinstance(hi, list)):
            detail = f", which puts {element} in [{render.number(low[where])}, " + (
                f"{render.number(high[where])}]"
            )
        raise GradmagicError(
            f"The start of {element} ({render.number(array[where])}) is outside its bounds "
            f"{label}={span}{detail}; start inside the box (set {label} to a value in it) "
            "or widen --bounds."
        )


def _end(end: Bound) -> str:
    """One end as the user writes it: ``''`` (open), ``0.5`` or ``[0, 0.5]``."""
    if end is None:
        return ""
    if isinstance(end, list):
        return "[" + ", ".join(_end(item) for item in end) + "]"
    return render.number(end)


def describe(names: Sequence[str], bounds: Sequence[Interval | None]) -> str:
    """``x in [0, 1], y ≤ 5``: the box as the output shows it (per-element ends as lists)."""
    parts = []
    for name, interval in zip(names, bounds, strict=True):
        if interval is None:
            continue
        low, high = interval
        if low is not None and high is not None:
            if isinstance(low, list) or isinstance(high, list):
                parts.append(f"{_end(low)} ≤ {name} ≤ {_end(high)}")
            else:
                parts.append(f"{name} in [{_end(low)}, {_end(high)}]")
        elif low is not None:
            parts.append(f"{name} ≥ {_end(low)}")
        elif high is not None:
            parts.append(f"{name} ≤ {_end(high)}")
    return ", ".join(parts)

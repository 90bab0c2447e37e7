"""The settings and starts that ``--tune`` and ``--starts`` run together, and how their
outcomes are read: pure NumPy, no JAX, no IPython.

A *tuned* comparison runs each optimizer over a grid of learning rates (and, where the
optimizer has one, momentum or β1) and picks its best setting fairly: a run that reaches
``--tol`` wins by the fewest steps; otherwise the lowest final objective wins; a diverged
run never wins.  *Many starts* draw starting points in a box (seeded uniform, or a K×K
grid) and group where the runs end into the minima they found.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradmagic.errors import GradmagicError
from gradmagic.options import assignments

TUNE_MOMENTA = (0.0, 0.5, 0.9, 0.99)  # momentum/β1 values tried where an optimizer has one
DEFAULT_TUNE_GRID = "1e-4:10:24"  # 24 log-spaced learning rates from 1e-4 to 10


def tune_grid(text: str | None) -> np.ndarray:
    """``'1e-4:10:24'`` → 24 log-spaced learning rates from 1e-4 to 10 (both included)."""
    text = text or DEFAULT_TUNE_GRID
    parts = text.split(":")
    example = f"(e.g. --tune-grid {DEFAULT_TUNE_GRID}: LOW:HIGH:COUNT, log-spaced)"
    if len(parts) != 3:
        raise GradmagicError(f"--tune-grid {text}: give LOW:HIGH:COUNT {example}.")
    try:
        low, high, count = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise GradmagicError(f"--tune-grid {text}: not numbers {example}.") from None
    if not (0 < low < high and math.isfinite(high)) or not 2 <= count <= 1000:
        raise GradmagicError(
            f"--tune-grid {text}: need 0 < LOW < HIGH and 2 ≤ COUNT ≤ 1000 {example}."
        )
    return np.geomspace(low, high, count)


@dataclass(frozen=True)
class Grid:
    """The settings of one optimizer's tuned runs: every (lr, momentum) pair, lr fastest."""

    lrs: np.ndarray
    momenta: tuple[float | None, ...]  # (None,) for an optimizer without momentum

    @property
    def settings(self) -> list[tuple[float, float | None]]:
        return [(float(lr), m) for m in self.momenta for lr in self.lrs]

    def shape(self) -> tuple[int, int]:
        """(momenta, learning rates): how a heat map lays the runs out."""
        return len(self.momenta), len(self.lrs)


def grid_for(has_momentum: bool, lrs: np.ndarray) -> Grid:
    """The grid of an optimizer: momenta only where it has one."""
    return Grid(lrs, TUNE_MOMENTA if has_momentum else (None,))


def best_run(
    final: Sequence[float],
    steps: Sequence[int],
    converged: Sequence[bool],
    diverged: Sequence[bool],
) -> int | None:
    """The index of the fairest winner: among runs that converged, the fewest steps (then
    the lowest objective); else the lowest finite final objective; never a diverged run.
    None when every run diverged."""
    final = np.asarray(final, dtype=float)
    ok = ~np.asarray(diverged, dtype=bool) & np.isfinite(final)
    done = ok & np.asarray(converged, dtype=bool)
    if done.any():
        candidates = np.flatnonzero(done)
        order = np.lexsort((final[candidates], np.asarray(steps)[candidates]))
        return int(candidates[order[0]])
    if ok.any():
        candidates = np.flatnonzero(ok)
        return int(candidates[np.argmin(final[candidates])])
    return None


def parse_box(
    text: str | None, variables: Sequence[str], default: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """``--box x=-3:3,y=-3:3`` → one (low, high) per variable; variables not named keep
    ``default``'s range (the function's box, or ±2 around the start)."""
    box = list(default)
    if text is None:
        return box
    example = "x=-3:3,y=-3:3"
    for name, span in assignments(text, "--box", "NAME=LOW:HIGH", example).items():
        if name not in variables:
            raise GradmagicError(
                f"--box {name}: {name} is not a variable being optimised "
                f"({', '.join(variables)}); give a range for those."
            )
        low, colon, high = span.partition(":")
        try:
            lo, hi = float(low), float(high)
        except ValueError:
            lo = hi = math.nan
        if not colon or not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise GradmagicError(
                f"--box {name}={span}: give LOW:HIGH with LOW < HIGH, both numbers "
                f"(e.g. --box {example})."
            )
        box[list(variables).index(name)] = (lo, hi)
    return box


def parse_starts(text: str) -> tuple[str, int]:
    """``'64'`` → ('random', 64); ``'grid:8'`` → ('grid', 8)."""
    kind, _, count = text.rpartition(":")
    try:
        number = int(count)
    except ValueError:
        number = 0
    if kind not in ("", "grid") or number < 1 or (kind == "grid" and number < 2):
        raise GradmagicError(
            f"--starts {text}: give a number of random starts (e.g. --starts 64) or "
            "grid:K for a K×K grid (e.g. --starts grid:8)."
        )
    if (number if kind == "" else number**2) > 10_000:
        raise GradmagicError(f"--starts {text}: at most 10 000 starts.")
    return ("grid" if kind else "random"), number


def start_points(
    kind: str, number: int, box: Sequence[tuple[float, float]], seed: int
) -> np.ndarray:
    """Starting points, one row each: seeded uniform in the box, or a grid over it (for one
    variable ``number`` points, for two ``number``², more: refused by the caller)."""
    low = np.array([b[0] for b in box])
    high = np.array([b[1] for b in box])
    if kind == "random":
        return np.random.default_rng(seed).uniform(low, high, size=(number, len(box)))
    axes = [np.linspace(lo, hi, number) for lo, hi in zip(low, high, strict=True)]
    return np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)


@dataclass(frozen=True)
class Basins:
    """Where the runs ended, grouped: one entry per distinct minimum found."""

    labels: np.ndarray  # per run: the index of its minimum, -1 for a run that diverged
    minima: np.ndarray  # (k, variables): the mean end point of each group
    values: np.ndarray  # (k,): the lowest objective reached in each group
    counts: np.ndarray  # (k,): how many runs reached each


def basins(ends: np.ndarray, finals: np.ndarray, ok: np.ndarray, scale: float) -> Basins:
    """Group end points closer than ``1e-2 · scale`` (the box's size) into one minimum,
    greedily in order of objective, so each group is named after its best run."""
    ends = np.asarray(ends, dtype=float)
    finals = np.asarray(finals, dtype=float)
    labels = np.full(len(ends), -1)
    radius = 1e-2 * scale
    order = np.argsort(np.where(ok, finals, np.inf))
    order = order[np.asarray(ok)[order]]  # the runs to group, best objective first
    points = ends[order]
    free = np.ones(len(order), dtype=bool)
    k = 0
    # One group per round: its first free run, and every free run near it.  A run joins the
    # earliest group whose first run is near it, as when the runs are taken one by one.
    while free.any():
        first = int(np.argmax(free))
        near = free & (np.sqrt(np.sum((points - points[first]) ** 2, axis=1)) <= radius)
        near[first] = True
        labels[order[near]] = k
        free &= ~near
        k += 1
    grouped = np.argsort(labels, kind="stable")[len(labels) - len(order) :]  # runs in order
    begins = np.searchsorted(labels[grouped], np.arange(k))  # where each group begins
    counts = np.diff(np.append(begins, len(grouped)))
    if not k:  # every run diverged
        return Basins(labels, np.empty((0, ends.shape[1])), np.empty(0), counts)
    runs = zip(begins, counts, strict=True)
    minima = np.array([ends[grouped[b : b + c]].mean(axis=0) for b, c in runs])
    return Basins(labels, minima, np.minimum.reduceat(finals[grouped], begins), counts)

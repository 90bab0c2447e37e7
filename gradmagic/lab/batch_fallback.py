"""TEMPORARY: ``run_batch`` by looping over single runs, until
:mod:`gradmagic.minimize.batch` (one vectorised program for all runs) lands from the
lab-grids branch.  Same interface and fields; to be deleted then."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BatchRuns:
    final: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    diverged_at: np.ndarray
    history: np.ndarray
    path: np.ndarray
    recorded_steps: np.ndarray


def run_batch(
    problem: Any,
    *,
    optimizer: str,
    lrs: Any,
    momenta: Any = None,
    starts: Any = None,
    steps: int,
    tol: float | None = None,
    points: int = 201,
) -> BatchRuns:
    recorded = np.unique(np.round(np.linspace(0, steps, min(points, steps + 1))).astype(int))
    finals, counts, converged, diverged, histories, paths = [], [], [], [], [], []
    for k, lr in enumerate(np.asarray(lrs, dtype=float)):
        momentum = None if momenta is None else float(momenta[k])
        start = None if starts is None else starts[k]
        run = problem.run(
            optimizer=optimizer, lr=float(lr), steps=steps, momentum=momentum, tol=tol,
            start=start,
        )  # fmt: skip
        at = np.asarray(run.recorded_steps)
        index = np.minimum(np.searchsorted(at, recorded), len(at) - 1)
        history = np.asarray(run.history, dtype=float)[index]
        path = np.stack([np.asarray(p, dtype=float).reshape(len(at), -1) for p in run.path], 1)
        path = path.reshape(len(at), -1)[index]
        if run.diverged_at is not None:
            history[recorded > run.diverged_at] = np.nan
            path[recorded > run.diverged_at] = np.nan
        finals.append(run.loss)
        counts.append(run.steps)
        converged.append(run.converged)
        diverged.append(-1 if run.diverged_at is None else run.diverged_at)
        histories.append(history)
        paths.append(path)
    return BatchRuns(
        np.array(finals), np.array(counts), np.array(converged), np.array(diverged),
        np.stack(histories), np.stack(paths), recorded,
    )  # fmt: skip

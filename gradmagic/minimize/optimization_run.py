"""What one optimisation run found, on the host: the record the results are built from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gradmagic.minimize.minibatch import Batching

if TYPE_CHECKING:  # imported by the rare run that needs it (a first call loads less)
    from gradmagic.minimize.nonfinite_gradient import NonFiniteGradient


@dataclass(frozen=True, eq=False)
class OptimizationRun:
    """Everything one :func:`minimize` call found, all on the host (numpy / Python floats).

    ``history[k]`` is the objective after ``recorded_steps[k]`` steps (``history[0]`` at
    the start; every step on runs up to ``RECORD_LIMIT`` steps, every ``stride``-th beyond,
    the last always) and ``path[i][k]`` the ``i``-th variable then.  When the run diverged, ``values`` (and
    ``loss``/``grad_norm``) are the *starting* ones, while ``history``/``path`` end with the
    non-finite step so a plot shows what happened.  When interrupted, ``values`` are those
    after the last finished step; the caller decides whether to keep them.
    """

    values: tuple
    loss: float
    grad_norm: float
    jac: tuple  # the gradient at `values`, shaped like each variable
    nfev: int  # objective (and gradient) evaluations, see gradmagic.minimize.optimize_result
    steps: int
    requested_steps: int
    converged: bool
    diverged_at: int | None
    interrupted: bool
    history: np.ndarray
    path: tuple
    optimizer: str
    lr: float
    momentum: float | None
    tol: float | None
    default_tol: bool = False  # tol is L-BFGS's default (LINE_SEARCH_TOL), not the user's
    schedule: str | None = None
    lr_history: np.ndarray | None = None  # lr of each step (``lr_history[k-1]``: step k)
    bounds: tuple | None = None  # one Interval (or None) per variable
    stalled: bool = False  # L-BFGS converged by SciPy's ftol: the objective stopped decreasing
    stopped_by_callback: bool = False
    # stopped because the gradient was NaN/∞ where the objective was finite (not a divergence)
    nonfinite_gradient: NonFiniteGradient | None = None
    recorded_steps: np.ndarray | None = None  # the step of each history/path entry
    batching: Batching | None = None  # with data: examples, batch size (see minibatch)
    seed: int | None = None
    epoch_loss: np.ndarray | None = None  # objective on all the data after recorded epochs
    recorded_epochs: np.ndarray | None = None  # the epoch (1, 2, …) of each epoch_loss entry


def host_values(initial: Sequence[Any], values: tuple, exact: bool) -> tuple:
    """Python floats for Python-float starts (so write-back keeps the type), else numpy.

    With ``exact`` (diverged, or no step taken) a Python float start comes back as given,
    not rounded through float32.
    """
    return tuple(
        (o if exact else float(v)) if isinstance(o, float) else np.asarray(v)
        for o, v in zip(initial, values, strict=True)
    )

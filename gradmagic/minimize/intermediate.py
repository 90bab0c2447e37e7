"""What a ``--callback`` sees between compiled chunks: the result so far, SciPy-shaped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from gradmagic.minimize.loop import Carry
from gradmagic.minimize.optimize_result import OptimizeResult, by_name


class Reporter:
    """Calls the user's callback with the result so far (one small transfer per chunk)."""

    def __init__(
        self,
        callback: Callable[[OptimizeResult], Any],
        names: Sequence[str],
        variables: Callable[[tuple], tuple],
    ) -> None:
        self.callback = callback
        self.names = names
        self.variables = variables

    def __call__(self, carry: Carry, status: tuple) -> None:
        __tracebackhide__ = True
        self.callback(intermediate_result(self.names, carry, status, self.variables))


def intermediate_result(
    names: Sequence[str],
    carry: Carry,
    status: tuple,
    variables: Callable[[tuple], tuple],
) -> OptimizeResult:
    """The result so far, as SciPy passes ``intermediate_result`` to a callback: ``x``,
    ``fun``, ``jac``, ``nit``, ``nfev`` and the gradient norm ``grad_norm`` (``variables``:
    the user's variables of the carry's, ``ChunkProgram.variables``)."""
    params, grad = map(variables, jax.device_get((carry.params, carry.grad)))
    return OptimizeResult(
        x=by_name(names, [np.asarray(p) for p in params]),
        fun=status[1],
        jac=by_name(names, [np.asarray(g) for g in grad]),
        nit=status[0],
        nfev=status[7],
        grad_norm=status[2],
    )

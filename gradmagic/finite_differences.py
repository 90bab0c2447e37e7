"""The finite-difference check: autodiff beside central differences, element by element."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from gradmagic.cell_program import CellProgram, cell_function
from gradmagic.derivatives import Derivatives


@dataclass(frozen=True)
class FiniteDifference:
    """Autodiff beside a central finite difference for one target/source element."""

    target: str
    source: str
    index: tuple[int, ...]
    autodiff: float
    estimate: float
    relative_error: float
    agrees: bool


def finite_differences(
    program: CellProgram, derivatives: Derivatives, *, max_elements: int = 64
) -> list[FiniteDifference]:
    """Central differences f(x+h)−f(x−h) / 2h for every scalar target and source element.

    The step is ``h = ε^(1/3)·max(1, |x|)`` (balancing truncation against rounding);
    a disagreement is flagged when the gap exceeds what those errors explain.
    """
    sources = derivatives.sources
    scalar_targets = [t for t in derivatives.targets if jnp.shape(derivatives.values[t]) == ()]
    if not scalar_targets:
        return []
    function = cell_function(program, sources, scalar_targets)
    epsilon = float(jnp.finfo(jnp.result_type(float)).eps)
    checks: list[FiniteDifference] = []
    for j, (source, primal) in enumerate(zip(sources, derivatives.source_values, strict=True)):
        base = np.asarray(primal)
        for index in itertools.islice(np.ndindex(base.shape), max_elements):
            step = epsilon ** (1 / 3) * max(1.0, abs(float(base[index])))
            shifted = []
            for sign in (1.0, -1.0):
                moved = base.copy()
                moved[index] += sign * step
                arguments = list(derivatives.source_values)
                arguments[j] = jnp.asarray(moved, dtype=primal.dtype)
                shifted.append(function(*arguments))
            for t, target in enumerate(scalar_targets):
                plus, minus = float(shifted[0][t]), float(shifted[1][t])
                estimate = (plus - minus) / (2 * step)
                autodiff = float(np.asarray(derivatives.jacobians[target][j])[index])
                # Relative where the derivative is large, absolute near zero.
                error = abs(autodiff - estimate) / max(abs(autodiff), abs(estimate), 1.0)
                rounding = 10 * epsilon * max(abs(plus), abs(minus), 1.0) / step
                tolerance = 1e-3 * max(1.0, abs(autodiff)) + rounding
                checks.append(
                    FiniteDifference(
                        target=target,
                        source=source.label,
                        index=index,
                        autodiff=autodiff,
                        estimate=estimate,
                        relative_error=error if math.isfinite(error) else float("inf"),
                        agrees=abs(autodiff - estimate) <= tolerance,
                    )
                )
    return checks

"""The objective at every point of a plot's grid: one compiled program per problem.

Contours and 1-D curves evaluate the objective at thousands of points.  An eager
``jax.vmap`` runs each primitive as a program of its own, and each of those compiles the
first time a kernel meets its shape: about half a second for Rosenbrock on a 60 × 60 grid,
a fifth of the first ``%minimize --plot``.  One ``jax.jit`` of the vmapped objective
compiles once, in a tenth of that, and is kept per problem (its loop's cache key: the code
and what is baked into it), grid and argument shapes, so a redraw (a new start in the
panel) reuses it.  The other names the objective reads are arguments, never baked in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gradmagic.program_cache import ProgramCache, signature

if TYPE_CHECKING:
    from gradmagic.minimize.problem import Problem

GRID_PROGRAMS = ProgramCache(32)


class PointObjective:
    """A problem's objective as ``f(*values)``, one number per variable, with the notebook's
    other values ``aux`` fixed; :meth:`on_grid` evaluates many points in one call."""

    def __init__(self, problem: Problem, aux: dict[str, Any]) -> None:
        self.problem = problem
        self.aux = aux

    def __call__(self, *values: Any) -> Any:
        return self.problem.objective(tuple(values), self.aux)

    def on_grid(self, *coordinates: np.ndarray) -> np.ndarray:
        """The objective at the points ``zip(*coordinates)`` (flat arrays, one per
        variable).  Raises what tracing raises where the code cannot be vectorised
        (Python control flow on values): callers then go point by point."""
        import jax

        columns = [np.asarray(c) for c in coordinates]
        key = (self.problem.cache_key, signature((columns, self.aux)))

        def build() -> Any:
            objective = self.problem.objective

            def at_points(columns: list, aux: dict[str, Any]) -> Any:
                return jax.vmap(lambda *values: objective(values, aux))(*columns)

            return jax.jit(at_points)

        return np.asarray(GRID_PROGRAMS.get_or_build(key, build)(columns, self.aux))

"""The curvature of an objective at a point: the extreme eigenvalues of its Hessian.

What step-size advice is built from (:mod:`gradmagic.minimize.step_size`).  All variables
are flattened into one vector.  Up to :data:`DENSE_HESSIAN_LIMIT` numbers the Hessian is
formed densely; beyond, both extreme eigenvalues come from power iteration on
Hessian-vector products (approximate), so the matrix is never formed.  The compiled
program is cached like the loop's (same ``cache_key`` rules).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from gradmagic.minimize.validation import as_variables
from gradmagic.program_cache import ProgramCache, arguments_key

ALONG_BATCH = 16  # points per vectorised curvature call (see curvature_along)
DENSE_HESSIAN_LIMIT = 1_000  # above this many numbers, eigenvalues come from power iteration
PROGRAMS = ProgramCache()


@dataclass(frozen=True)
class Curvature:
    """λmin and λmax of the Hessian at a point (``where`` says which, for messages)."""

    lambda_min: float
    lambda_max: float
    where: str = "at the start"

    @property
    def finite(self) -> bool:
        return math.isfinite(self.lambda_min) and math.isfinite(self.lambda_max)

    def most_curved(self, other: Curvature) -> Curvature:
        """The larger λmax of the two (with its ``where``) and the smaller positive λmin:
        a bound that holds at both points, and the slowest direction met."""
        top = other if other.lambda_max > self.lambda_max else self
        lows = [c.lambda_min for c in (self, other) if c.lambda_min > 0]
        low = min(lows) if lows else min(self.lambda_min, other.lambda_min)
        return Curvature(low, top.lambda_max, top.where)


def curvature_at(
    objective: Callable[[tuple, Any], Any],
    point: Sequence[Any],
    aux: Any = (),
    *,
    cache_key: Hashable | None = None,
) -> Curvature:
    """The extreme Hessian eigenvalues of ``objective(params, aux)`` at ``point``."""
    params = as_variables(tuple(point), None)
    identity = objective if cache_key is None else cache_key
    key = (identity, arguments_key(params, aux), "hessian")
    extremes = PROGRAMS.get_or_build(key, lambda: _hessian_extremes(objective, params))
    lo, hi = (float(v) for v in extremes(params, aux))
    return Curvature(lo, hi)


def curvature_along(
    objective: Callable[[tuple, Any], Any],
    points: Sequence[Any],
    aux: Any = (),
    *,
    cache_key: Hashable | None = None,
) -> list[Curvature]:
    """The extreme Hessian eigenvalues at each of ``points`` (variable tuples), in one
    vectorised call.  The points are padded to a multiple of :data:`ALONG_BATCH` so the
    compiled program is reused whatever their number."""
    rows = [as_variables(tuple(point), None) for point in points]
    count = len(rows)
    padded = rows + [rows[-1]] * (-count % ALONG_BATCH)
    # stacked in numpy: jnp.stack dispatches one small program per leaf, a cost that
    # would dominate a panel update
    batch = jax.tree_util.tree_map(
        lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]), *padded
    )
    identity = objective if cache_key is None else cache_key
    key = (identity, arguments_key(rows[0], aux), "hessian-along", len(padded))
    extremes = PROGRAMS.get_or_build(
        key, lambda: jax.jit(jax.vmap(_hessian_extremes(objective, rows[0]), in_axes=(0, None)))
    )
    lows, highs = jax.device_get(extremes(batch, aux))
    return [
        Curvature(float(lo), float(hi)) for lo, hi in zip(lows[:count], highs[:count], strict=False)
    ]


def _hessian_extremes(objective: Callable, params: tuple) -> Callable:
    """Compile ``(params, aux) -> (lambda_min, lambda_max)`` for these variable shapes."""
    flat0, unravel = ravel_pytree(params)
    dense = flat0.size <= DENSE_HESSIAN_LIMIT

    def extremes(params: tuple, aux: Any) -> tuple[jax.Array, jax.Array]:
        flat, _ = ravel_pytree(params)

        def scalar(x: jax.Array) -> jax.Array:
            return objective(unravel(x), aux)

        if dense:
            hessian = jax.hessian(scalar)(flat)
            eig = jnp.linalg.eigvalsh((hessian + hessian.T) / 2)
            return eig[0], eig[-1]
        return _power_extremes(scalar, flat)

    return jax.jit(extremes)


def _power_extremes(
    scalar: Callable, flat: jax.Array, iterations: int = 200
) -> tuple[jax.Array, jax.Array]:
    """Largest-magnitude eigenvalue by power iteration, then the other end by a shifted one."""

    def hvp(v: jax.Array) -> jax.Array:
        return jax.jvp(jax.grad(scalar), (flat,), (v,))[1]

    def power(matvec: Callable) -> jax.Array:
        def body(_: int, v: jax.Array) -> jax.Array:
            w = matvec(v)
            return w / (jnp.linalg.norm(w) + 1e-30)

        v0 = jax.random.normal(jax.random.PRNGKey(0), flat.shape, flat.dtype)  # generic start
        v = lax.fori_loop(0, iterations, body, v0)
        return jnp.vdot(v, matvec(v))

    first = power(hvp)
    other = power(lambda v: hvp(v) - first * v) + first
    return jnp.minimum(first, other), jnp.maximum(first, other)

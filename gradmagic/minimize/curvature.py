"""The curvature of an objective at a point: the extreme eigenvalues of its Hessian.

What step-size advice is built from (:mod:`gradmagic.minimize.step_size`).  All variables
are flattened into one vector.  Up to the session's ``hessian_limit`` numbers
(``%gradmagic hessian_limit=N``) the Hessian is formed densely; beyond, both extreme
eigenvalues come from Lanczos on Hessian-vector products (:mod:`gradmagic.spectrum`, the
same as ``%%tape --hessian``), so the matrix is never formed.  The compiled program is
cached like the loop's (same ``cache_key`` rules, and whether the matrix is formed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gradmagic.minimize.validation import as_variables
from gradmagic.program_cache import ProgramCache, arguments_key
from gradmagic.settings import settings

ALONG_BATCH = 16  # points per vectorised curvature call (see curvature_along)
PROGRAMS = ProgramCache()


def _dense(params: tuple) -> bool:
    """Whether the Hessian of ``params`` is small enough to form (``hessian_limit``)."""
    return sum(int(np.size(p)) for p in params) <= settings.hessian_limit


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
    dense = _dense(params)
    key = (identity, arguments_key(params, aux), "hessian", dense)
    extremes = PROGRAMS.get_or_build(key, lambda: _hessian_extremes(objective, params, dense))
    lo, hi, products = jax.device_get(extremes(params, aux))
    if dense:
        return Curvature(float(lo), float(hi))
    where = f"at the start, by Lanczos from {int(products)} Hessian-vector products"
    return Curvature(float(lo), float(hi), where)


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
    dense = _dense(rows[0])
    key = (identity, arguments_key(rows[0], aux), "hessian-along", len(padded), dense)
    extremes = PROGRAMS.get_or_build(
        key,
        lambda: jax.jit(jax.vmap(_hessian_extremes(objective, rows[0], dense), in_axes=(0, None))),
    )
    lows, highs, _ = jax.device_get(extremes(batch, aux))
    return [
        Curvature(float(lo), float(hi)) for lo, hi in zip(lows[:count], highs[:count], strict=False)
    ]


def _hessian_extremes(objective: Callable, params: tuple, dense: bool) -> Callable:
    """Compile ``(params, aux) -> (lambda_min, lambda_max, products)`` for these variable
    shapes: from the matrix when ``dense``, else from Lanczos (``products`` Hessian-vector
    products, 0 for the matrix)."""
    from gradmagic.spectrum import lanczos

    _, unravel = ravel_pytree(params)

    def extremes(params: tuple, aux: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
        flat, _ = ravel_pytree(params)
        if dense:
            hessian = jax.hessian(lambda x: objective(unravel(x), aux))(flat)
            eig = jnp.linalg.eigvalsh((hessian + hessian.T) / 2)
            return eig[0], eig[-1], jnp.asarray(0)
        found = lanczos(objective, params, aux, wanted="extremes")
        return found["min"], found["top"][0], found["products"]

    return jax.jit(extremes)

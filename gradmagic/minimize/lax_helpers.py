"""Small ``lax`` helpers of the compiled loop (:mod:`~gradmagic.minimize.loop`).

Written with ``lax`` rather than ``jax.numpy``: the loop is traced on every new problem,
and ``jax.numpy``'s checks and promotions cost tracing time.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax


def scalar(vector: jax.Array, i: int) -> jax.Array:
    return lax.index_in_dim(vector, i, keepdims=False)


def vector(*scalars: jax.Array) -> jax.Array:
    return lax.concatenate([lax.broadcast(s, (1,)) for s in scalars], 0)


def global_norm(tree: Any, dtype: Any) -> jax.Array:
    """Euclidean norm of all leaves together, computed in ``dtype``."""
    total = None
    for leaf in jax.tree_util.tree_leaves(tree):
        leaf = lax.convert_element_type(leaf, dtype)
        square = lax.mul(leaf, leaf)
        part = lax.reduce_sum(square, tuple(range(square.ndim))) if square.ndim else square
        total = part if total is None else lax.add(total, part)
    return lax.sqrt(total)


def all_finite(loss: jax.Array, params: tuple) -> jax.Array:
    ok = lax.is_finite(loss)
    for p in params:
        finite = lax.is_finite(p)
        if finite.ndim:
            finite = lax.reduce_and(finite, tuple(range(finite.ndim)))
        ok = lax.bitwise_and(ok, finite)
    return ok


def cast_like(tree: Any, like: Any) -> Any:
    """``tree`` with ``like``'s dtypes (strongly typed), so a carry's types never drift."""
    return jax.tree_util.tree_map(lambda x, ref: lax.convert_element_type(x, ref.dtype), tree, like)


def record_slot(count: jax.Array, stride: jax.Array) -> jax.Array:
    """``ceil(count / stride)``, written without overflow: the record slot of a step (or an
    epoch).  Every count ``(m-1)*stride < count <= m*stride`` writes slot ``m``, so the
    last write, the one kept, is ``m*stride``'s; a run that stops between two multiples
    leaves its own last count in the next slot."""
    one = np.int32(1)
    later = lax.add(lax.div(lax.sub(count, one), stride), one)
    return lax.select(lax.gt(count, np.int32(0)), later, np.int32(0))


def line_search_trials(state: Any) -> list:
    """The line-search trials of the last update, from each zoom line-search state in
    ``state`` (each trial evaluates the objective and its gradient once)."""
    found = jax.tree_util.tree_leaves(
        state, is_leaf=lambda x: isinstance(x, optax.ScaleByZoomLinesearchState)
    )
    return [
        s.info.num_linesearch_steps
        for s in found
        if isinstance(s, optax.ScaleByZoomLinesearchState)
    ]


def host_zeros(like: jax.ShapeDtypeStruct) -> Any:
    """Host zeros shaped like ``like`` (device ones for PRNG keys, which numpy cannot hold)."""
    if jax.dtypes.issubdtype(like.dtype, jax.dtypes.extended):
        return jnp.zeros(like.shape, like.dtype)
    return np.zeros(like.shape, like.dtype)


def project(params: tuple, box: tuple | None) -> tuple:
    """``params`` projected onto the box ``(lower, upper)`` (optax's projection); None: as is."""
    return params if box is None else optax.projections.projection_box(params, *box)


def free_gradient(grad: tuple, params: tuple, box: tuple) -> tuple:
    """The gradient without the components that push a variable out of its box (zero where
    it sits at a bound and descent would cross it): what the optimizer steps along, and
    whose norm is compared with tol (the projected gradient, as SciPy's L-BFGS-B's pgtol)."""

    def one(g: jax.Array, p: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
        blocked = lax.bitwise_or(
            lax.bitwise_and(lax.le(p, low), lax.gt(g, lax.full_like(g, 0))),
            lax.bitwise_and(lax.ge(p, high), lax.lt(g, lax.full_like(g, 0))),
        )
        return lax.select(blocked, lax.full_like(g, 0), g)

    return tuple(map(one, grad, params, *box))

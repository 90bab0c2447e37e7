"""The extreme eigenvalues of a Hessian from Hessian-vector products, never the matrix.

Past a few thousand numbers a Hessian is too big to form (n² entries, n backward passes);
its extremes are what step sizes and the second-derivative test need anyway.  Lanczos
iteration builds an orthonormal basis of the Krylov space of the Hessian from one
Hessian-vector product (forward-over-reverse: ``jax.jvp`` of ``jax.grad``, about the cost
of two gradients) per step; the eigenvalues of the small tridiagonal matrix it produces
(Ritz values) approach the Hessian's *extreme* eigenvalues first.  Every new basis vector is
orthogonalised again against all previous ones (full reorthogonalisation, twice), so no
spurious copies of converged eigenvalues appear in float32; an exhausted Krylov space (a
quadratic with few distinct eigenvalues) restarts from a fresh vector orthogonal to the
basis, so with ``n`` steps the Ritz values are all of the Hessian's eigenvalues.  Lanczos
from one vector sees each distinct eigenvalue once: a repeated eigenvalue shows its
copies only through such restarts, so after one the iteration never stops early (it runs
``min(n, iterations)`` steps), and a repeated eigenvalue inside a continuum (no restart)
may be listed fewer times than it occurs.

Accuracy is reported, not assumed: for each Ritz value θ with unit eigenvector s of the
tridiagonal matrix, ``|β_k s_k|`` is the norm of ``H v - θ v`` for the Ritz vector v, and
H has an eigenvalue within that distance of θ (usually far closer: the error is of the
order of residual²/gap).  The iteration stops early once λmin, λmax and the 5 largest have
residuals below ``tol`` times the largest |Ritz value| (checked every :data:`CHECK_EVERY`
steps), so a well-separated top eigenvalue costs few products.

Everything runs as one compiled program (a ``lax.while_loop``, the small eigenproblem
included) kept in a :class:`~gradmagic.program_cache.ProgramCache` keyed by the caller's
cache key and the arguments' shapes, so asking again at another point never recompiles.
The start vector comes from a fixed PRNG key: the same question gives the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from gradmagic.program_cache import ProgramCache, arguments_key

MAX_ITERATIONS = 60  # Lanczos steps at most (one Hessian-vector product each)
CHECK_EVERY = 5  # steps between convergence checks (each solves the small eigenproblem)
TOL = 1e-4  # residual bound, relative to the largest |Ritz value|, that counts as converged
TOP = 5  # how many of the largest eigenvalues are reported
SEED = 0  # the start vector's PRNG key: deterministic answers
PROGRAMS = ProgramCache()
# Which values must meet ``tol`` before the iteration stops: everything reported, the two
# ends (step-size advice), or only the largest (the top eigenvalue).
WANTED = ("all", "extremes", "max")


@dataclass(frozen=True)
class Spectrum:
    """The extreme eigenvalues of a Hessian of ``size`` numbers, and how sure they are.

    ``top`` holds the largest eigenvalues in decreasing order (at most :data:`TOP`, fewer
    for a smaller Hessian); each ``*_residual`` bounds the distance from that value to an
    eigenvalue of the Hessian.  ``products`` Hessian-vector products were computed.
    """

    lambda_min: float
    lambda_max: float
    top: tuple[float, ...]
    min_residual: float
    max_residual: float
    top_residuals: tuple[float, ...]
    products: int
    size: int

    @property
    def eigenvalues(self) -> np.ndarray:
        """λmin and the top values, ascending (what an eigen-verdict needs)."""
        return np.array(sorted({self.lambda_min, *self.top}))

    @property
    def converged(self) -> bool:
        """Every reported value within :data:`TOL` (relative) of a true eigenvalue."""
        scale = max(abs(self.lambda_min), abs(self.lambda_max), 1e-30)
        worst = max(self.min_residual, self.max_residual, *self.top_residuals)
        return math.isfinite(worst) and worst <= TOL * scale * 1.01

    @property
    def exact(self) -> bool:
        """All ``size`` eigenvalues were found (as many products as numbers)."""
        return self.products >= self.size


def hessian_spectrum(
    objective: Callable[[Any, Any], Any],
    params: Any,
    aux: Any = (),
    *,
    cache_key: Hashable | None = None,
    iterations: int = MAX_ITERATIONS,
    tol: float = TOL,
    wanted: str = "all",
) -> Spectrum:
    """λmin, λmax and the largest eigenvalues of the Hessian of ``objective(params, aux)``
    with respect to ``params`` (any pytree of floating arrays; ``aux`` is passed through,
    not differentiated, so data is an argument rather than a constant baked into the
    program).  The compiled program is cached under ``cache_key`` (default: the objective
    itself) and the arguments' shapes.  ``wanted`` (one of :data:`WANTED`) says which
    values must converge before the iteration stops; the others are reported as far as
    they got, with their residuals."""
    program = spectrum_program(
        objective, params, aux, cache_key=cache_key, iterations=iterations, wanted=wanted
    )
    size = int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(params)))
    return spectrum_from(jax.device_get(program(params, aux, tol)), size)


def spectrum_program(
    objective: Callable[[Any, Any], Any],
    params: Any,
    aux: Any = (),
    *,
    cache_key: Hashable | None = None,
    iterations: int = MAX_ITERATIONS,
    wanted: str = "all",
) -> Callable[..., dict[str, jax.Array]]:
    """The cached compiled ``(params, aux, tol) -> arrays`` (see :func:`lanczos`)."""
    identity = objective if cache_key is None else cache_key
    key = (identity, arguments_key(params, aux), "lanczos", iterations, wanted)
    return PROGRAMS.get_or_build(
        key, lambda: jax.jit(lambda p, a, tol: lanczos(objective, p, a, iterations, tol, wanted))
    )


def spectrum_from(arrays: dict[str, Any], size: int) -> Spectrum:
    """A :class:`Spectrum` from the arrays :func:`lanczos` returns (fetched to the host)."""
    count = min(TOP, size)
    top = tuple(float(v) for v in np.asarray(arrays["top"])[:count])
    return Spectrum(
        lambda_min=float(arrays["min"]),
        lambda_max=top[0],
        top=top,
        min_residual=float(arrays["min_residual"]),
        max_residual=float(np.asarray(arrays["top_residuals"])[0]),
        top_residuals=tuple(float(v) for v in np.asarray(arrays["top_residuals"])[:count]),
        products=int(arrays["products"]),
        size=size,
    )


def lanczos(
    objective: Callable[[Any, Any], Any],
    params: Any,
    aux: Any,
    iterations: int = MAX_ITERATIONS,
    tol: float | jax.Array = TOL,
    wanted: str = "all",
) -> dict[str, jax.Array]:
    """Traceable Lanczos on the Hessian of ``objective(·, aux)`` at ``params``.

    Returns ``min``, ``top`` (:data:`TOP` values, decreasing), their residual bounds
    (``min_residual``, ``top_residuals``) and ``products``: the steps taken, at most
    ``min(size, iterations)``, fewer once the ``wanted`` values converged.  vmap-able
    (``curvature_along``).
    """
    if wanted not in WANTED:
        raise ValueError(f"wanted must be one of {WANTED}, got {wanted!r}")
    flat, unravel = ravel_pytree(params)
    n = flat.size
    k = max(1, min(n, iterations))
    dtype = flat.dtype if jnp.issubdtype(flat.dtype, jnp.floating) else jnp.float32
    flat = flat.astype(dtype)

    def gradient(x: jax.Array) -> jax.Array:
        return jax.grad(lambda y: objective(unravel(y), aux))(x).astype(dtype)

    def hvp(v: jax.Array) -> jax.Array:
        return jax.jvp(gradient, (flat,), (v,))[1]

    key = jax.random.PRNGKey(SEED)
    basis = jnp.zeros((k + 1, n), dtype)
    start = jax.random.normal(key, (n,), dtype)
    basis = basis.at[0].set(start / jnp.linalg.norm(start))
    alphas = jnp.zeros(k, dtype)
    betas = jnp.zeros(k, dtype)
    tiny = jnp.finfo(dtype).eps

    def orthogonalised(w: jax.Array, basis: jax.Array, j: jax.Array) -> jax.Array:
        mask = (jnp.arange(k + 1) <= j).astype(dtype)[:, None]
        used = basis * mask
        for _ in range(2):  # "twice is enough" (Kahan–Parlett)
            w = w - used.T @ (used @ w)
        return w

    def step(state: tuple) -> tuple:
        j, basis, alphas, betas, _, restarted = state
        v = basis[j]
        w = hvp(v)
        alpha = jnp.vdot(v, w)
        w = orthogonalised(w, basis, j)
        beta = jnp.linalg.norm(w)
        scale = jnp.maximum(jnp.max(jnp.abs(alphas)), jnp.abs(alpha))
        exhausted = beta <= 100 * tiny * jnp.maximum(scale, tiny)
        following = lax.cond(
            exhausted,
            lambda: orthogonalised(
                jax.random.normal(jax.random.fold_in(key, j + 1), (n,), dtype), basis, j
            ),
            lambda: w,
        )
        following = following / jnp.maximum(jnp.linalg.norm(following), tiny)
        beta = jnp.where(exhausted, 0.0, beta).astype(dtype)
        basis = basis.at[j + 1].set(following)
        alphas = alphas.at[j].set(alpha)
        betas = betas.at[j].set(beta)
        j = j + 1
        restarted = restarted | exhausted
        done = lax.cond(
            (j % CHECK_EVERY == 0) & (j < k) & ~restarted,
            lambda: _converged(_ritz(alphas, betas, j, k), tol, wanted),
            lambda: j >= k,
        )
        return j, basis, alphas, betas, done, restarted

    def running(state: tuple) -> jax.Array:
        return ~state[4]

    initial = (jnp.asarray(0), basis, alphas, betas, jnp.asarray(False), jnp.asarray(False))
    j, _, alphas, betas, _, _ = lax.while_loop(running, step, initial)
    result = _ritz(alphas, betas, j, k)
    result["products"] = j
    return result


def _ritz(alphas: jax.Array, betas: jax.Array, j: jax.Array, k: int) -> dict[str, jax.Array]:
    """Extreme Ritz values of the leading j×j block of the tridiagonal matrix, with their
    residual bounds.  The unused rows are padded with a value below every eigenvalue of
    the block (Gershgorin) and decoupled, so they sort first and are skipped by count."""
    used = jnp.arange(k) < j
    previous = jnp.concatenate([jnp.zeros(1, betas.dtype), betas[:-1]])
    off = jnp.where(jnp.arange(k) < j - 1, betas, 0.0)
    radius = jnp.abs(previous * used) + jnp.abs(off)
    lowest = jnp.min(jnp.where(used, alphas - radius, jnp.inf))
    pad = lowest - 1.0 - jnp.abs(lowest)
    diagonal = jnp.where(used, alphas, pad)
    matrix = jnp.diag(diagonal) + jnp.diag(off[:-1], 1) + jnp.diag(off[:-1], -1)
    values, vectors = jnp.linalg.eigh(matrix)
    last = vectors[j - 1]  # last components: residual of each Ritz pair is |β_j s_j|
    residuals = jnp.abs(betas[j - 1] * last)
    first = k - j
    top_index = jnp.clip(k - 1 - jnp.arange(TOP), first, k - 1)
    return {
        "min": values[first],
        "min_residual": residuals[first],
        "top": values[top_index],
        "top_residuals": residuals[top_index],
    }


def _converged(ritz: dict[str, jax.Array], tol: jax.Array, wanted: str) -> jax.Array:
    scale = jnp.maximum(jnp.abs(ritz["min"]), jnp.abs(ritz["top"][0]))
    worst = {
        "all": jnp.maximum(ritz["min_residual"], jnp.max(ritz["top_residuals"])),
        "extremes": jnp.maximum(ritz["min_residual"], ritz["top_residuals"][0]),
        "max": ritz["top_residuals"][0],
    }[wanted]
    return worst <= tol * scale

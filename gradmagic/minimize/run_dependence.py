"""Which outputs of a function depend on which inputs: read off its jaxpr.

:mod:`~gradmagic.minimize.batch_loop` keeps a leaf of the optimiser state as one value
for all runs (not one per run) when it depends on nothing that differs between runs:
Adam's step count and its injected hyperparameters, when all runs share them.  ``vmap``
cannot say which outputs it would leave unbatched (it broadcasts them all, or refuses one
it was told to leave alone), so :func:`depends_on` follows the data through the function's
jaxpr instead: an output depends on a marked input when any equation on the way reads
one.  It looks inside nested jaxprs (``jit``, ``cond`` branches, custom derivatives) and
treats any other higher-order primitive (loops) as depending on all of its inputs: it may
say "depends" too often, never too rarely, and the caller has ``vmap`` check the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

_CALLS = ("jaxpr", "call_jaxpr", "fun_jaxpr")  # sub-jaxprs that take the equation's inputs


def depends_on(function: Callable, args: Sequence[Any], marked: Sequence[Any]) -> list[bool]:
    """For each output leaf of ``function(*args)``, whether it depends on an input leaf
    that ``marked`` (a pytree of bools shaped like ``args``) marks True."""
    import jax

    closed = jax.make_jaxpr(function)(*args)
    flags = [bool(m) for m in jax.tree_util.tree_leaves(marked)]
    return _flow(closed.jaxpr, flags)


def _flow(jaxpr: Any, inputs: list[bool]) -> list[bool]:
    """Which outvars of ``jaxpr`` depend on the invars marked in ``inputs``."""
    marked: dict[Any, bool] = dict(zip(jaxpr.invars, inputs, strict=True))

    def read(v: Any) -> bool:
        return not hasattr(v, "val") and marked.get(v, False)  # a literal depends on nothing

    for eqn in jaxpr.eqns:
        into = [read(v) for v in eqn.invars]
        for v, flag in zip(eqn.outvars, _through(eqn, into), strict=True):
            marked[v] = flag
    return [read(v) for v in jaxpr.outvars]


def _through(eqn: Any, into: list[bool]) -> list[bool]:
    """One equation: its own sub-jaxprs followed where their inputs are its inputs."""
    params = eqn.params
    if eqn.primitive.name == "cond" and not into[0]:  # the same branch for every run
        branches = [_flow(_inner(b), into[1:]) for b in params["branches"]]
        return [any(flags) for flags in zip(*branches, strict=True)]
    for name in _CALLS:
        inner = _inner(params.get(name))
        fits = inner is not None and len(inner.invars) == len(into)
        if fits and len(inner.outvars) == len(eqn.outvars):
            return _flow(inner, into)
    return [any(into)] * len(eqn.outvars)


def _inner(jaxpr: Any) -> Any:
    """The open jaxpr of a (closed) jaxpr parameter, or None."""
    if jaxpr is None or not hasattr(jaxpr, "eqns") and not hasattr(jaxpr, "jaxpr"):
        return None
    return jaxpr.jaxpr if hasattr(jaxpr, "jaxpr") else jaxpr

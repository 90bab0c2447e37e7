"""The optimizers a user can name: the curated ones and every optax optimizer.

Each is an :class:`OptimizerSpec`: how to build its optax transformation, what its
momentum-like hyperparameter is called (``momentum``, ``b1``, ``decay``) and whether it
uses the learning rate at all (L-BFGS's line search picks every step).  Built
transformations take the learning rate and momentum through ``optax.inject_hyperparams``,
so they are traced values and a new value never recompiles a loop.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from gradmagic.errors import GradmagicError, did_you_mean

# Optimizers that rescale each coordinate by its gradient history: no learning-rate bound
# follows from the curvature for them.
ADAPTIVE = frozenset({"adam", "adamw", "adagrad", "rmsprop"})


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer the user can name.

    ``factory(learning_rate, **{momentum_name: m})`` builds the optax transformation; it is
    wrapped in ``optax.inject_hyperparams`` so those values are traced, not compiled in.
    """

    name: str
    momentum_name: str | None
    default_momentum: float | None
    factory: Callable[..., optax.GradientTransformation] = field(repr=False, compare=False)
    static_args: tuple[str, ...] = ()  # integer/bool options kept out of the traced hyperparams
    uses_lr: bool = True  # False for lbfgs: its line search picks every step length
    line_search: bool = False  # update needs value/grad/value_fn and stores them in its state
    summary: str = ""
    # each number's update depends on that number alone (see minimize.flat_layout)
    elementwise: bool = False


def _sgd_momentum(learning_rate: float, momentum: float) -> optax.GradientTransformation:
    """Heavy-ball SGD; a named function so inject_hyperparams sees only traced floats."""
    return optax.sgd(learning_rate, momentum=momentum)


def _sgd_nesterov(learning_rate: float, momentum: float) -> optax.GradientTransformation:
    """Nesterov SGD; ``nesterov=True`` is bound here because booleans cannot be traced."""
    return optax.sgd(learning_rate, momentum=momentum, nesterov=True)


def _lbfgs(learning_rate: float | None = None) -> optax.GradientTransformation:
    """optax.lbfgs with its zoom line search; the learning rate is deliberately ignored."""
    del learning_rate
    return optax.lbfgs()


_CURATED: tuple[OptimizerSpec, ...] = (
    OptimizerSpec("sgd", None, None, optax.sgd, summary="plain gradient descent", elementwise=True),
    OptimizerSpec(
        "momentum", "momentum", 0.9, _sgd_momentum, summary="SGD with momentum", elementwise=True
    ),
    OptimizerSpec(
        "nesterov",
        "momentum",
        0.9,
        _sgd_nesterov,
        summary="SGD, Nesterov momentum",
        elementwise=True,
    ),
    OptimizerSpec("adam", "b1", 0.9, optax.adam, elementwise=True),
    OptimizerSpec("adamw", "b1", 0.9, optax.adamw, elementwise=True),
    OptimizerSpec("adagrad", None, None, optax.adagrad, elementwise=True),
    OptimizerSpec("rmsprop", "decay", 0.9, optax.rmsprop, elementwise=True),
    OptimizerSpec(
        "lbfgs",
        None,
        None,
        _lbfgs,
        uses_lr=False,
        line_search=True,
        summary="L-BFGS, zoom line search",
    ),
)
_CURATED_BY_NAME = {spec.name: spec for spec in _CURATED}
_ALIASES = {"gd": "sgd", "l-bfgs": "lbfgs", "l_bfgs": "lbfgs"}
_MOMENTUM_PARAMS = ("b1", "momentum", "beta", "decay")  # first one present names the momentum


def _returns_transformation(sig: inspect.Signature) -> bool:
    """True when the annotation says the factory builds an optax GradientTransformation."""
    ann = sig.return_annotation
    if isinstance(ann, type):
        return issubclass(ann, optax.GradientTransformation)
    return "GradientTransformation" in str(ann)


def _spec_from_optax(name: str, fn: Callable[..., Any]) -> OptimizerSpec | None:
    """Describe an optax optimizer factory, or None when it is not one we can drive.

    An optimizer here is a function whose first parameter is ``learning_rate`` and whose other
    parameters all have defaults.  Integer options become static (a traced int would break
    Python-level shape logic); the first of :data:`_MOMENTUM_PARAMS` whose default is a float
    in [0, 1) is the momentum the user can set.
    """
    if name.startswith(("scale_by", "_")) or inspect.isclass(fn) or not callable(fn):
        return None
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if not params or params[0].name != "learning_rate" or not _returns_transformation(sig):
        return None
    rest = params[1:]
    if any(p.default is inspect.Parameter.empty for p in rest):
        return None
    static = tuple(
        p.name
        for p in rest
        if isinstance(p.default, numbers.Integral)
        or p.kind is inspect.Parameter.KEYWORD_ONLY
        or p.name == "key"
    )
    defaults = {p.name: p.default for p in rest}
    momentum_name = next((m for m in _MOMENTUM_PARAMS if _is_momentum(defaults.get(m))), None)
    default = defaults[momentum_name] if momentum_name else None
    return OptimizerSpec(
        name, momentum_name, default, fn, static_args=static, summary=f"optax.{name}"
    )


def _is_momentum(default: Any) -> bool:
    """A decay-style default: a float in [0, 1) (rules out e.g. optimistic GD's beta=1)."""
    return isinstance(default, float) and 0.0 <= default < 1.0


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, OptimizerSpec]:
    """Curated optimizers first, then every other optax optimizer found in its namespace."""
    specs = {spec.name: spec for spec in _CURATED}
    for name in sorted(dir(optax)):
        if name in specs:
            continue
        spec = _spec_from_optax(name, getattr(optax, name))
        if spec is not None:
            specs[name] = spec
    return specs


def known_optimizers() -> list[str]:
    """Names accepted by :func:`resolve_optimizer`: the curated ones first, then optax's."""
    return list(_registry())


def resolve_optimizer(name: str) -> OptimizerSpec:
    """Look an optimizer up by name (case-insensitive; ``-`` and ``_`` are interchangeable)."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key).replace("-", "_")
    spec = _CURATED_BY_NAME.get(key) or _registry().get(key)  # scanning optax costs ~5 ms
    if spec is None:
        known = known_optimizers()
        hint = did_you_mean(key, [s.name for s in _CURATED]) or did_you_mean(key, known)
        raise GradmagicError(
            f"Unknown optimizer {name!r}.{hint} Known optimizers: {', '.join(known)}."
        )
    return spec


def make_optimizer(
    spec: OptimizerSpec, lr: Any, momentum: Any
) -> optax.GradientTransformationExtraArgs:
    """Build the transformation with lr/momentum injected as (possibly traced) state."""
    if not spec.uses_lr:
        return optax.with_extra_args_support(spec.factory())
    kwargs: dict[str, Any] = {"learning_rate": lr}
    if spec.momentum_name is not None:
        kwargs[spec.momentum_name] = momentum
    if "key" in spec.static_args:  # noisy optimizers: a fixed seed keeps runs reproducible
        kwargs["key"] = 0
    injected = optax.inject_hyperparams(spec.factory, static_args=spec.static_args)
    return _scalars_as_vectors(injected(**kwargs))


def _scalars_as_vectors(
    inner: optax.GradientTransformationExtraArgs,
) -> optax.GradientTransformationExtraArgs:
    """Show the optimizer 0-d variables as shape (1,) ones (and undo it on the updates).

    Some optax optimizers (sm3, factored ones) index array dimensions and fail on scalars,
    the most common notebook variable.  The reshape is free inside the compiled program.
    """

    def lift(tree: Any) -> Any:
        return jax.tree_util.tree_map(
            lambda x: lax.broadcast(x, (1,)) if jnp.ndim(x) == 0 else x, tree
        )

    def init(params: Any) -> Any:
        return inner.init(lift(params))

    def update(updates: Any, state: Any, params: Any = None, **extra: Any) -> tuple:
        new, state = inner.update(lift(updates), state, lift(params), **extra)
        new = jax.tree_util.tree_map(lambda n, u: lax.reshape(n, jnp.shape(u)), new, updates)
        return new, state

    return optax.GradientTransformationExtraArgs(init, update)


def momentum_for(spec: OptimizerSpec, momentum: Any) -> float | None:
    """The momentum to inject: the user's, else the optimizer's default (None if it has none).

    Checked here, with the registry, because only the spec knows its momentum's name."""
    if momentum is None:
        return spec.default_momentum
    if spec.momentum_name is None:
        with_momentum = [s.name for s in _CURATED if s.momentum_name]
        raise GradmagicError(
            f"{spec.name} has no momentum setting; use an optimizer that has one "
            f"({', '.join(with_momentum)}), e.g. optimizer=momentum."
        )
    value = as_real(momentum)
    if value is None or not 0 <= value < 1:
        raise GradmagicError(
            f"momentum must be a number in [0, 1), got {momentum!r} "
            f"(it is {spec.name}'s {spec.momentum_name}; e.g. momentum=0.9)."
        )
    return value


def as_real(value: Any) -> float | None:
    """``value`` as a Python float when it is a real number (not bool/str), else None."""
    if isinstance(value, (bool, str, bytes)) or np.ndim(value) != 0:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

"""The engine behind ``%minimize``: compiled optax loops that never recompile needlessly.

The magic layer turns a notebook expression into ``objective(params, aux) -> scalar`` and
calls :func:`minimize`.  Everything here is pure JAX (no IPython), built around these ideas:

* **Compiled chunks.**  The optimisation loop is one ``jax.jit`` program: a ``lax.while_loop``
  of at most :data:`CHUNK` steps that stops at a step bound passed in by Python, when the
  gradient norm falls below tol, or when a step goes non-finite, so one compiled program
  serves every ``steps`` value.  Python only runs between chunks: it reports progress, notices
  Ctrl-C, and stops early.  Chunks are sized from measured step time (about
  :data:`CHUNK_SECONDS` each) so progress and interrupts stay responsive for slow objectives.
* **One program per problem, cheap to compile.**  A run's first chunk starts from a *fresh*
  carry: its first iteration creates the optimiser state and evaluates the objective at the
  start, so there is no separate ``init`` program to compile.  The loop's scalars travel as
  small packed vectors and small problems compile with :data:`COMPILER_OPTIONS`: compiling
  costs about what a hand-written ``jit`` + ``lax.scan`` loop does.
* **Dynamic hyperparameters.**  The learning rate and momentum enter the program as traced
  values through ``optax.inject_hyperparams`` (the optimiser state is created inside the
  program), so a new lr or momentum reuses the same executable.
* **A program cache** keyed by ``(cache_key or objective, optimizer, tol given?, x64,
  shapes/dtypes of the variables and of aux)``.  A re-run, new lr, momentum, steps or starting
  values never compiles.

Results are fetched from the device once, at the end (plus one tiny status read per chunk).
Importing this module imports JAX and optax; the magics import it lazily.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jax.flatten_util import ravel_pytree

from gradmagic.errors import GradmagicError, did_you_mean
from gradmagic.values import default_float

__all__ = [
    "CHUNK",
    "OptimizationRun",
    "OptimizerSpec",
    "clear_cache",
    "divergence_message",
    "known_optimizers",
    "minimize",
    "resolve_optimizer",
    "suggested_learning_rate",
]

CHUNK = 256  # steps per compiled scan; fixed so that any `steps` reuses one program
CHUNK_SECONDS = 0.2  # aim for a progress report / interrupt check this often
FIRST_CHUNK = 8  # steps in the first chunk of a never-timed program (its speed is unknown)
PATH_LIMIT = 1_000  # record the per-step path only when all variables hold <= this many numbers
DENSE_HESSIAN_LIMIT = 1_000  # above this many numbers, eigenvalues come from power iteration
CACHE_SIZE = 64  # compiled programs kept (least recently used dropped first)
# XLA:CPU compiles these loops' many small kernels about twice as fast with its classic LLVM
# emitters as with its newer MLIR fusion emitters, but the classic code for some elementwise
# functions (tanh) runs several times slower.  So only programs whose arrays are all small,
# where compiling is most of the cost, get these options.  An XLA that no longer knows an
# option rejects it; programs then compile without (see _Jit).
COMPILER_OPTIONS: dict[str, Any] = {"xla_cpu_use_fusion_emitters": False}
FAST_COMPILE_LIMIT = 256  # COMPILER_OPTIONS when no array in the objective is larger


# --------------------------------------------------------------------------- optimizers


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
    OptimizerSpec("sgd", None, None, optax.sgd, summary="plain gradient descent"),
    OptimizerSpec("momentum", "momentum", 0.9, _sgd_momentum, summary="SGD with momentum"),
    OptimizerSpec("nesterov", "momentum", 0.9, _sgd_nesterov, summary="SGD, Nesterov momentum"),
    OptimizerSpec("adam", "b1", 0.9, optax.adam),
    OptimizerSpec("adamw", "b1", 0.9, optax.adamw),
    OptimizerSpec("adagrad", None, None, optax.adagrad),
    OptimizerSpec("rmsprop", "decay", 0.9, optax.rmsprop),
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


def _make_optimizer(
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


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class OptimizationRun:
    """Everything one :func:`minimize` call found, all on the host (numpy / Python floats).

    ``history[k]`` is the objective after ``k`` steps (``history[0]`` at the start) and
    ``path[i][k]`` the ``i``-th variable then.  When the run diverged, ``values`` (and
    ``loss``/``grad_norm``) are the *starting* ones, while ``history``/``path`` end with the
    non-finite step so a plot shows what happened.  When interrupted, ``values`` are those
    after the last finished step; the caller decides whether to keep them.
    """

    values: tuple
    loss: float
    grad_norm: float
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


# --------------------------------------------------------------------------- validation


def _label(names: Sequence[str] | None, i: int, count: int) -> str:
    """How messages refer to variable ``i``: its name when the magic passed names."""
    if names is not None and i < len(names):
        return str(names[i])
    return "the variable" if count == 1 else f"variable {i + 1}"


def _as_param(value: Any, label: str, example: str) -> Any:
    """Turn one starting value into a float array JAX accepts, or explain what is wrong.

    Python floats become numpy arrays of JAX's default float width (strongly typed, so the
    compiled loop's carry types are stable); float64 numpy data is narrowed when x64 is off;
    JAX arrays are passed through untouched (no device round trip).  ``label`` names the
    variable in messages, ``example`` is the name used in the suggested fix.
    """
    if isinstance(value, numbers.Integral):  # bool included
        kind = "a boolean" if isinstance(value, (bool, np.bool_)) else "an integer"
        raise GradmagicError(
            f"The starting value of {label} is {kind} ({value}); gradients need floats: "
            f"make it a float, e.g. {example} = {float(value)!r}."
        )
    if isinstance(value, float):
        return np.asarray(value, dtype=default_float())
    if not isinstance(value, jax.Array):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            array = np.asarray(None)
        if array.dtype.kind not in "fiubc" and not jnp.issubdtype(array.dtype, jnp.floating):
            raise GradmagicError(
                f"The starting value of {label} must be a float or an array of floats, "
                f"got {type(value).__name__}."
            )
        value = array
    _check_param_dtype(value.dtype, label, example)
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        value = value.astype(default_float(), copy=False)
    return value


def _check_param_dtype(dtype: np.dtype, label: str, example: str) -> None:
    """Only real floating dtypes can be optimised; say how to fix the others."""
    if dtype.kind == "f" or jnp.issubdtype(dtype, jnp.floating):
        return
    if dtype.kind in "iub":
        raise GradmagicError(
            f"The starting value of {label} holds integers ({dtype}); gradients need floats: "
            f"make it a float, e.g. {example} = 1.0 or {example} = np.array([1.0, 2.0])."
        )
    raise GradmagicError(
        f"The starting value of {label} is complex ({dtype}); only real floats can be minimised."
    )


def _as_params(initial: Sequence[Any], names: Sequence[str] | None) -> tuple:
    """Convert every starting value; see :func:`_as_param`."""
    if not isinstance(initial, (tuple, list)):
        raise TypeError(f"initial must be a tuple or list of values, got {type(initial).__name__}")
    if not initial:
        raise GradmagicError("Nothing to minimise over: name at least one variable.")
    count = len(initial)
    return tuple(
        _as_param(v, _label(names, i, count), names[i] if names and i < len(names) else "x")
        for i, v in enumerate(initial)
    )


def _as_real(value: Any) -> float | None:
    """``value`` as a Python float when it is a real number (not bool/str), else None."""
    if isinstance(value, (bool, str, bytes)) or np.ndim(value) != 0:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _check_settings(
    spec: OptimizerSpec, lr: Any, steps: Any, momentum: Any, tol: Any
) -> tuple[float, int, float | None, float | None]:
    """Validate the loop settings and return them as plain Python numbers."""
    rate = _as_real(lr)
    if rate is None or not math.isfinite(rate) or rate <= 0:
        raise GradmagicError(f"lr must be a positive number, got {lr!r} (e.g. lr=0.01).")
    count = _as_real(steps)
    if count is None or not count.is_integer() or count < 1:
        raise GradmagicError(f"steps must be a whole number >= 1, got {steps!r} (e.g. steps=1000).")
    if count >= 2**31 - CHUNK:
        raise GradmagicError(f"steps must be below 2**31, got {steps!r}.")
    limit = None if tol is None else _as_real(tol)
    if tol is not None and (limit is None or not math.isfinite(limit) or limit <= 0):
        raise GradmagicError(
            f"tol must be a positive number, got {tol!r} (e.g. tol=1e-6); it stops the run "
            "once the gradient norm falls below it."
        )
    return rate, int(count), _check_momentum(spec, momentum), limit


def _check_momentum(spec: OptimizerSpec, momentum: Any) -> float | None:
    """The momentum to inject: the user's, else the optimizer's default (None if it has none)."""
    if momentum is None:
        return spec.default_momentum
    if spec.momentum_name is None:
        with_momentum = [s.name for s in _CURATED if s.momentum_name]
        raise GradmagicError(
            f"{spec.name} has no momentum setting; use an optimizer that has one "
            f"({', '.join(with_momentum)}), e.g. optimizer=momentum."
        )
    value = _as_real(momentum)
    if value is None or not 0 <= value < 1:
        raise GradmagicError(
            f"momentum must be a number in [0, 1), got {momentum!r} "
            f"(it is {spec.name}'s {spec.momentum_name}; e.g. momentum=0.9)."
        )
    return value


def _check_objective(
    objective: Callable, params: tuple, aux: Any, names: Sequence[str] | None
) -> tuple[np.dtype, int]:
    """Reject objectives that are not one real number or ignore some variable.

    Traces a JVP abstractly (no computation) and follows the jaxpr's data flow from each
    tangent input to the tangent output.  A variable whose tangent never reaches the output
    has a gradient that is zero *by construction* (unused, only behind ``stop_gradient``,
    rounding, comparisons...), so minimising over it cannot do anything.  Returns the
    objective's dtype and the most numbers any array in the traced JVP holds.
    """

    def jvp(primals: tuple, tangents: tuple, aux: Any) -> Any:
        return jax.jvp(lambda p: objective(p, aux), (primals,), (tangents,))

    try:
        closed, (out_shape, _) = jax.make_jaxpr(jvp, return_shape=True)(params, params, aux)
    except jax.errors.TracerArrayConversionError as exc:
        raise GradmagicError(
            "The objective turns a variable into a NumPy array (an np.* function or "
            "np.asarray); use jax.numpy (jnp.*) instead so it can be differentiated."
        ) from exc
    except jax.errors.TracerBoolConversionError as exc:
        raise GradmagicError(
            "The objective branches on a variable's value with Python if/while/and/or; "
            "write the choice with jnp.where(...) (or jax.lax.cond) so it can be differentiated "
            "and compiled."
        ) from exc
    except jax.errors.ConcretizationTypeError as exc:
        raise GradmagicError(
            "The objective needs a variable's concrete value (float(), int(), .item() or a "
            "Python if); keep the computation in jax.numpy so it can be differentiated."
        ) from exc
    leaves = jax.tree_util.tree_leaves(out_shape)
    if len(leaves) != 1:
        raise GradmagicError(
            f"The objective must return one number, got {len(leaves)} values; "
            "combine them into one, e.g. with a sum."
        )
    out = leaves[0]
    if out.shape != ():
        raise GradmagicError(
            f"The objective must be a single number, but it has shape {tuple(out.shape)}; "
            "reduce it to a scalar, e.g. with .sum() or .mean()."
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise GradmagicError(
            f"The objective has dtype {out.dtype}; it must be a real float to differentiate."
        )
    _check_dependence(closed, len(params), names)
    return np.dtype(out.dtype), _largest_array(closed)


def _largest_array(closed: Any) -> int:
    """The most numbers any value of a (closed) jaxpr holds, nested jaxprs included."""
    largest, todo = 0, [closed]
    while todo:
        jaxpr = todo.pop()
        jaxpr = getattr(jaxpr, "jaxpr", jaxpr)  # a ClosedJaxpr wraps its Jaxpr
        atoms = [*jaxpr.invars, *jaxpr.constvars]
        for eqn in jaxpr.eqns:
            atoms += eqn.outvars
            for param in eqn.params.values():
                for item in param if isinstance(param, (tuple, list)) else (param,):
                    if hasattr(item, "eqns") or hasattr(getattr(item, "jaxpr", None), "eqns"):
                        todo.append(item)
        for atom in atoms:
            shape = getattr(atom.aval, "shape", ())
            largest = max(largest, math.prod(shape))
    return largest


def _is_literal(atom: Any) -> bool:
    """A jaxpr operand that is a constant (``jax.extend.core.Literal``, the only kind with a
    ``val``), told apart without importing ``jax.extend.core``: that import pulls in Pallas
    (~25 ms, paid by the first ``%minimize`` of a kernel)."""
    return hasattr(atom, "val")


def _check_dependence(closed: Any, count: int, names: Sequence[str] | None) -> None:
    """Raise when the JVP jaxpr's tangent output ignores some tangent input."""
    jaxpr = closed.jaxpr
    flows: dict[Any, frozenset[int]] = {
        v: frozenset([i]) for i, v in enumerate(jaxpr.invars[count : 2 * count])
    }
    for eqn in jaxpr.eqns:
        sources = frozenset().union(
            *(flows.get(v, frozenset()) for v in eqn.invars if not _is_literal(v))
        )
        if sources:
            flows.update((v, sources) for v in eqn.outvars)
    out = jaxpr.outvars[-1]
    reached = frozenset() if _is_literal(out) else flows.get(out, frozenset())
    missing = [_label(names, i, count) for i in range(count) if i not in reached]
    if len(missing) == count:
        which = missing[0] if count == 1 else ", ".join(missing)
        raise GradmagicError(
            f"The objective does not depend on {which}: its gradient is zero everywhere, so "
            "there is nothing to minimise. Check that the expression uses the variable(s) "
            "(not a copy, a rounded value or a stop_gradient)."
        )
    if missing:
        them = "it" if len(missing) == 1 else "them"
        raise GradmagicError(
            f"The objective does not depend on {', '.join(missing)}, so minimising over {them} "
            f"does nothing; remove {them} from the variables or use {them} in the expression."
        )


# --------------------------------------------------------------------------- compiled loop


class _Carry(NamedTuple):
    """Loop state kept on the device between steps and between chunks.

    The loop's scalars are packed into small vectors: XLA:CPU then emits one kernel for each
    vector instead of one per scalar, and kernels are most of what compiling costs here.
    A run's first chunk receives a *fresh* carry built on the host (see
    :meth:`_Program.fresh_carry`): the starting values, the settings, ``step = -1`` and zeros
    of the right shapes for the rest.  Its first iteration creates the optimiser state and
    evaluates the objective at the start without stepping (``step`` becomes 0), so one
    compiled program serves the whole run.
    """

    params: tuple
    opt_state: Any
    grad: tuple  # gradient at `params`
    values: jax.Array  # [loss, grad norm, loss at the start, grad norm at the start]
    counts: jax.Array  # [steps taken (-1: fresh), step that went non-finite (-1: none), done]
    settings: jax.Array  # [tol, lr, momentum]: never changed by the program


def _scalar(vector: jax.Array, i: int) -> jax.Array:
    return lax.index_in_dim(vector, i, keepdims=False)


def _vector(*scalars: jax.Array) -> jax.Array:
    return lax.concatenate([lax.broadcast(s, (1,)) for s in scalars], 0)


def _global_norm(tree: Any, dtype: Any) -> jax.Array:
    """Euclidean norm of all leaves together, computed in ``dtype``."""
    total = None
    for leaf in jax.tree_util.tree_leaves(tree):
        leaf = lax.convert_element_type(leaf, dtype)
        square = lax.mul(leaf, leaf)
        part = lax.reduce_sum(square, tuple(range(square.ndim))) if square.ndim else square
        total = part if total is None else lax.add(total, part)
    return lax.sqrt(total)


def _all_finite(loss: jax.Array, params: tuple) -> jax.Array:
    ok = lax.is_finite(loss)
    for p in params:
        finite = lax.is_finite(p)
        if finite.ndim:
            finite = lax.reduce_and(finite, tuple(range(finite.ndim)))
        ok = lax.bitwise_and(ok, finite)
    return ok


def _select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    """``on_true`` where ``pred`` else ``on_false``, leaf by leaf (same structure)."""
    return jax.tree_util.tree_map(lambda t, f: lax.select(pred, t, f), on_true, on_false)


def _cast_like(tree: Any, like: Any) -> Any:
    """``tree`` with ``like``'s dtypes (strongly typed), so a carry's types never drift."""
    return jax.tree_util.tree_map(lambda x, ref: lax.convert_element_type(x, ref.dtype), tree, like)


class _Jit:
    """``jax.jit(fn, compiler_options=options)``, or without the options where XLA rejects them."""

    options_work = True  # cleared (for the process) by the first rejection

    def __init__(self, fn: Callable, options: dict[str, Any] | None = None) -> None:
        self.fn = fn
        self.options = options if options and _Jit.options_work else None
        self.jitted = jax.jit(fn, compiler_options=self.options)

    def __call__(self, *args: Any) -> Any:
        try:
            return self.jitted(*args)
        except jax.errors.JaxRuntimeError as exc:
            if self.options is None or "compile option" not in str(exc):
                raise
            _Jit.options_work = False
            self.options, self.jitted = None, jax.jit(self.fn)
            return self.jitted(*args)


class _Program:
    """The compiled chunk program for one cache key, plus the measured time per step.

    ``blank`` is a fresh carry of zeros; ``loss_dtype`` turns recorded losses back into the
    objective's dtype.
    """

    def __init__(
        self, chunk: Callable, blank: _Carry, record_path: bool, loss_dtype: np.dtype
    ) -> None:
        self.chunk = chunk
        self.blank = blank
        self.record_path = record_path
        self.loss_dtype = loss_dtype
        self.seconds_per_step: float | None = None
        self.chunk_calls = 0

    def fresh_carry(self, params: tuple, lr: float, momentum: float, tol: float) -> _Carry:
        """The first chunk's carry: a run's starting values and settings."""
        settings = np.array([tol, lr, momentum], self.blank.settings.dtype)
        return self.blank._replace(params=params, settings=settings)


def _build_program(
    objective: Callable,
    spec: OptimizerSpec,
    has_tol: bool,
    record_path: bool,
    params: tuple,
    loss_dtype: Any,
    fast_compile: bool = False,
) -> _Program:
    """Create (not yet compile) the chunk program for one objective/optimizer pair.

    ``chunk(carry, aux, bounds)`` runs a ``lax.while_loop`` that steps until ``bounds[0]``
    steps are done in all, the gradient norm is below tol or a step goes non-finite (Python
    keeps ``bounds[0]`` within :data:`CHUNK` steps of the start).  Given a fresh carry, its
    first iteration creates the optimiser state (lr and momentum traced, from the carry) and
    evaluates the objective at the start, without stepping.  Each iteration records a row
    ``[loss, *variables raveled]`` (just ``[loss]`` without ``record_path``) into a
    ``(CHUNK + 1, width)`` buffer at row ``step - bounds[1]``; it returns
    ``(carry, buffer)``.  ``params`` and ``loss_dtype`` only give shapes and dtypes;
    ``fast_compile`` compiles with :data:`COMPILER_OPTIONS`.  The loop's own arithmetic is
    written with ``lax`` (``jax.numpy`` costs more to trace).
    """
    placeholder = _make_optimizer(spec, 0.0, spec.default_momentum or 0.0)
    dtype = np.result_type(np.float32, loss_dtype, *(p.dtype for p in params))  # values, rows
    zero = np.int32(0)

    def value_and_grad(params: tuple, state: Any, aux: Any) -> tuple[jax.Array, tuple]:
        def fn(p: tuple) -> jax.Array:
            return objective(p, aux)

        if spec.line_search:  # the line search already evaluated the accepted point
            return optax.value_and_grad_from_state(fn)(params, state=state)
        return jax.value_and_grad(fn)(params)

    def new_state(params: tuple, hyper: jax.Array) -> Any:
        return _make_optimizer(spec, _scalar(hyper, 0), _scalar(hyper, 1)).init(params)

    def chunk(carry: _Carry, aux: Any, bounds: jax.Array) -> tuple:
        hyper = lax.slice_in_dim(carry.settings, 1, 3)
        start_state = _cast_like(new_state(carry.params, hyper), carry.opt_state)

        def running(loop: tuple) -> jax.Array:
            step, diverged, done = (_scalar(loop[0].counts, i) for i in range(3))
            going = lax.bitwise_and(lax.lt(step, _scalar(bounds, 0)), lax.eq(done, zero))
            return lax.bitwise_and(going, lax.lt(diverged, zero))

        def body(loop: tuple) -> tuple:
            c, rows = loop
            step, diverged, done = (_scalar(c.counts, i) for i in range(3))
            fresh = lax.lt(step, zero)
            # The fresh iteration's update is discarded; an infinite value makes a line search
            # accept its first trial there instead of searching on the placeholder state.
            value = lax.select(fresh, np.array(np.inf, dtype), _scalar(c.values, 0))
            extra: dict[str, Any] = {"value": value.astype(loss_dtype)}
            if spec.line_search:
                extra.update(grad=c.grad, value_fn=lambda p: objective(p, aux))
            updates, state = placeholder.update(c.grad, c.opt_state, c.params, **extra)
            moved = _cast_like(optax.apply_updates(c.params, updates), c.params)
            params = _select(fresh, c.params, moved)  # a fresh carry evaluates the start
            state = _select(fresh, start_state, _cast_like(state, c.opt_state))
            loss, grad = value_and_grad(params, state, aux)
            grad = _cast_like(grad, c.grad)
            loss = lax.convert_element_type(loss, dtype)
            now = _vector(loss, _global_norm(grad, dtype))
            step = lax.add(step, np.int32(1))
            diverged = lax.select(_all_finite(loss, params), diverged, step)
            if has_tol:
                done = lax.convert_element_type(
                    lax.lt(_scalar(now, 1), _scalar(c.settings, 0)), np.int32
                )
            start = lax.select(fresh, now, lax.slice_in_dim(c.values, 2, 4))
            row = [lax.broadcast(loss, (1,))]
            if record_path:
                row += [lax.reshape(lax.convert_element_type(p, dtype), (p.size,)) for p in params]
            rows = lax.dynamic_update_slice(
                rows,
                lax.broadcast(lax.concatenate(row, 0), (1,)),
                (lax.sub(step, _scalar(bounds, 1)), zero),
                allow_negative_indices=False,
            )
            counts = _vector(step, diverged, done)
            values = lax.concatenate([now, start], 0)
            return _Carry(params, state, grad, values, counts, c.settings), rows

        width = 1 + (sum(math.prod(p.shape) for p in carry.params) if record_path else 0)
        rows = lax.full((CHUNK + 1, width), 0, dtype)
        return lax.while_loop(running, body, (carry, rows))

    state = jax.eval_shape(new_state, params, jax.ShapeDtypeStruct((2,), dtype))
    zeros = tuple(np.zeros(p.shape, p.dtype) for p in params)
    blank = _Carry(
        params=zeros,
        opt_state=jax.tree_util.tree_map(_zeros, state),
        grad=zeros,
        values=np.zeros(4, dtype),
        counts=np.array([-1, -1, 0], np.int32),  # fresh, not diverged, not done
        settings=np.zeros(3, dtype),
    )
    options = COMPILER_OPTIONS if fast_compile else None
    return _Program(_Jit(chunk, options), blank, record_path, np.dtype(loss_dtype))


def _zeros(like: jax.ShapeDtypeStruct) -> Any:
    """Host zeros shaped like ``like`` (device ones for PRNG keys, which numpy cannot hold)."""
    if jax.dtypes.issubdtype(like.dtype, jax.dtypes.extended):
        return jnp.zeros(like.shape, like.dtype)
    return np.zeros(like.shape, like.dtype)


_PROGRAMS: OrderedDict[Hashable, Any] = OrderedDict()  # key -> _Program or Hessian function


def clear_cache() -> None:
    """Forget every compiled program (they are rebuilt on the next call)."""
    _PROGRAMS.clear()


def _signature(tree: Any) -> tuple:
    """Hashable structure + shapes/dtypes of a pytree (what a compiled program depends on)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple(
        (leaf.shape, leaf.dtype) if hasattr(leaf, "dtype") else type(leaf) for leaf in leaves
    )


def _program_for(
    objective: Callable,
    spec: OptimizerSpec,
    params: tuple,
    aux: Any,
    has_tol: bool,
    cache_key: Hashable | None,
    names: Sequence[str] | None,
) -> _Program:
    """Return the cached program, validating the objective and building it on a miss."""
    key = _cache_key(objective, cache_key, params, aux) + (spec.name, has_tol)
    program = _cached(key)
    if program is None:
        loss_dtype, largest = _check_objective(objective, params, aux, names)
        record_path = sum(math.prod(p.shape) for p in params) <= PATH_LIMIT
        fast = largest <= FAST_COMPILE_LIMIT
        program = _store(
            key, _build_program(objective, spec, has_tol, record_path, params, loss_dtype, fast)
        )
    return program


def _cache_key(objective: Callable, cache_key: Hashable | None, params: tuple, aux: Any) -> tuple:
    """What a compiled program depends on besides the optimizer: computation, x64, shapes."""
    return (
        objective if cache_key is None else cache_key,
        bool(jax.config.jax_enable_x64),
        tuple((p.shape, p.dtype) for p in params),
        _signature(aux),
    )


def _cached(key: tuple) -> Any:
    entry = _PROGRAMS.get(key)
    if entry is not None:
        _PROGRAMS.move_to_end(key)
    return entry


def _store(key: tuple, entry: Any) -> Any:
    _PROGRAMS[key] = entry
    while len(_PROGRAMS) > CACHE_SIZE:
        _PROGRAMS.popitem(last=False)
    return entry


# --------------------------------------------------------------------------- driver

_Status = tuple  # (step, loss, grad_norm, done, diverged_at, start_loss, start_grad_norm)


def minimize(
    objective: Callable[[tuple, Any], Any],
    initial: Sequence[Any],
    *,
    aux: Any = (),
    optimizer: str = "sgd",
    lr: float = 0.01,
    steps: int = 1000,
    momentum: float | None = None,
    tol: float | None = None,
    cache_key: Hashable | None = None,
    on_progress: Callable[[int, float], None] | None = None,
    names: Sequence[str] | None = None,
) -> OptimizationRun:
    """Minimise ``objective(params, aux)`` over ``params`` starting from ``initial``.

    ``aux`` (any pytree of arrays/numbers) is passed to the compiled program as an argument,
    never baked in, so new aux values reuse it.  ``cache_key`` identifies the objective's
    computation for the program cache (default: the function object); the same key always
    means the same compiled program, whatever function is passed alongside it.
    ``on_progress(steps_done, loss)`` runs after every chunk; raising ``KeyboardInterrupt``
    there (or pressing Ctrl-C during a later chunk) ends the run with ``interrupted=True``.
    Ctrl-C during the first chunk (which compiles on a cache miss) propagates: nothing has
    finished then, not even evaluating the start.  ``names`` (one per variable) only
    improves error messages.

    For ``optimizer="lbfgs"`` the ``lr`` is ignored: optax's zoom line search chooses each
    step length (the run still records the ``lr`` given).  The starting values must give a
    finite objective; a step that makes the objective or a variable non-finite stops the
    run (``diverged_at``) and the starting values are returned.
    """
    spec = resolve_optimizer(optimizer)
    lr, steps, momentum, tol = _check_settings(spec, lr, steps, momentum, tol)
    params = _as_params(initial, names)
    program = _program_for(objective, spec, params, aux, tol is not None, cache_key, names)
    carry = program.fresh_carry(
        params, lr, 0.0 if momentum is None else momentum, math.inf if tol is None else tol
    )
    first = _next_chunk(program, _Progress(carry, (0,) * 7, ()), aux, steps)
    start = first.status[5:]  # the first chunk evaluated the start
    if not math.isfinite(start[0]):
        raise GradmagicError(
            f"The objective is {start[0]} at the starting values; start where it is finite."
        )
    carry, status, outputs, interrupted = _run_chunks(program, first, aux, steps, on_progress)
    final, chunks, initial_values = jax.device_get(
        (carry.params, [out for _, out in outputs], params)
    )  # the one bulk transfer
    rows = np.concatenate([c[:n] for (n, _), c in zip(outputs, chunks, strict=True)])
    history = rows[:, 0].astype(program.loss_dtype, copy=False)
    path = _unpack_path(rows, initial_values) if program.record_path else ()
    step, loss, gnorm, done, diverged = status[:5]
    restore = diverged >= 0 or step == 0  # never hand back non-finite values
    return OptimizationRun(
        values=_host_values(initial, initial_values if restore else final, exact=restore),
        loss=start[0] if restore else loss,
        grad_norm=start[1] if restore else gnorm,
        steps=step,
        requested_steps=steps,
        converged=tol is not None and done,
        diverged_at=diverged if diverged >= 0 else None,
        interrupted=interrupted,
        history=history,
        path=path,
        optimizer=spec.name,
        lr=lr,
        momentum=momentum,
        tol=tol,
    )


def _status(carry: _Carry) -> _Status:
    """The few scalars Python needs between chunks (two small transfers)."""
    (step, diverged, done), (loss, gnorm, start_loss, start_gnorm) = jax.device_get(
        (carry.counts, carry.values)
    )
    return (
        int(step), float(loss), float(gnorm), bool(done), int(diverged),
        float(start_loss), float(start_gnorm),
    )  # fmt: skip


def _finished(status: _Status, steps: int) -> bool:
    step, _, _, done, diverged = status[:5]
    return step >= steps or done or diverged >= 0


class _Progress(NamedTuple):
    """Everything finished so far; replaced as a whole so Ctrl-C never sees half an update."""

    carry: _Carry
    status: _Status
    outputs: tuple  # linked list: (earlier, (rows_recorded, rows)) or ()


def _run_chunks(
    program: _Program,
    first: _Progress,
    aux: Any,
    steps: int,
    on_progress: Callable[[int, float], None] | None,
) -> tuple[_Carry, _Status, list, bool]:
    """Run chunks after the ``first`` until done, diverged, out of steps or interrupted.

    Chunk sizes follow the measured time per step so each takes about :data:`CHUNK_SECONDS`
    (a slow objective still reports progress and reacts to Ctrl-C); the estimate is kept on
    the program so the next run starts with full-size chunks.  On Ctrl-C (during a chunk or
    raised by ``on_progress``) the chunk in flight is dropped and the last finished state is
    returned.  Returns the final carry, its status, ``[(rows_recorded, rows)]`` per chunk
    and whether it was interrupted.
    """
    done = first
    interrupted = False
    try:
        if on_progress is not None:
            on_progress(done.status[0], done.status[1])
        while not _finished(done.status, steps):
            done = _next_chunk(program, done, aux, steps)
            if on_progress is not None:
                on_progress(done.status[0], done.status[1])
    except KeyboardInterrupt:
        interrupted = True
    outputs, node = [], done.outputs
    while node:
        node, item = node
        outputs.append(item)
    return done.carry, done.status, outputs[::-1], interrupted


def _next_chunk(program: _Program, done: _Progress, aux: Any, steps: int) -> _Progress:
    """Run one chunk, wait for its status, and time it to size the next one.

    A program's first chunk is not timed: it includes tracing and compiling.
    """
    fresh = not done.outputs  # the first chunk of a run also records the start
    step = done.status[0]
    end = min(steps, step + _chunk_limit(program.seconds_per_step))
    bounds = np.array([end, step + (not fresh)], np.int32)
    timed = program.chunk_calls > 0
    program.chunk_calls += 1
    started = time.perf_counter()
    carry, rows = program.chunk(done.carry, aux, bounds)
    status = _status(carry)
    ran = status[0] - step
    if timed:
        program.seconds_per_step = (time.perf_counter() - started) / max(ran, 1)
    return _Progress(carry, status, (done.outputs, (ran + fresh, rows)))


def _chunk_limit(seconds_per_step: float | None) -> int:
    """Steps for the next chunk: :data:`FIRST_CHUNK` until timed, then ~CHUNK_SECONDS worth."""
    if seconds_per_step is None:
        return FIRST_CHUNK
    return max(1, min(CHUNK, int(CHUNK_SECONDS / max(seconds_per_step, 1e-9))))


def _unpack_path(rows: np.ndarray, start: tuple) -> tuple:
    """Per variable: its columns of the recorded rows, shape ``(steps+1, *shape)``."""
    path, column = [], 1
    for value in start:
        size = math.prod(np.shape(value))
        part = rows[:, column : column + size].reshape((-1, *np.shape(value)))
        path.append(part.astype(np.asarray(value).dtype, copy=False))
        column += size
    return tuple(path)


def _host_values(initial: Sequence[Any], values: tuple, exact: bool) -> tuple:
    """Python floats for Python-float starts (so write-back keeps the type), else numpy.

    With ``exact`` (diverged, or no step taken) a Python float start comes back as given,
    not rounded through float32.
    """
    return tuple(
        (o if exact else float(v)) if isinstance(o, float) else np.asarray(v)
        for o, v in zip(initial, values, strict=True)
    )


# --------------------------------------------------------------------------- step size


def suggested_learning_rate(
    objective: Callable[[tuple, Any], Any],
    initial: Sequence[Any],
    aux: Any = (),
    *,
    cache_key: Hashable | None = None,
) -> tuple[float, float, float]:
    """Return ``(lambda_min, lambda_max, 2 / lambda_max)`` of the Hessian at ``initial``.

    All variables are flattened into one vector.  On a quadratic, gradient descent is stable
    exactly for ``lr < 2/lambda_max`` and fastest at ``lr = 2/(lambda_min + lambda_max)``;
    near a smooth minimum the same holds approximately, which is why divergence messages quote
    it.  The bound is ``inf`` when ``lambda_max <= 0`` (no curvature limits the step) and
    ``nan`` when the Hessian is not finite.  Up to
    :data:`DENSE_HESSIAN_LIMIT` numbers the Hessian is formed densely; beyond, both extreme
    eigenvalues come from power iteration on Hessian-vector products (approximate).  The
    compiled Hessian is cached like :func:`minimize`'s programs (same ``cache_key`` rules).
    """
    params = _as_params(initial, None)
    key = _cache_key(objective, cache_key, params, aux) + ("hessian",)
    extremes = _cached(key) or _store(key, _hessian_extremes(objective, params))
    lo, hi = (float(v) for v in extremes(params, aux))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return lo, hi, math.nan  # the curvature itself is not finite here: no advice
    return lo, hi, 2.0 / hi if hi > 0 else math.inf


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


def divergence_message(
    run: OptimizationRun,
    objective: Callable[[tuple, Any], Any],
    initial: Sequence[Any],
    aux: Any = (),
) -> str:
    """Explain a diverged run and suggest a learning rate, from the Hessian at the start.

    On a quadratic, plain SGD is stable for ``lr < 2/λmax``, heavy-ball momentum ``β``
    stretches that to ``2(1+β)/λmax`` and Nesterov to ``2(1+β)/((1+2β)λmax)``.  Other
    optimizers rescale the gradient, so for them the advice is just a smaller lr; L-BFGS
    ignores lr, so for it the message points at the objective instead.
    """
    head = (
        f"The objective became non-finite at step {run.diverged_at} with {run.optimizer} "
        f"lr={run.lr:g}; the variables were left at their starting values."
    )
    if not resolve_optimizer(run.optimizer).uses_lr:
        return (
            f"The objective became non-finite at step {run.diverged_at} with {run.optimizer}; "
            "the variables were left at their starting values. Its line search picks the step "
            "length, so check that the objective is smooth and bounded below near the start."
        )
    smaller = f"{head} Try a smaller lr, e.g. lr={run.lr / 10:g}."
    try:
        lo, hi, _ = suggested_learning_rate(objective, initial, aux)
    except Exception:  # advice is best effort; the run itself already failed
        return smaller
    b = run.momentum or 0.0
    rules = {
        "sgd": (1.0, "2/λmax"),
        "momentum": (1.0 + b, "2(1+β)/λmax"),
        "nesterov": ((1.0 + b) / (1.0 + 2.0 * b), "2(1+β)/((1+2β)λmax)"),
    }
    if run.optimizer not in rules or not math.isfinite(hi):
        return smaller
    if hi <= 0:
        return (
            f"{head} The Hessian at the start has λmax={hi:.3g} <= 0: the objective curves "
            "downward in every direction there and may have no minimum."
        )
    factor, formula = rules[run.optimizer]
    bound = 2.0 * factor / hi
    name = "SGD" if run.optimizer == "sgd" else f"{run.optimizer} (β={b:g})"
    best = 2.0 / (lo + hi) if lo > 0 else bound / 2
    curved = "" if lo >= 0 else f" λmin={lo:.3g} < 0, so it may also be unbounded below."
    return (
        f"{head} {name} is stable for lr < {formula} = {bound:.3g} here (λmax={hi:.3g} at the "
        f"start); try lr={min(best, bound / 2):.3g}.{curved}"
    )

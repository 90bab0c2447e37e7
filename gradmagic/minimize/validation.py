"""Checks on what ``%minimize`` is given: starting values, settings and the objective.

Each failure is a :class:`~gradmagic.errors.GradmagicError` whose message names the variable
or setting and the fix.  The objective is checked once per compiled program, abstractly
(no computation): one real number, and a gradient that can reach every variable.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradmagic.cell_program import as_array
from gradmagic.errors import GradmagicError
from gradmagic.minimize.optimizers import OptimizerSpec, as_real, momentum_for
from gradmagic.recording import dependencies

STEP_LIMIT = 2**31 - 512  # the loop counts steps in int32


def variable_label(names: Sequence[str] | None, i: int, count: int) -> str:
    """How messages refer to variable ``i``: its name when the magic passed names."""
    if names is not None and i < len(names):
        return str(names[i])
    return "the variable" if count == 1 else f"variable {i + 1}"


def as_variable(value: Any, label: str, example: str) -> Any:
    """Turn one starting value into a float array JAX accepts, or explain what is wrong.

    Once checked, the value is converted as every traced value is
    (:func:`gradmagic.cell_program.as_array`): strongly typed, the session's float width, so
    the compiled loop's carry types are stable.  ``label`` names the
    variable in messages, ``example`` is the name used in the suggested fix.
    """
    if isinstance(value, numbers.Integral):  # bool included
        kind = "a boolean" if isinstance(value, (bool, np.bool_)) else "an integer"
        raise GradmagicError(
            f"The starting value of {label} is {kind} ({value}); gradients need floats: "
            f"make it a float, e.g. {example} = {float(value)!r}."
        )
    if not isinstance(value, float | jax.Array):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            array = np.asarray(None)
        if array.dtype.kind not in "fiubc" and not jnp.issubdtype(array.dtype, jnp.floating):
            raise GradmagicError(
                f"The starting value of {label} must be a float or an array of floats, "
                f"got {type(value).__name__}."
            )
        _check_param_dtype(array.dtype, label, example)
    elif isinstance(value, jax.Array):
        _check_param_dtype(value.dtype, label, example)
    return as_array(value)


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


def as_variables(initial: Sequence[Any], names: Sequence[str] | None) -> tuple:
    """Convert every starting value; see :func:`as_variable`."""
    if not isinstance(initial, (tuple, list)):
        raise TypeError(f"initial must be a tuple or list of values, got {type(initial).__name__}")
    if not initial:
        raise GradmagicError("Nothing to minimise over: name at least one variable.")
    count = len(initial)
    return tuple(
        as_variable(
            v, variable_label(names, i, count), names[i] if names and i < len(names) else "x"
        )
        for i, v in enumerate(initial)
    )


def check_settings(
    spec: OptimizerSpec, lr: Any, steps: Any, momentum: Any, tol: Any
) -> tuple[float, int, float | None, float | None]:
    """Validate the loop settings and return them as plain Python numbers."""
    rate = as_real(lr)
    if rate is None or not math.isfinite(rate) or rate <= 0:
        raise GradmagicError(f"lr must be a positive number, got {lr!r} (e.g. lr=0.01).")
    count = as_real(steps)
    if count is None or not count.is_integer() or count < 1:
        raise GradmagicError(f"steps must be a whole number >= 1, got {steps!r} (e.g. steps=1000).")
    if count >= STEP_LIMIT:
        raise GradmagicError(f"steps must be below 2**31, got {steps!r}.")
    limit = None if tol is None else as_real(tol)
    if tol is not None and (limit is None or not math.isfinite(limit) or limit <= 0):
        raise GradmagicError(
            f"tol must be a positive number, got {tol!r} (e.g. tol=1e-6); it stops the run "
            "once the gradient norm falls below it."
        )
    return rate, int(count), momentum_for(spec, momentum), limit


def check_objective(
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
    except TypeError as exc:
        kind = re.search(r"of type <class '([\w.]+)'> is not a valid JAX type", str(exc))
        if kind is None:
            raise
        raise GradmagicError(
            f"The objective must be a real number, but it gives a {kind.group(1)}; write an "
            "expression of the variables, e.g. %minimize (x - 1)**2 --wrt x."
        ) from None
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
    check_dependence(closed, len(params), names)
    return np.dtype(out.dtype), largest_array(closed)


def largest_array(closed: Any) -> int:
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


def check_dependence(closed: Any, count: int, names: Sequence[str] | None) -> None:
    """Raise when the JVP jaxpr's tangent output ignores some tangent input."""
    # The JVP's inputs are (primals, tangents, aux); its last output is the tangent of the
    # objective.  Tangent inputs sit at positions count .. 2*count - 1.
    reached = {i - count for i in dependencies(closed)[-1] if count <= i < 2 * count}
    missing = [variable_label(names, i, count) for i in range(count) if i not in reached]
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

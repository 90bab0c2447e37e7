"""The user's own parameter objects: pytrees of floats, and which of their leaves change.

A name in the notebook may hold a float or array, or a JAX pytree (dict, list, tuple,
NamedTuple, a dataclass registered with ``jax.tree_util``: flax and equinox parameters)
whose *floating* leaves are differentiated and optimised while every other leaf (ints,
bools, strings, ``None``, functions) is held constant.  The engine only ever sees a flat
tuple of floating arrays; this module is the one place that knows how to go from a named
pytree to those leaves (:func:`leaves_of`), back (:func:`with_leaves`), how a leaf is
labelled (``params['w']``, as ``jax.tree_util.keystr`` writes it) and how a changed leaf is
written back with the type it had (:func:`like`: NumPy stays NumPy, JAX stays JAX, a Python
float stays a float).

JAX is imported only when a value might be a container, so checking ``--wrt x`` on a float
stays cheap.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradmagic.errors import GradmagicError
from gradmagic.values import is_floating

_NEVER_CONTAINERS = (str, bytes, int, float, complex, type(None), types.ModuleType, type)


@dataclass(frozen=True)
class Leaf:
    """One floating leaf of a named pytree: where it is and how it is shown."""

    name: str  # the notebook name holding the pytree
    index: int  # position among all of the tree's leaves (jax.tree_util order)
    path: str  # ``['w']``, ``[0].b``: appended to the name to label the leaf

    @property
    def label(self) -> str:
        return f"{self.name}{self.path}"


def is_container(value: Any) -> bool:
    """True when ``value`` is a pytree with structure (not a single leaf)."""
    if isinstance(value, _NEVER_CONTAINERS) or is_floating(value) or hasattr(value, "__array__"):
        return False
    import jax

    leaves = jax.tree_util.tree_leaves(value, is_leaf=lambda x: x is None)
    return not (len(leaves) == 1 and leaves[0] is value)


def _flat(value: Any) -> list[tuple[Any, Any]]:
    import jax

    return jax.tree_util.tree_flatten_with_path(value)[0]


def floating_leaves(name: str, value: Any) -> list[Leaf]:
    """The floating leaves of the pytree ``value`` held by ``name``, in tree order."""
    import jax

    return [
        Leaf(name, index, jax.tree_util.keystr(path))
        for index, (path, leaf) in enumerate(_flat(value))
        if is_floating(leaf)
    ]


def is_differentiable(value: Any) -> bool:
    """A float or floating array, or a pytree with at least one floating leaf."""
    if is_floating(value):
        return True
    return is_container(value) and any(is_floating(leaf) for _, leaf in _flat(value))


def checked_leaves(name: str, value: Any, option: str) -> list[Leaf]:
    """:func:`floating_leaves` of a pytree named in ``option`` (``--wrt``), refusing one
    with an object-array leaf or with no floating leaf at all."""
    import jax

    for path, leaf in _flat(value):
        if isinstance(leaf, np.ndarray) and leaf.dtype == object:
            label = f"{name}{jax.tree_util.keystr(path)}"
            raise GradmagicError(
                f"{option} {name}: {label} is an array of Python objects, which cannot be "
                f"differentiated. Make it a float array (e.g. np.asarray(..., dtype=np.float32))."
            )
    found = floating_leaves(name, value)
    if not found:
        kinds = sorted({type(leaf).__name__ for _, leaf in _flat(value)}) or ["nothing"]
        raise GradmagicError(
            f"{option} {name}: {name} is a {type(value).__name__} with no floating leaf "
            f"(it holds {', '.join(kinds)}). Make the numbers to change floats (e.g. 1.0, not 1)."
        )
    return found


def leaf_value(value: Any, index: int) -> Any:
    """Leaf number ``index`` of ``value`` (in ``jax.tree_util`` order)."""
    import jax

    return jax.tree_util.tree_leaves(value)[index]


def with_leaves(value: Any, replacements: dict[int, Any]) -> Any:
    """``value`` with the leaves at the given indices replaced (traced values welcome)."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten(value)
    for index, leaf in replacements.items():
        leaves[index] = leaf
    return _in_order_of(value, jax.tree_util.tree_unflatten(treedef, leaves))


def _in_order_of(original: Any, rebuilt: Any) -> Any:
    """``rebuilt`` with the key order of ``original``'s dicts (``jax.tree_util`` sorts
    dict keys; the notebook should get back the dict it wrote)."""
    if type(original) is dict and type(rebuilt) is dict:
        return {key: _in_order_of(original[key], rebuilt[key]) for key in original}
    if type(original) in (list, tuple) and type(rebuilt) is type(original):
        return type(original)(map(_in_order_of, original, rebuilt))
    return rebuilt


def like(original: Any, value: Any) -> Any:
    """``value`` (a host array) as the type ``original`` had: a Python float, a NumPy
    scalar or array of its dtype, or a JAX array of its dtype."""
    if isinstance(original, float):
        return float(value)
    dtype = getattr(original, "dtype", None)
    if isinstance(original, np.generic):
        return original.dtype.type(value)
    if isinstance(original, np.ndarray):
        return np.asarray(value, dtype=dtype)
    import jax

    if isinstance(original, jax.Array):
        return jax.numpy.asarray(value, dtype=dtype)
    return np.asarray(value, dtype=dtype)


def written_back(original: Any, leaves: list[Leaf], values: list[Any]) -> Any:
    """The pytree ``original`` with its floating ``leaves`` set to ``values``, each with the
    leaf's own type: what ``%minimize`` puts back in the notebook."""
    if not is_container(original):
        return like(original, values[0])
    return with_leaves(
        original,
        {
            leaf.index: like(leaf_value(original, leaf.index), value)
            for leaf, value in zip(leaves, values, strict=True)
        },
    )


def assembled(original: Any, leaves: list[Leaf], values: list[Any]) -> Any:
    """The structure of ``original`` with its floating ``leaves`` set to ``values`` as given
    (gradients, Jacobian blocks) and every other leaf ``None``: the shape of what they were
    taken with respect to, as ``jax.grad`` gives it."""
    if not is_container(original):
        return values[0]
    import jax

    count = len(jax.tree_util.tree_leaves(original))
    replacements = dict.fromkeys(range(count))
    replacements.update({leaf.index: value for leaf, value in zip(leaves, values, strict=True)})
    return with_leaves(original, replacements)


def same_structure(original: Any, value: Any) -> bool:
    """True when ``value`` has ``original``'s pytree structure and leaf kinds (floating
    where it is floating), so leaf positions mean the same in both."""
    import jax

    first, second = jax.tree_util.tree_flatten(original), jax.tree_util.tree_flatten(value)
    return first[1] == second[1] and all(
        is_floating(a) == is_floating(b) for a, b in zip(first[0], second[0], strict=True)
    )


def regrouped(
    items: Sequence[tuple[str, Leaf | None, Any]], trees: Mapping[str, Any], written: bool = False
) -> dict[str, Any]:
    """``(name, leaf, value)`` items regrouped per notebook name: a plain name's value as
    it is, a pytree's leaves back in the structure ``trees[name]`` has.  ``written``: each
    value with the type its notebook value has (what ``%minimize`` writes back); otherwise
    a pytree's other leaves are None, as ``jax.grad`` gives them."""
    grouped: dict[str, list[tuple[Leaf | None, Any]]] = {}
    for name, leaf, value in items:
        grouped.setdefault(name, []).append((leaf, value))
    result = {}
    for name, pairs in grouped.items():
        leaves, values = [leaf for leaf, _ in pairs], [value for _, value in pairs]
        if leaves[0] is None:
            result[name] = like(trees[name], values[0]) if written else values[0]
        else:
            result[name] = (written_back if written else assembled)(trees[name], leaves, values)
    return result

"""Compiled programs kept between magic calls, and what their cache keys are made of.

Re-running a cell, moving a slider or asking for a new learning rate must never compile
again.  Every compiled program gradmagic builds (a ``%%tape --jit`` derivative program, an
optimisation loop, a Hessian's extreme eigenvalues) lives in a :class:`ProgramCache`, keyed
by a tuple of everything that changes the program's *shape*: the code, the names, the
options, and the shapes/dtypes of the arrays it takes (:func:`signature`).  Values that are
passed to a program as arguments never enter a key; values that are baked into it (a
non-floating constant the code reads) enter it through :func:`fingerprint`.

:func:`counting_compilations` is how tests and benchmarks prove that nothing recompiled:
they count XLA compilations rather than time them.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from gradmagic.pytrees import is_container
from gradmagic.values import is_floating


class ProgramCache:
    """A least-recently-used map from cache keys to compiled programs."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()

    def get_or_build(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The program stored under ``key``, built (and stored) on a miss."""
        entry = self.get(key)
        if entry is None:
            entry = build()
            self.put(key, entry)
        return entry

    def get(self, key: Hashable) -> Any:
        """The entry under ``key`` (now the most recently used), or None."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: Any) -> None:
        """Store ``entry`` under ``key``, dropping the least recently used beyond ``size``."""
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


def signature(tree: Any) -> tuple:
    """Hashable structure + shapes/dtypes of a pytree: what a compiled program depends on
    when the pytree is passed to it as an argument."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple(
        (tuple(leaf.shape), leaf.dtype) if hasattr(leaf, "dtype") else type(leaf) for leaf in leaves
    )


SMALL = 10_000  # containers and arrays up to this many items are fingerprinted by value


def fingerprint(value: Any) -> Any:
    """What a value *baked into* a program (not passed as an argument) contributes to its
    key.  Numbers, strings, and small containers and arrays count by value, so changing
    them in place (``coeffs[0] = 2.0``) compiles anew instead of reusing a stale program;
    a function counts by its code and the values of the globals it reads; anything else by
    identity."""
    if isinstance(value, bool | int | float | complex | str | bytes | type(None)):
        return (type(value).__name__, value)
    if isinstance(value, list | tuple) and len(value) <= SMALL:
        return (type(value).__name__, tuple(fingerprint(v) for v in value))
    if isinstance(value, dict) and len(value) <= SMALL:
        return ("dict", tuple((repr(k), fingerprint(v)) for k, v in value.items()))
    if type(value).__module__ == "numpy" and getattr(value, "size", SMALL + 1) <= SMALL:
        return ("numpy", str(value.dtype), value.shape, value.tobytes())
    if callable(value) and hasattr(value, "__code__") and hasattr(value, "__globals__"):
        read = [
            (name, fingerprint(value.__globals__[name]))
            for name in value.__code__.co_names
            if name in value.__globals__
            and not is_floating(value.__globals__[name])
            and isinstance(value.__globals__[name], bool | int | str)
        ]
        return ("function", id(value), tuple(read))
    return ("object", id(value))


def constants_key(frozen: dict[str, Any], skip: Any = ()) -> tuple:
    """The fingerprints of the non-floating values a cell reads (its baked-in constants).

    Names in ``skip`` are passed as arguments; when one holds a pytree, its structure and
    non-floating leaves (held constant, so baked in) still count."""
    return tuple(
        sorted(
            (n, structure_key(v) if n in skip else fingerprint(v))
            for n, v in frozen.items()
            if not is_floating(v) and (n not in skip or is_container(v))
        )
    )


def structure_key(tree: Any) -> tuple:
    """A pytree argument's baked-in part: its structure and its non-floating leaves."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return (str(treedef), tuple(None if is_floating(x) else fingerprint(x) for x in leaves))


@contextlib.contextmanager
def counting_compilations() -> Iterator[list[str]]:
    """Collect one entry per XLA backend compilation inside the block.

    JAX reports every backend compile (persistent-cache loads included) as
    ``/jax/core/compile/backend_compile_duration``.
    """
    import jax

    compiled: list[str] = []

    def listener(name: str, *_: object, **__: object) -> None:
        if name.endswith("backend_compile_duration"):
            compiled.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield compiled
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def arguments_key(*trees: Any) -> tuple:
    """What the arguments of a compiled program contribute to its key: their structure,
    shapes and dtypes, and the session's float width (``%gradmagic x64``)."""
    import jax

    return (bool(jax.config.jax_enable_x64), signature(trees))

"""Compiled optimisation loops kept on disk, so a new kernel skips tracing them too.

JAX's persistent compilation cache (:mod:`gradmagic.persistent_cache`) spares a new kernel
the XLA compile, but not tracing and lowering the loop, which is most of what remains of
a first ``%minimize``.  Here the *executable* itself is kept
(``jax.experimental.serialize_executable``), under a key that no other program can
share: :func:`stable_key` hashes everything the program depends on with fingerprints that
mean the same in every process (a function by its code, defaults, closure and the globals
it reads, never by its address), plus the argument shapes and dtypes, the optimizer and
loop options, the float width, the platform, the gradmagic, JAX and jaxlib versions and a
hash of gradmagic's own source.
A value whose meaning cannot be fingerprinted that way (an arbitrary object) means no key:
the loop is then compiled as usual and not saved.

Files live beside the compilation cache (``~/.cache/gradmagic/jax-programs`` by default);
``GRADMAGIC_COMPILATION_CACHE=off`` turns both off.  Anything unreadable is ignored (the loop is compiled again).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

from gradmagic.values import is_floating

LOADS = 0  # executables loaded from disk in this process (tests read it)


class Unstable(Exception):
    """A value with no fingerprint that holds across processes."""


def stable(value: Any, seen: frozenset[int] = frozenset(), depth: int = 0) -> Any:
    """A fingerprint of ``value`` made of plain data, the same in every process."""
    if depth > 12 or id(value) in seen:
        raise Unstable(type(value).__name__)
    seen = seen | {id(value)}
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return (type(value).__name__, repr(value))
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(stable(v, seen, depth + 1) for v in value))
    if isinstance(value, dict):
        items = sorted((repr(k), stable(v, seen, depth + 1)) for k, v in value.items())
        return ("dict", tuple(items))
    array = isinstance(value, np.generic | np.ndarray) or type(value).__module__.startswith("jax")
    if array and hasattr(value, "dtype") and hasattr(value, "shape") and not callable(value):
        data = np.asarray(value)
        digest = hashlib.sha256(data.tobytes()).hexdigest()
        return ("array", str(data.dtype), data.shape, digest)
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, types.FunctionType):
        return _function(value, seen, depth)
    importable = _importable(value)
    if importable is not None:
        return importable
    raise Unstable(type(value).__name__)


def _importable(value: Any) -> tuple | None:
    """Library functions, classes and other objects found under their own module and name."""
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str) or module == "__main__":
        return None
    found: Any = sys.modules.get(module)
    for part in name.split("."):
        found = getattr(found, part, None)
    return ("importable", module, name) if found is value else None


def _code(code: types.CodeType, seen: frozenset[int], depth: int) -> tuple:
    consts = tuple(
        _code(c, seen, depth) if isinstance(c, types.CodeType) else stable(c, seen, depth + 1)
        for c in code.co_consts
    )
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars)


def _function(fn: types.FunctionType, seen: frozenset[int], depth: int) -> tuple:
    """A notebook function: its code and every value it can read that is baked into a trace
    (floating globals are the loop's arguments, so only their presence counts)."""
    importable = _importable(fn)
    if importable is not None:
        return importable
    closure = tuple(stable(cell.cell_contents, seen, depth + 1) for cell in fn.__closure__ or ())
    read = []
    for name in _names(fn.__code__):
        if name in fn.__globals__:
            value = fn.__globals__[name]
            read.append((name, "float" if is_floating(value) else stable(value, seen, depth + 1)))
    return (
        "function",
        _code(fn.__code__, seen, depth),
        stable(fn.__defaults__, seen, depth + 1),
        stable(fn.__kwdefaults__, seen, depth + 1),
        closure,
        tuple(read),
    )


def _names(code: types.CodeType) -> list[str]:
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _names(const)
    return list(dict.fromkeys(names))


_DIGEST: list[str] = []


def _package_digest() -> str:
    """A hash of gradmagic's own source: a program saved by other code (an edited
    checkout, a new release with the same version) is never loaded."""
    if not _DIGEST:
        root = Path(__file__).resolve().parents[1]
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            digest.update(path.read_bytes())
        _DIGEST.append(digest.hexdigest())
    return _DIGEST[0]


def stable_key(*parts: Any) -> str | None:
    """The hex key of ``parts`` with the environment that shapes a compiled program, or
    None when some part has no stable fingerprint (then nothing is saved or loaded)."""
    import jax
    import jaxlib

    from gradmagic.version import __version__

    environment = (
        __version__,
        _package_digest(),
        jax.__version__,
        jaxlib.__version__,
        bool(jax.config.jax_enable_x64),
        jax.default_backend(),
        tuple(d.device_kind for d in jax.devices()),
    )
    try:
        fingerprint = stable((environment, *parts))
    except Unstable:
        return None
    return hashlib.sha256(repr(fingerprint).encode()).hexdigest()


def program_key(*parts: Any) -> str | None:
    """:func:`stable_key` of ``parts`` where programs are kept, else None at once: with
    ``GRADMAGIC_COMPILATION_CACHE=off`` a first call spends nothing on fingerprints
    (hashing gradmagic's source and the baked-in values takes ~10 ms)."""
    return None if directory() is None else stable_key(*parts)


def directory() -> Path | None:
    """Where executables are kept (None: the user turned the compilation cache off)."""
    from gradmagic.persistent_cache import cache_directory

    base = cache_directory()
    return None if base is None else base.with_name(base.name + "-programs")


def load(key: str) -> tuple[Any, dict[str, Any]] | None:
    """The executable saved under ``key`` and what was saved with it, or None."""
    global LOADS
    folder = directory()
    path = None if folder is None else folder / f"{key}.pkl"
    if path is None or not path.exists():
        return None
    try:
        from jax.experimental import serialize_executable

        blob, in_tree, out_tree, meta = pickle.loads(path.read_bytes())
        executable = serialize_executable.deserialize_and_load(blob, in_tree, out_tree)
    except Exception:  # a stale or damaged file: compile as usual
        return None
    LOADS += 1
    return executable, meta


def forget(key: str) -> None:
    """Remove the program saved under ``key`` (it could not be used)."""
    folder = directory()
    if folder is not None:
        (folder / f"{key}.pkl").unlink(missing_ok=True)


def save(key: str, jitted: Any, args: tuple, meta: dict[str, Any]) -> None:
    """Keep the executable ``jitted`` compiled for ``args`` (lowering and compiling again
    here hit JAX's caches: it was just called with them).  Best effort."""
    folder = directory()
    if folder is None:
        return
    try:
        from jax.experimental import serialize_executable

        compiled = jitted.lower(*args).compile()
        blob, in_tree, out_tree = serialize_executable.serialize(compiled)
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f"{key}.{os.getpid()}.tmp"
        temporary.write_bytes(pickle.dumps((blob, in_tree, out_tree, meta)))
        os.replace(temporary, folder / f"{key}.pkl")  # atomic: readers never see half
    except Exception:
        return


class Saving:
    """A chunk program that saves its executable after its first call (see :func:`save`)
    and otherwise behaves as the :class:`~gradmagic.minimize.loop.Jit` it wraps."""

    def __init__(self, jit: Any, key: str, meta: dict[str, Any]) -> None:
        self.inner, self.key, self.meta = jit, key, meta

    def __call__(self, *args: Any) -> Any:
        if self.key is None:
            return self.inner(*args)
        import jax

        hits: list[str] = []

        def listener(event: str, **_: Any) -> None:
            if event.endswith("compilation_cache/cache_hits"):
                hits.append(event)

        jax.monitoring.register_event_listener(listener)
        try:
            result = self.inner(*args)
        finally:
            jax.monitoring.unregister_event_listener(listener)
        key, self.key = self.key, None
        # An executable that JAX's compilation cache loaded does not serialise whole (its
        # code is missing in a new process): only a program compiled here is kept.
        if not hits:
            save(key, self.inner.jitted, args, self.meta)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Loaded:
    """A chunk program loaded from disk: called as the compiled loop was.  Should the
    executable fail to run (a file the platform cannot use), the file is removed and the
    loop compiles as usual: a saved program can cost time, never a result."""

    def __init__(self, executable: Any, jit: Any, key: str) -> None:
        self.executable, self.inner, self.key = executable, jit, key

    def __call__(self, *args: Any) -> Any:
        if self.executable is not None:
            try:
                return self.executable(*args)
            except Exception:
                self.executable = None
                forget(self.key)
        return self.inner(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

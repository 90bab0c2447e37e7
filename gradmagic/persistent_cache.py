"""JAX's persistent compilation cache, switched on by gradmagic under the user's cache dir.

Compiled loops then survive the kernel: the first ``%minimize`` in a fresh kernel loads
its program from disk instead of compiling it.  Small programs are cached too
(``min_compile_time_secs=0``, ``min_entry_size_bytes=-1``): gradmagic's programs are small.

The cache is configured through JAX's environment variables when JAX is not imported
yet (so ``%load_ext`` stays light), otherwise through ``jax.config``.  A directory the
user configured is never overridden.  ``GRADMAGIC_COMPILATION_CACHE=off`` (or a path)
opts out (or chooses the directory).  The cache is best effort: JAX falls back to
compiling when an entry cannot be used.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_OFF = {"0", "off", "false", "no"}


def cache_directory() -> Path | None:
    """Where compiled programs are kept, or None when the user opted out."""
    choice = os.environ.get("GRADMAGIC_COMPILATION_CACHE", "").strip()
    if choice.lower() in _OFF:
        return None
    if choice:
        return Path(choice).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gradmagic" / "jax"


def enable() -> Path | None:
    """Turn the cache on (idempotent); returns the directory in use, if any."""
    directory = cache_directory()
    if directory is None:
        return None
    settings = {
        "JAX_COMPILATION_CACHE_DIR": str(directory),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }
    if "jax" not in sys.modules:
        for key, value in settings.items():
            os.environ.setdefault(key, value)
        return Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    import jax

    if jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return directory

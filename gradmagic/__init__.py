"""gradmagic: IPython magics that differentiate and minimise notebook cells with JAX.

``%load_ext gradmagic`` registers ``%%tape``, ``%grad``, ``%hessian``, ``%minimize`` /
``%%minimize`` and ``%gradmagic``.  Importing this package is deliberately cheap: JAX,
optax and matplotlib are imported the first time a magic needs them.
"""

from __future__ import annotations

from typing import Any

from gradmagic.version import __version__

__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(shell: Any) -> None:
    """Register the magics; loading twice is harmless (IPython replaces them)."""
    from gradmagic.magics import register

    register(shell)


def unload_ipython_extension(shell: Any) -> None:
    """Remove every magic that :func:`load_ipython_extension` registered."""
    from gradmagic.magics import unregister

    unregister(shell)

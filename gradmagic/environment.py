"""``%gradmagic``'s report: versions, backend, devices, the compilation cache, settings."""

from __future__ import annotations

from gradmagic import settings as session
from gradmagic.version import __version__


class EnvironmentReport:
    """What ``%gradmagic`` shows: versions, backend, devices, cache and settings."""

    def __init__(self) -> None:
        import jax

        devices = ", ".join(str(device) for device in jax.devices())
        cache = jax.config.jax_compilation_cache_dir or "off"
        self.lines = [
            f"gradmagic {__version__}",
            f"jax {jax.__version__}, backend {jax.default_backend()}, devices: {devices}",
            f"compilation cache: {cache}",
            f"settings: {session.describe()}",
        ]

    def __repr__(self) -> str:
        return "\n".join(self.lines)

"""Session settings changed with ``%gradmagic key=value``.

Kept free of JAX and IPython: the magics read and write them, the renderers read
``precision``.  ``x64`` is applied to JAX by :func:`apply_x64` when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from gradmagic.errors import GradmagicError, did_you_mean


@dataclass
class Settings:
    precision: int = 6  # significant digits shown in tables and summaries
    x64: bool = False  # float64 throughout (jax_enable_x64)
    jit: bool = False  # every %%tape compiled, as if --jit were given


settings = Settings()

_BOOLEAN_WORDS = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}


def update(assignment: str) -> None:
    """Apply one ``key=value`` assignment, e.g. ``precision=4`` or ``x64=on``."""
    key, sep, raw = assignment.partition("=")
    key, raw = key.strip(), raw.strip()
    names = [f.name for f in fields(Settings)]
    if not sep or not raw:
        raise GradmagicError(
            f"Expected key=value, got {assignment!r}. Settings: {', '.join(names)} "
            "(e.g. %gradmagic precision=4)."
        )
    if key not in names:
        raise GradmagicError(
            f"Unknown setting {key!r}.{did_you_mean(key, names)} Settings: {', '.join(names)}."
        )
    if key == "precision":
        if not raw.isdigit() or not 1 <= int(raw) <= 17:
            raise GradmagicError(
                f"precision must be a whole number from 1 to 17, got {raw!r} "
                "(e.g. %gradmagic precision=4)."
            )
        settings.precision = int(raw)
        return
    value = _BOOLEAN_WORDS.get(raw.lower())
    if value is None:
        raise GradmagicError(f"{key} takes on or off, got {raw!r} (e.g. %gradmagic {key}=on).")
    setattr(settings, key, value)
    if key == "x64":
        apply_x64(value)


def apply_x64(enabled: bool) -> None:
    """Switch JAX's default float width; imported lazily so settings stay light."""
    import jax

    jax.config.update("jax_enable_x64", enabled)

"""Session settings: display precision, float64, compiling every tape, the Hessian limit.

The source of truth is the magics' configuration: traitlets on ``GradMagics``, so
``%config GradMagics.precision = 4`` (or an ``ipython_config.py``) works as IPython users
expect, and ``%gradmagic precision=4`` is the shortcut that sets the same trait.  The
traits mirror their values into :data:`settings`, the one object the renderers and the
``--jit`` default read (kept free of IPython and JAX so those stay plain modules).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from gradmagic.errors import GradmagicError, did_you_mean

PRECISION_RANGE = (1, 17)


@dataclass
class Settings:
    precision: int = 6  # significant digits shown in tables and summaries
    x64: bool = False  # float64 throughout (jax_enable_x64)
    jit: bool = False  # every %%tape compiled, as if --jit were given
    # Hessians of more numbers are not formed: their extreme eigenvalues come from
    # Hessian-vector products (gradmagic.spectrum)
    hessian_limit: int = 2000


settings = Settings()
NAMES = tuple(f.name for f in fields(Settings))

_BOOLEAN_WORDS = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}


def parse_assignment(assignment: str) -> tuple[str, Any]:
    """``'precision=4'`` → ``('precision', 4)``; ``'x64=on'`` → ``('x64', True)``."""
    key, sep, raw = assignment.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not raw:
        raise GradmagicError(
            f"Expected key=value, got {assignment!r}. Settings: {', '.join(NAMES)} "
            "(e.g. %gradmagic precision=4)."
        )
    if key not in NAMES:
        raise GradmagicError(
            f"Unknown setting {key!r}.{did_you_mean(key, NAMES)} Settings: {', '.join(NAMES)}."
        )
    if key == "precision":
        low, high = PRECISION_RANGE
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise GradmagicError(
                f"precision must be a whole number from {low} to {high}, got {raw!r} "
                "(e.g. %gradmagic precision=4)."
            )
        return key, int(raw)
    if key == "hessian_limit":
        if not raw.isdigit() or int(raw) < 1:
            raise GradmagicError(
                f"hessian_limit must be a positive whole number, got {raw!r} "
                "(e.g. %gradmagic hessian_limit=5000)."
            )
        return key, int(raw)
    value = _BOOLEAN_WORDS.get(raw.lower())
    if value is None:
        raise GradmagicError(f"{key} takes on or off, got {raw!r} (e.g. %gradmagic {key}=on).")
    return key, value


def apply(key: str, value: Any) -> None:
    """Make ``key = value`` the session's setting (JAX's float width follows ``x64``)."""
    setattr(settings, key, value)
    if key == "x64":
        import jax  # only here: loading the extension must not import JAX

        jax.config.update("jax_enable_x64", bool(value))


def describe() -> str:
    """``precision=6 x64=off jit=off hessian_limit=2000``, as ``%gradmagic`` shows them."""
    on_off = {True: "on", False: "off"}
    return (
        f"precision={settings.precision} x64={on_off[settings.x64]} jit={on_off[settings.jit]} "
        f"hessian_limit={settings.hessian_limit}"
    )

"""Classifying notebook values: which ones can be differentiated.

Only NumPy is imported here, so the magics can validate ``--wrt`` names before JAX loads.
A value is *floating* when it is a real floating scalar or array: a Python ``float``, a
NumPy floating scalar/array, or a JAX array/tracer with a floating dtype (bfloat16 and
float16 included).  Integers,
booleans, complex numbers, strings, functions and modules never are.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

_ML_FLOATS = ("bfloat16", "float8", "float6", "float4")


def is_floating(value: Any) -> bool:
    """True for real floating scalars and arrays (Python, NumPy or JAX)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return True
    dtype = getattr(value, "dtype", None)
    if dtype is None or not hasattr(value, "shape"):
        return False
    try:
        return _floating_dtype(dtype)
    except TypeError:  # an unhashable or unknown dtype-like object
        return False


@functools.lru_cache(maxsize=256)
def _floating_dtype(dtype: Any) -> bool:
    """Cached per dtype: every one-liner re-run classifies each value it reads, and
    ``np.issubdtype`` costs microseconds each time."""
    dtype = np.dtype(dtype)
    # bfloat16 and the float8 types (ml_dtypes, as JAX uses them) are not NumPy subtypes
    # of np.floating: their kind is 'V'.  Their names say what they are.
    return bool(np.issubdtype(dtype, np.floating)) or dtype.name.startswith(_ML_FLOATS)


def describe(value: Any) -> str:
    """A short description of a value's kind for error messages: 'an int', 'a function'."""
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, str):
        return "a string"
    if callable(value):
        return "a function"
    if type(value).__name__ == "module":
        return "a module"
    dtype = getattr(value, "dtype", None)
    if dtype is not None and hasattr(value, "shape"):
        return f"an array of dtype {np.dtype(dtype).name}"
    return f"a {type(value).__name__}"


def default_float() -> np.dtype:
    """The session's float dtype: float64 with ``%gradmagic x64=on`` (JAX's x64), else
    float32, what JAX gives a Python float.  JAX is imported here only when asked."""
    import jax

    return np.dtype(np.float64 if jax.config.jax_enable_x64 else np.float32)

"""A notebook cell as a pure function: run it silently, with other values, leaving no trace.

No IPython here.  A :class:`CellProgram` is a cell's code plus the namespace it runs in and
the values its inputs had before it ran.  Running it *patches* the namespace with the
values being traced and restores it exactly afterwards, so functions defined in the
notebook that read globals (``def f(): return x**2``) see traced values too, while the
notebook itself never sees a tracer.  Output printed during tracing is swallowed: the
user sees the cell's prints once, from the real run the magic does.

Everything that differentiates a cell (:mod:`gradmagic.derivatives`,
:mod:`gradmagic.compiled_tape`, the ``%minimize`` problem) runs it through this module.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradmagic.cell import LAST_EXPRESSION, PERTURBATIONS, CellAnalysis, compile_cell
from gradmagic.errors import GradmagicError
from gradmagic.pytrees import Leaf, leaf_value, with_leaves
from gradmagic.values import default_float, is_floating

_MISSING = object()


@contextlib.contextmanager
def patched(namespace: dict[str, Any], overrides: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Apply ``overrides`` to ``namespace`` and restore every key exactly afterwards."""
    snapshot = dict(namespace)
    namespace.update(overrides)
    try:
        yield namespace
    finally:
        for key in [key for key in namespace if key not in snapshot]:
            del namespace[key]
        for key, value in snapshot.items():
            if namespace.get(key, _MISSING) is not value:
                namespace[key] = value


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Swallow what the cell prints while it is being traced (it printed once already)."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


_MUTABLE = (list, dict, set, bytearray, np.ndarray)


def _private_copies(frozen: dict[str, Any]) -> dict[str, Any]:
    """The frozen values, with mutable containers copied so that a traced run cannot
    change them (``runs.append(1)`` in a cell must happen once, in the real run)."""
    return {
        name: copy.deepcopy(value) if isinstance(value, _MUTABLE) else value
        for name, value in frozen.items()
    }


@dataclass(frozen=True)
class Source:
    """A value to differentiate with respect to.

    ``intermediate`` sources are names the cell assigns: the derivative is taken with
    respect to a zero perturbation added after their last top-level assignment.  A
    ``leaf`` source is one floating leaf of a pytree the name holds (``params['w']``);
    the rest of the pytree keeps its values.
    """

    name: str
    intermediate: bool = False
    leaf: Leaf | None = None

    @property
    def label(self) -> str:
        """How the source is shown: its name, or its leaf path (``params['w']``)."""
        return self.name if self.leaf is None else self.leaf.label


@dataclass
class CellProgram:
    """A cell's code, the namespace it runs in, and its inputs' values before it ran."""

    analysis: CellAnalysis
    namespace: dict[str, Any]
    frozen: dict[str, Any]
    fallback: dict[str, Any] = field(default_factory=dict)

    def candidates(self) -> list[str]:
        """Names that may be targets: assigned names, then the last expression."""
        names = list(self.analysis.assigns)
        if self.analysis.last_expression is not None:
            names.append(LAST_EXPRESSION)
        return names

    def run(
        self,
        overrides: dict[str, Any] | None = None,
        perturbations: dict[str, Any] | None = None,
        outputs: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Run the cell silently with ``overrides``; return ``outputs`` (default: every
        floating candidate) without leaving any trace in the namespace."""
        code = compile_cell(self.analysis, tuple(perturbations or ()))
        patch = {**self.fallback, **_private_copies(self.frozen), **(overrides or {})}
        if perturbations:
            patch[PERTURBATIONS] = perturbations
        with patched(self.namespace, patch) as namespace, silenced():
            exec(code, namespace)
            if outputs is None:
                return {
                    name: namespace[name]
                    for name in self.candidates()
                    if name in namespace and is_floating(namespace[name])
                }
            missing = [name for name in outputs if name not in namespace]
            if missing:
                raise GradmagicError(
                    f"{self.label(missing[0])} was not assigned when the cell ran with these "
                    "input values (a branch skipped it?): assign it on every path."
                )
            return {name: namespace[name] for name in outputs}

    def run_sources(
        self,
        sources: Sequence[Source],
        values: Sequence[Any],
        outputs: Sequence[str] | None,
        overrides: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`run` with ``values`` for ``sources``: inputs override the namespace,
        intermediates become perturbations (on top of any other ``overrides``)."""
        replaced = dict(overrides or {})
        perturbations: dict[str, Any] = {}
        leaves: dict[str, dict[int, Any]] = {}
        for source, value in zip(sources, values, strict=True):
            if source.leaf is not None:
                leaves.setdefault(source.name, {})[source.leaf.index] = value
            else:
                (perturbations if source.intermediate else replaced)[source.name] = value
        for name, replacements in leaves.items():
            replaced[name] = with_leaves(self.frozen[name], replacements)
        return self.run(replaced, perturbations, outputs)

    def source_value(self, source: Source) -> Any:
        """An input source's value before the cell ran (the leaf, for a leaf source)."""
        value = self.frozen[source.name]
        return value if source.leaf is None else leaf_value(value, source.leaf.index)

    def label(self, name: str) -> str:
        """How a target is shown: its name, or the last expression's source text."""
        if name == LAST_EXPRESSION:
            return self.analysis.last_expression or name
        return name


def floats_read(names: Sequence[str], namespace: dict[str, Any], depth: int = 4) -> list[str]:
    """Floating names among ``names``, or read as globals by the notebook functions they
    name (and the functions those call, ``depth`` levels down), in order of first use.

    What a compiled program must take as arguments rather than bake in: a notebook
    function ``f`` reading ``a`` makes ``a`` part of ``f()``'s computation.
    """
    found: list[str] = []
    seen: set[str] = set()

    def visit(name: str, level: int) -> None:
        if name in seen:
            return
        seen.add(name)
        value = namespace.get(name)
        if is_floating(value):
            found.append(name)
        elif level < depth and getattr(value, "__globals__", None) is namespace:
            for inner in value.__code__.co_names:
                visit(inner, level + 1)

    for name in names:
        visit(name, 0)
    return found


def frozen_values(names: Sequence[str], namespace: dict[str, Any]) -> dict[str, Any]:
    """The values a cell program keeps: the names it reads, and the floats its notebook
    functions read (so they can be traced and passed to compiled programs)."""
    frozen = {name: namespace[name] for name in names if name in namespace}
    for name in floats_read(names, namespace):
        frozen.setdefault(name, namespace[name])
    return frozen


def as_array(value: Any) -> Any:
    """A floating value as a strongly typed array of the session's float width.

    JAX arrays that already are floating pass through; everything else becomes a NumPy
    array (cheap: no device dispatch, and jitted programs take it directly).
    """
    floating_jax = isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jnp.floating)
    if floating_jax and not getattr(value, "weak_type", False):
        return value
    dtype = getattr(value, "dtype", None)
    if dtype is not None and np.issubdtype(np.dtype(dtype), np.floating):
        wanted = np.dtype(dtype) if jax.config.jax_enable_x64 else np.dtype(np.float32)
        if np.dtype(dtype).itemsize < 4:
            wanted = np.dtype(dtype)  # keep float16/bfloat16 as they are
        return np.asarray(value, dtype=wanted)
    return np.asarray(value, dtype=default_float())


def cell_function(
    program: CellProgram, sources: Sequence[Source], outputs: Sequence[str]
) -> Callable[..., tuple[jax.Array, ...]]:
    """``f(*source_values) -> tuple of outputs``: the cell as a pure function of its sources."""
    sources = tuple(sources)
    outputs = tuple(outputs)

    def function(*source_values: Any) -> tuple[jax.Array, ...]:
        values = program.run_sources(sources, source_values, outputs)
        return tuple(jnp.asarray(values[name]) for name in outputs)

    return function

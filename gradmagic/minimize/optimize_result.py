"""SciPy's shape: the fields of ``scipy.optimize.OptimizeResult`` for a run.

A SciPy user reads ``res.x``, ``res.fun``, ``res.jac``, ``res.nit``, ``res.nfev``,
``res.njev``, ``res.success``, ``res.status``, ``res.message`` and ``res["x"]``.
:func:`optimize_fields` gives them for an :class:`~gradmagic.minimize.driver.OptimizationRun`
as an :class:`OptimizeResult` (a dict with attribute access, as SciPy's), and
:class:`OptimizeFields` lends a result object the same mapping access.

``status``: 0 converged (gradient norm below tol), 1 step limit, 2 diverged, 3 interrupted
(Ctrl-C), 99 the callback raised ``StopIteration`` (SciPy's own code for that).  ``success``
is ``status == 0``, as in SciPy: a run that used all its steps without a tol is not
"successful" in SciPy's sense even though its values are written back.

Counts: ``nit`` is the steps run; ``nfev`` the objective evaluations (the start, one per
step, and for L-BFGS every line-search trial, read from optax's line-search state; with
``--bounds`` L-BFGS evaluates the projected point once more); ``njev == nfev`` since each
evaluation computes the value and gradient together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

CONVERGED, STEP_LIMIT, DIVERGED, INTERRUPTED, CALLBACK = 0, 1, 2, 3, 99
FIELDS = ("x", "fun", "jac", "nit", "nfev", "njev", "success", "status", "message")


class OptimizeResult(dict):
    """A dict with attribute access, as ``scipy.optimize.OptimizeResult``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> list[str]:
        return list(self.keys())

    def __repr__(self) -> str:
        width = max(map(len, self.keys()), default=0) + 1
        return "\n".join(f"{key.rjust(width)}: {value!r}" for key, value in self.items())


class Status(int):
    """The status code; calling it (``result.status()``, the older method) gives the message.

    Kept callable so code written before ``status`` became SciPy's integer still works;
    new code reads ``result.message``.
    """

    message: str

    def __new__(cls, code: int, message: str) -> Status:
        status = super().__new__(cls, code)
        status.message = message
        return status

    def __call__(self) -> str:
        return self.message


def by_name(names: Sequence[str], values: Sequence[Any]) -> Any:
    """One variable: its value; several: a dict by name (``x`` and ``jac`` of the result)."""
    if len(values) == 1:
        return values[0]
    return dict(zip(names, values, strict=True))


def status_code(run: Any) -> int:
    """SciPy-style status of a run (see the module's docstring)."""
    if run.diverged_at is not None:
        return DIVERGED
    if run.interrupted:
        return INTERRUPTED
    if getattr(run, "stopped_by_callback", False):
        return CALLBACK
    return CONVERGED if run.converged else STEP_LIMIT


def optimize_fields(
    run: Any, shaped: Callable[[Sequence[Any], bool], Any], message: str
) -> OptimizeResult:
    """The OptimizeResult of ``run`` (an ``OptimizationRun``); ``shaped(values, written)``
    turns its per-variable values into ``x`` (and, not ``written``, the gradient into ``jac``)."""
    code = status_code(run)
    return OptimizeResult(
        x=shaped(run.values),
        fun=run.loss,
        jac=shaped(run.jac, False),
        nit=run.steps,
        nfev=run.nfev,
        njev=run.nfev,
        success=code == CONVERGED,
        status=code,
        message=message,
    )


class OptimizeFields:
    """Mapping access (``result["x"]``, ``"fun" in result``, ``result.keys()``) over the
    :data:`FIELDS`, read as attributes of the object it is mixed into."""

    def keys(self) -> tuple[str, ...]:
        return FIELDS

    def __getitem__(self, key: str) -> Any:
        if key not in FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in FIELDS

    def __iter__(self) -> Iterator[str]:
        return iter(FIELDS)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in FIELDS else default

    def items(self) -> list[tuple[str, Any]]:
        return [(key, self[key]) for key in FIELDS]

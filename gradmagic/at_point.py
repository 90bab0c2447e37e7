"""Evaluating at a point given in the magic line (``--at x=5``), leaving no trace of it.

``%grad``, ``%hessian`` and ``%%tape`` take ``--at x=5,v=[1.0,2.0]``: the expression or
cell is evaluated with these values instead of the notebook's, and the names need not
exist in the notebook (they are then inputs like any floating name the code reads).  The
values are put into the namespace only while the magic runs, because notebook functions
read their globals from it (``def f(): return x**2`` must see the point too), and taken
out afterwards: a name the cell itself assigns keeps what the cell gave it; every other
``--at`` name gets its old value back, or disappears when it had none.

``%minimize --start`` uses the same mechanism for names the notebook has not defined yet:
they exist during the run, and the write-back of the optimum is what creates them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from gradmagic.errors import GradmagicError
from gradmagic.pytrees import is_container, is_differentiable
from gradmagic.values import describe, is_floating

_MISSING = object()


def point(values: Mapping[str, Any], namespace: dict[str, Any], option: str = "--at") -> dict:
    """The parsed ``values`` (floats, nested lists) as the notebook would hold them.

    A name holding a floating value keeps its type and dtype (a Python float stays one, a
    float64 array gives a float64 array); a name holding an integer, or none at all, gets a
    Python float or an array of the session's float width.  Anything else (a function, a
    string, a pytree) is refused: ``--at`` sets numbers and arrays only.
    """
    import numpy as np

    from gradmagic.pytrees import like
    from gradmagic.values import default_float

    placed: dict[str, Any] = {}
    for name, value in values.items():
        current = namespace.get(name, _MISSING)
        number = isinstance(current, int) and not isinstance(current, bool)
        integers = getattr(current, "dtype", None) is not None and np.issubdtype(
            np.dtype(current.dtype), np.integer
        )
        if is_floating(current) and not isinstance(current, float):
            placed[name] = like(current, np.asarray(value))
        elif current is _MISSING or isinstance(current, float) or number or integers:
            scalar = isinstance(value, float)
            placed[name] = value if scalar else np.asarray(value, dtype=default_float())
        elif is_container(current):
            raise GradmagicError(
                f"{option} {name}: {name} holds a pytree; {option} sets numbers and arrays "
                f"only. Evaluate the tape there instead (_tape.at({name}=...), same structure), "
                "or assign the pytree in the notebook."
            )
        else:
            raise GradmagicError(
                f"{option} {name}: {name} is {describe(current)} in the notebook, not a "
                f"number; {option} sets the point to evaluate at (numbers or arrays). "
                "Drop it from the option or fix the name."
            )
    return placed


@contextlib.contextmanager
def evaluated_at(
    namespace: dict[str, Any], values: Mapping[str, Any], option: str = "--at"
) -> Iterator[dict[str, Any]]:
    """Put the point ``values`` into ``namespace`` for the block, then take it out.

    On the way out, a name still holding the value put there gets its old value back (or
    is removed); a name assigned in between (by the cell, or by ``%minimize``'s
    write-back) keeps its new value.  Errors inside the block therefore leave the
    namespace as it was.
    """
    placed = point(values, namespace, option)
    before = {name: namespace.get(name, _MISSING) for name in placed}
    namespace.update(placed)
    try:
        yield placed
    finally:
        for name, value in placed.items():
            if namespace.get(name, _MISSING) is not value:
                continue
            if before[name] is _MISSING:
                del namespace[name]
            else:
                namespace[name] = before[name]


def require_read(analysis: Any, namespace: dict[str, Any], names: Sequence[str], what: str) -> None:
    """Refuse ``--at`` names the code never reads (a value that could not matter is a
    typo or a misunderstanding, never something to ignore silently).  Names read as
    globals by notebook functions the code calls count as read."""
    from gradmagic.cell_program import floats_read

    floats = floats_read(analysis.reads, namespace)
    read = {*analysis.reads, *floats}
    for name in names:
        if name in read:
            continue
        if name in analysis.assigns:
            raise GradmagicError(
                f"--at {name}: the {what} assigns {name} before reading it, so a value given "
                f"in the line would never be used; drop {name} from --at."
            )
        inputs = [
            n
            for n in dict.fromkeys([*analysis.reads, *floats])
            if n != name and is_differentiable(namespace.get(n))
        ]
        listed = f"its inputs are {', '.join(inputs)}" if inputs else "it reads no other input"
        raise GradmagicError(
            f"--at {name}: the {what} does not read {name} ({listed}); drop {name} from "
            "--at or fix the name."
        )


def default_inputs(
    analysis: Any, namespace: dict[str, Any], wrt: Sequence[str], at: Mapping[str, Any]
) -> tuple[str, ...]:
    """``--wrt`` as given, or with ``--at`` and no ``--wrt``: the differentiable names read,
    then the ``--at`` names not among them (read only inside notebook functions)."""
    if wrt or not at:
        return tuple(wrt)
    read = [n for n in analysis.reads if n in namespace and is_differentiable(namespace[n])]
    return tuple(dict.fromkeys([*read, *at]))

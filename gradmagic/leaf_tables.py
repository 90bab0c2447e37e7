"""The derivative table of a tape whose inputs include pytrees: one row per leaf.

A model's parameters can hold thousands of numbers; the usual table (one column per input,
every entry listed) would be unreadable.  Here each floating leaf is a row labelled by its
path (``params['w']``) with its shape, its value and each target's derivative, large ones
summarised (shape, norm, min/max, first values: :func:`gradmagic.render.summary`).  Each
pytree is its own table, so the HTML form folds per pytree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradmagic import render
from gradmagic.render import Table

if TYPE_CHECKING:
    from gradmagic.tape import Tape


def has_pytree_inputs(sources: Sequence[Any]) -> bool:
    """True when some source is a leaf of a pytree (the table then has a row per leaf)."""
    return any(source.leaf is not None for source in sources)


def leaf_tables(tape: Tape) -> list[Table | str]:
    """One table per input name (a pytree's leaves, or a plain input alone), rows by leaf."""
    derivatives = tape.derivatives
    targets = derivatives.targets
    header = [
        "input",
        "shape",
        "value",
        *[f"∂{tape.program.label(t)}/∂·" for t in targets],
    ]
    groups: dict[str, list[int]] = {}
    for j, source in enumerate(derivatives.sources):
        groups.setdefault(source.name, []).append(j)
    tables = []
    unconnected = False
    for name, indices in groups.items():
        first = derivatives.sources[indices[0]]
        if first.leaf is None:
            title = f"{name}"
        else:
            numbers = sum(int(np.size(derivatives.source_values[j])) for j in indices)
            kind = type(tape.program.frozen[name]).__name__
            title = f"{name}: {kind} of {_count(len(indices), 'floating leaf', 'floating leaves')}, {_count(numbers, 'number', 'numbers')}"
        table = Table(title=title, header=header, collapsible=first.leaf is not None)
        for j in indices:
            source = derivatives.sources[j]
            value = derivatives.source_values[j]
            row = [source.label, _shape(value), render.summary(value)]
            for target in targets:
                block = derivatives.jacobians[target][j]
                if derivatives.connected[target][j]:
                    row.append(render.summary(block))
                else:
                    unconnected = True
                    row.append("None" if tape.options.unconnected == "none" else "0*")
            table.rows.append(row)
        tables.append(table)
    point = ", ".join(
        f"{tape.program.label(t)} = {render.summary(derivatives.values[t])}" for t in targets
    )
    if unconnected:
        tables[-1].notes.append(
            "None / 0*: not connected, the target does not depend on this leaf."
        )
    return [f"Derivatives at the inputs' values ({point})" if point else "Derivatives", *tables]


def _shape(value: Any) -> str:
    shape = np.shape(value)
    return "scalar" if shape == () else str(shape)


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}".replace(",", " ")

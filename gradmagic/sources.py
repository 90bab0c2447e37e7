"""Which sources a notebook value gives a derivative: the value itself, or its leaves.

Shared by ``%%tape`` (its ``--wrt`` and default inputs), the one-liners and ``Tape``'s
look-ups, so a pytree input means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradmagic.errors import GradmagicError
from gradmagic.pytrees import assembled, is_differentiable
from gradmagic.values import describe, is_floating


def input_sources(name: str, value: Any, option: str) -> list:
    """The sources of a notebook value: itself when floating, one per floating leaf of a
    pytree; anything else is refused with the fix."""
    from gradmagic.cell_program import Source
    from gradmagic.pytrees import checked_leaves, is_container

    if is_floating(value):
        return [Source(name)]
    if is_container(value):
        return [Source(name, leaf=leaf) for leaf in checked_leaves(name, value, option)]
    raise GradmagicError(
        f"{option} {name}: {name} is {describe(value)}, not a floating value. "
        f"Make it a float (e.g. {name} = {float_example(value)}) to differentiate "
        "with respect to it."
    )


def float_example(value: Any) -> str:
    """What to assign instead of a non-floating value in a message: ``2.0`` for ``2``."""
    if isinstance(value, bool | int):
        return f"{float(value)!r}"
    return "1.0"


def requested_sources(
    source: Any,
    known_sources: Sequence[Any],
    program: Any,
    concrete: dict[str, Any],
    inputs: Sequence[str],
) -> tuple[list[Any], Any]:
    """The sources ``source`` (a label, a name or a value) stands for in a tape recorded
    with ``known_sources``, and the pytree to shape results like (None for a single
    source): a pytree input's name stands for all its floating leaves."""
    from gradmagic import cell_program

    for known in known_sources:
        if isinstance(source, str) and source == known.label:
            return [known], None
    if isinstance(source, str):
        leaves = [s for s in known_sources if s.leaf and s.name == source]
        if leaves:
            return leaves, program.frozen[source]
        if source in program.analysis.assigns:
            return [cell_program.Source(source, intermediate=True)], None
        value = program.frozen.get(source)
        if source in program.frozen and is_differentiable(value):
            found = input_sources(source, value, "source")
            return found, (value if found[0].leaf else None)
        raise GradmagicError(
            f"{source!r} is neither a floating value the cell reads nor a name it assigns. "
            f"Inputs: {', '.join(inputs)}."
        )
    for name, value in program.frozen.items():
        if value is source and is_differentiable(value):
            return requested_sources(name, known_sources, program, concrete, inputs)
    for name, value in concrete.items():
        if value is source and name in program.analysis.assigns:
            return [cell_program.Source(name, intermediate=True)], None
    raise GradmagicError(
        "That value is not an input of this tape; pass an input's name instead "
        f"(inputs: {', '.join(inputs)})."
    )


def regroup(groups: list[tuple[list[Any], Any]], results: list[Any]) -> list[Any]:
    """One result per requested item: a pytree item's leaf results back in its structure."""
    out, position = [], 0
    for found, tree in groups:
        part = results[position : position + len(found)]
        position += len(found)
        out.append(part[0] if tree is None else assembled(tree, [s.leaf for s in found], part))
    return out

"""Reading jaxprs: which outputs depend on which inputs, and the recorded operations.

Two jobs, both on a :class:`jax.extend.core.ClosedJaxpr`-like object:

* :func:`dependencies` answers "does output *i* depend on input *j*" by walking the
  equations.  Applied to the *linearised* program (the tangent map), it is a real
  dependency analysis for derivatives: ``y = x - x`` is connected (its derivative is 0),
  ``y = stop_gradient(x)`` is not.
* :func:`operations` lists the equations as readable lines with the cell's own names
  (inputs and targets named as in the cell, other values ``t1, t2, …``, scalar
  constants by value, parameters in brackets) and the cell line each one came from,
  which is what ``%%tape --show-tape`` shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Parameters that only say how an operation is laid out, not what it computes.
_HIDDEN_PARAMETERS = {
    "out_sharding",
    "sharding",
    "accumulation_type",
    "precision",
    "preferred_element_type",
    "out_dtype",
    "jaxpr",
    "call_jaxpr",
    "fun_jaxpr",
    "jvp_jaxpr_fun",
    "jvp_jaxpr_thunk",
    "num_consts",
    "symbolic_zeros",
    "in_shardings",
    "out_shardings",
    "in_layouts",
    "out_layouts",
    "donated_invars",
    "ctx_mesh",
    "keep_unused",
    "inline",
    "compiler_options_kvs",
    "name",
    "resize",
    "unroll",
}


def _is_variable(atom: Any) -> bool:
    return not hasattr(atom, "val")  # Literals carry .val; variables do not


def dependencies(closed_jaxpr: Any) -> list[set[int]]:
    """For each output, the set of input positions it depends on (nested calls are opaque)."""
    jaxpr = closed_jaxpr.jaxpr
    depends: dict[Any, set[int]] = {var: {i} for i, var in enumerate(jaxpr.invars)}
    for equation in jaxpr.eqns:
        sources: set[int] = set()
        for atom in equation.invars:
            if _is_variable(atom):
                sources |= depends.get(atom, set())
        for var in equation.outvars:
            depends[var] = sources
    return [
        set(depends.get(atom, set())) if _is_variable(atom) else set() for atom in jaxpr.outvars
    ]


@dataclass(frozen=True)
class Operation:
    """One recorded operation: ``result = primitive(arguments)`` from a cell line."""

    line: int | None
    text: str


def _format_literal(value: Any) -> str:
    array = np.asarray(value)
    if array.shape == ():
        return f"{array.item():g}"
    return f"array{array.shape}"


def _format_parameter(value: Any) -> str | None:
    if value is None or callable(value):
        return None
    if isinstance(value, bool | int | float | str):
        return repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, tuple) and all(isinstance(v, int | float) for v in value):
        return str(value)
    text = str(value)
    return text if len(text) <= 24 and "<" not in text else None


def _cell_line(equation: Any, filename: str) -> int | None:
    traceback = getattr(equation.source_info, "traceback", None)
    frames = getattr(traceback, "frames", None) or []
    lines = [frame.line_num for frame in frames if frame.file_name == filename]
    return lines[0] if lines else None


def operations(
    closed_jaxpr: Any,
    input_names: Sequence[str],
    output_names: Sequence[str],
    filename: str,
) -> list[Operation]:
    """The equations of ``closed_jaxpr`` as readable operations with the cell's names."""
    jaxpr = closed_jaxpr.jaxpr
    names: dict[Any, str] = {}
    for var, name in zip(jaxpr.invars, input_names, strict=True):
        names[var] = name
    consts = list(getattr(closed_jaxpr, "consts", []))
    for index, var in enumerate(jaxpr.constvars):
        value = consts[index] if index < len(consts) else None
        # Scalars captured while tracing (e.g. 2·x of a linearised x**2) read best as numbers.
        scalar = value is not None and np.size(value) == 1
        names[var] = _format_literal(np.reshape(value, ())) if scalar else f"c{index + 1}"
    for atom, name in zip(jaxpr.outvars, output_names, strict=True):
        if _is_variable(atom) and atom not in names:
            names[atom] = name
    counter = 0
    recorded: list[Operation] = []
    for equation in jaxpr.eqns:
        arguments = []
        for atom in equation.invars:
            arguments.append(
                names.get(atom, "?") if _is_variable(atom) else _format_literal(atom.val)
            )
        parameters = []
        for key, value in sorted(equation.params.items()):
            if key in _HIDDEN_PARAMETERS:
                continue
            shown = _format_parameter(value)
            if shown is not None:
                parameters.append(f"{key}={shown}")
        results = []
        for var in equation.outvars:
            if var not in names:
                counter += 1
                names[var] = f"t{counter}"
            results.append(names[var])
        primitive = equation.primitive.name
        if primitive in {"pjit", "jit", "closed_call", "custom_jvp_call", "custom_vjp_call"}:
            primitive = str(equation.params.get("name", primitive))
        # Parameters in brackets, as jaxprs print them: integer_pow[y=2](x) cannot be
        # mistaken for a cell variable called y.
        if parameters:
            primitive += f"[{', '.join(parameters)}]"
        text = f"{', '.join(results)} = {primitive}({', '.join(arguments)})"
        recorded.append(Operation(line=_cell_line(equation, filename), text=text))
    return recorded

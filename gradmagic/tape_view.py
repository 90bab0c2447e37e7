"""What a :class:`~gradmagic.tape.Tape` shows: its tables, as render sections.

Kept apart from the Tape's API so the numbers it computes and the way they are laid out
change independently.  Sections, in order: the point, the derivative table (targets ×
inputs), each scalar target's Hessian with its eigenvalues and verdict, higher orders,
the finite-difference check, and the recorded operations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gradmagic import render
from gradmagic.render import Table

if TYPE_CHECKING:
    from gradmagic.tape import Tape


def eigen_verdict(eigenvalues: np.ndarray, gradient_norm: float) -> str:
    """What the Hessian's eigenvalues say about the point (the second-derivative test).

    First what they mean here (how the surface curves, whether the point is stationary),
    then what the same eigenvalues would mean at a point where the gradient vanishes.
    """
    scale = float(np.max(np.abs(eigenvalues))) if eigenvalues.size else 0.0
    tolerance = max(scale, 1.0) * eigenvalues.size * 1e-5
    positive = bool(np.all(eigenvalues > tolerance))
    negative = bool(np.all(eigenvalues < -tolerance))
    mixed = bool(np.any(eigenvalues > tolerance) and np.any(eigenvalues < -tolerance))
    stationary = gradient_norm <= tolerance
    if positive:
        kind, shape, meaning = (
            "positive definite",
            "curves up in every direction",
            "a local minimum",
        )
    elif negative:
        kind, shape, meaning = (
            "negative definite",
            "curves down in every direction",
            "a local maximum",
        )
    elif mixed:
        kind, shape, meaning = (
            "indefinite",
            "curves up in some directions and down in others",
            "a saddle point",
        )
    else:
        kind = "singular (an eigenvalue is 0)"
        shape = "is flat to second order in some direction"
        if stationary:
            return (
                f"{kind}: the surface {shape} here and the gradient vanishes; the "
                "second-derivative test is inconclusive (minimum, maximum or saddle)."
            )
        return (
            f"{kind}: the surface {shape} here; the gradient does not vanish, so this "
            "point is not stationary."
        )
    if stationary:
        return f"{kind}: the surface {shape} here and the gradient vanishes: {meaning}."
    return (
        f"{kind}: the surface {shape} here, but the gradient does not vanish, so this "
        f"point is not stationary. (Where the gradient vanishes, this would be {meaning}.)"
    )


def _element_labels(tape: Tape) -> list[str]:
    labels = []
    for source, value in zip(tape.derivatives.sources, tape.derivatives.source_values, strict=True):
        shape = np.shape(value)
        if shape == ():
            labels.append(source.label)
        else:
            labels.extend(f"{source.label}[{','.join(map(str, i))}]" for i in np.ndindex(shape))
    return labels


def _point(tape: Tape) -> str:
    parts = []
    for source, value in zip(tape.derivatives.sources, tape.derivatives.source_values, strict=True):
        if source.intermediate:
            shown = tape.values.get(source.name, value)
            parts.append(f"{source.name} = {render.array(shown)} (intermediate)")
        else:
            parts.append(f"{source.name} = {render.array(tape.program.frozen[source.name])}")
    return "at " + ", ".join(parts) if parts else "no inputs"


def derivative_table(tape: Tape) -> Table:
    derivatives = tape.derivatives
    program = tape.program
    header = ["", "value", *[f"∂/∂{s.name}" for s in derivatives.sources]]
    table = Table(title=f"Derivatives {_point(tape)}", header=header)
    unconnected_seen = False
    for name in derivatives.targets:
        row = [program.label(name), render.array(derivatives.values[name])]
        for j, block in enumerate(derivatives.jacobians[name]):
            if derivatives.connected[name][j]:
                row.append(render.array(block))
            elif tape.options.unconnected == "none":
                row.append("None")
                unconnected_seen = True
            else:
                row.append(render.array(block) + "*")
                unconnected_seen = True
        table.rows.append(row)
    if not derivatives.targets:
        table.notes.append("No floating target depends on the inputs (name one with --of).")
    if unconnected_seen:
        table.notes.append(
            "None: not connected, the target does not depend on this input (TensorFlow's None)."
            if tape.options.unconnected == "none"
            else "* not connected: the target does not depend on this input"
            " (--unconnected none shows None)."
        )
    return table


def hessian_sections(tape: Tape) -> list[Table | str]:
    derivatives = tape.derivatives
    labels = _element_labels(tape)
    shown = render.elided(len(labels))
    sections: list[Table | str] = []
    for name in derivatives.targets:
        if name in derivatives.spectra:
            sections.append(spectrum_table(tape, name))
            continue
        if name not in derivatives.hessians:
            if tape.options.hessian:
                sections.append(
                    f"Hessian of {tape.program.label(name)}: skipped, it is not a scalar "
                    f"(shape {np.shape(derivatives.values[name])})."
                )
            continue
        matrix = np.asarray(derivatives.hessians[name], dtype=float)
        header = ["", *[labels[i] if i is not None else "…" for i in shown]]
        table = Table(
            title=f"Hessian of {tape.program.label(name)} with respect to "
            + ", ".join(dict.fromkeys(s.name for s in derivatives.sources)),
            header=header,
        )
        for i in shown:
            if i is None:
                table.rows.append(["…"] * len(header))
                continue
            row = [labels[i]]
            row += ["…" if j is None else render.number(matrix[i, j]) for j in shown]
            table.rows.append(row)
        eigenvalues = np.linalg.eigvalsh((matrix + matrix.T) / 2)
        gradient = np.concatenate(
            [np.ravel(np.asarray(block)) for block in derivatives.jacobians[name]]
        )
        listed = [
            render.number(v)
            for v in eigenvalues[[i for i in render.elided(len(eigenvalues)) if i is not None]]
        ]
        if len(eigenvalues) > 10:
            listed.insert(3, "…")
        table.notes.append("eigenvalues: " + ", ".join(listed))
        table.notes.append(eigen_verdict(eigenvalues, float(np.linalg.norm(gradient))))
        sections.append(table)
    return sections


def spectrum_table(tape: Tape, name: str) -> Table:
    """Above ``hessian_limit``: the extreme eigenvalues with their residual bounds (a true
    eigenvalue lies within each), how they were found, and the same verdict as the matrix."""
    from gradmagic.tape_spectrum import not_formed

    derivatives = tape.derivatives
    spectrum = derivatives.spectra[name]
    table = Table(
        title=f"Hessian of {tape.program.label(name)} with respect to "
        + ", ".join(s.name for s in derivatives.sources)
        + ": extreme eigenvalues",
        header=["", "eigenvalue", "residual bound"],
    )
    for rank, (value, residual) in enumerate(
        zip(spectrum.top, spectrum.top_residuals, strict=True), start=1
    ):
        label = (
            "λmax"
            if rank == 1
            else f"{rank}{'nd' if rank == 2 else 'rd' if rank == 3 else 'th'} largest"
        )
        table.rows.append([label, render.number(value), render.number(residual, 2)])
    table.rows.append(
        ["λmin", render.number(spectrum.lambda_min), render.number(spectrum.min_residual, 2)]
    )
    table.notes.append(not_formed(spectrum.size, spectrum.products))
    if not spectrum.converged:
        table.notes.append(
            "Not all converged: each value is within its residual bound of a true eigenvalue."
        )
    gradient = np.concatenate(
        [np.ravel(np.asarray(block)) for block in derivatives.jacobians[name]]
    )
    table.notes.append(eigen_verdict(spectrum.eigenvalues, float(np.linalg.norm(gradient))))
    return table


def orders_table(tape: Tape) -> Table | None:
    derivatives = tape.derivatives
    if not derivatives.orders:
        return None
    order = tape.options.order
    table = Table(
        title="Higher derivatives (scalar inputs)",
        header=["", *[f"n = {k}" for k in range(1, order + 1)]],
    )
    for name in derivatives.targets:
        for source in derivatives.sources:
            values = derivatives.orders.get((name, source.label))
            if values is not None:
                label = f"dⁿ{tape.program.label(name)}/d{source.label}ⁿ"
                table.rows.append([label, *[render.number(v) for v in values]])
    return table


def check_table(tape: Tape) -> Table | None:
    checks = tape.checks
    if not checks:
        return None
    table = Table(
        title="Finite-difference check (central differences)",
        header=["", "autodiff", "finite difference", "error", ""],
    )
    disagreements = []
    for check in checks:
        index = f"[{','.join(map(str, check.index))}]" if check.index else ""
        label = f"∂{tape.program.label(check.target)}/∂{check.source}{index}"
        table.rows.append(
            [
                label,
                render.number(check.autodiff),
                render.number(check.estimate),
                render.number(check.relative_error, 2),
                "ok" if check.agrees else "DISAGREES",
            ]
        )
        if not check.agrees:
            disagreements.append(label)
    if disagreements:
        table.notes.append(
            f"Warning: autodiff and finite differences disagree for {', '.join(disagreements)}: "
            "the function may not be differentiable there, or the step is too coarse."
        )
    return table


def operations_section(tape: Tape) -> str | None:
    recorded = tape.derivatives.operations
    if recorded is None:
        return None
    lines = ["Recorded operations"]
    if tape.derivatives.operations_linearised:
        lines[0] += (
            " (the cell branches on input values, so these are the linearised operations"
            " recorded at this point)"
        )
    current = object()
    for operation in recorded:
        if operation.line != current:
            current = operation.line
            source = tape.program.analysis.line(operation.line) if operation.line else ""
            lines.append(
                f"  line {operation.line}: {source}" if operation.line else "  (no cell line)"
            )
        lines.append(f"    {operation.text}")
    if len(lines) == 1:
        lines.append("  (none: the targets do not depend on the inputs)")
    return "\n".join(lines)


def tape_sections(tape: Tape) -> list[Table | str]:
    from gradmagic.leaf_tables import has_pytree_inputs, leaf_tables

    if has_pytree_inputs(tape.derivatives.sources):
        sections: list[Table | str] = list(leaf_tables(tape))
    else:
        sections = [derivative_table(tape)]
    sections += hessian_sections(tape)
    for optional in (orders_table(tape), check_table(tape), operations_section(tape)):
        if optional is not None:
            sections.append(optional)
    return sections

"""What ``%%tape`` computes for a cell: its options, and the derivatives they ask for.

Kept apart from :class:`~gradmagic.tape.Tape` (which reuses a recording) so that the
choice between the compiled and the eager path, and between a Hessian matrix and its
extreme eigenvalues, lives in one small place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gradmagic.cell_program import CellProgram, Source
from gradmagic.derivatives import Derivatives, differentiate


@dataclass(frozen=True)
class TapeOptions:
    """The ``%%tape`` options that change what is computed and shown."""

    hessian: bool = False
    order: int = 1
    check: bool = False
    jit: bool = False
    show_tape: bool = False
    unconnected: str = "zero"  # or "none", as TensorFlow returns None
    plot: bool = False  # displayed with its plot (see Tape.plot)


def compute_derivatives(
    program: CellProgram,
    sources: Sequence[Source],
    targets: Sequence[str] | None,
    options: TapeOptions,
) -> Derivatives:
    """The derivatives ``options`` ask for, from a cached compiled program where the cell
    allows, so re-running an unchanged cell never traces it again.

    ``--jit`` insists on compiling (and explains a cell that cannot be); otherwise a cell
    whose Python control flow depends on input values is differentiated eagerly, as is
    ``--show-tape`` (its operations are the ones recorded at this point).  Above
    ``hessian_limit`` numbers ``--hessian`` gives each scalar target's extreme eigenvalues
    (:mod:`gradmagic.tape_spectrum`) instead of the matrix.
    """
    from gradmagic import tape_spectrum

    big = options.hessian and tape_spectrum.above_limit(program, sources)
    asked = {"hessian": options.hessian and not big, "order": options.order}
    derivatives = None
    if options.jit or not options.show_tape:
        from gradmagic.compiled_tape import differentiate_compiled

        derivatives = differentiate_compiled(
            program, sources, targets, **asked, record=options.show_tape, explain=options.jit
        )
    if derivatives is None:
        derivatives = differentiate(program, sources, targets, **asked, record=options.show_tape)
    if big:  # no matrix: the extreme eigenvalues from Hessian-vector products
        derivatives.spectra = tape_spectrum.spectra(
            program, sources, derivatives.source_values, derivatives.targets, derivatives.values
        )
    return derivatives

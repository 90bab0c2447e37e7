"""``%%tape --hessian`` above ``hessian_limit``: eigenvalues instead of the matrix.

A Hessian of n numbers has n² entries: 25 million for 5 000 inputs, and as many backward
passes to form it.  Above the session's ``hessian_limit`` (``%gradmagic hessian_limit=N``,
default 2000) a tape does not form it; each scalar target gets its extreme eigenvalues
(λmin, λmax and the 5 largest) from Hessian-vector products instead
(:mod:`gradmagic.spectrum`), in one compiled program cached per cell, target and input
shapes, so re-running the cell never recompiles.  The floating values the cell reads are
arguments of that program, not constants baked into it (as for ``--jit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from gradmagic.cell_program import CellProgram, Source, as_array
from gradmagic.derivatives import explain_trace_error, is_tracer_error
from gradmagic.errors import GradmagicError
from gradmagic.program_cache import constants_key
from gradmagic.settings import settings
from gradmagic.spectrum import Spectrum, hessian_spectrum
from gradmagic.values import is_floating


def count(size: int) -> str:
    """``5 000``: a count of numbers as the messages show it."""
    return f"{size:,}".replace(",", " ")


def source_size(program: CellProgram, sources: Sequence[Source]) -> int:
    """How many numbers the sources hold in all (an intermediate by its value, which
    needs one silent run of the cell)."""
    intermediates = [s.name for s in sources if s.intermediate]
    values = program.run(outputs=intermediates) if intermediates else {}
    return sum(
        int(np.size(values[s.name] if s.intermediate else program.frozen[s.name])) for s in sources
    )


def above_limit(program: CellProgram, sources: Sequence[Source]) -> bool:
    """Whether the Hessian with respect to ``sources`` is too big to form."""
    return source_size(program, sources) > settings.hessian_limit


def not_formed(size: int, products: int) -> str:
    """The note that says the matrix was not formed, and where the eigenvalues came from."""
    return (
        f"Hessian not formed: {count(size)} numbers > hessian_limit {settings.hessian_limit}; "
        f"extreme eigenvalues from {products} Hessian-vector products (Lanczos)."
    )


def refuse_matrix(size: int) -> GradmagicError:
    """What ``Tape.hessian`` says above the limit: why, and the two ways forward."""
    wanted = max(size, settings.hessian_limit + 1)
    return GradmagicError(
        f"The Hessian of {count(size)} numbers is not formed: that is more than "
        f"hessian_limit {settings.hessian_limit} ({count(size * size)} entries). "
        "tape.spectrum(target) gives its extreme eigenvalues from Hessian-vector products; "
        f"to form the matrix anyway, raise the limit: %gradmagic hessian_limit={wanted} "
        f"(or %config GradMagics.hessian_limit = {wanted})."
    )


def target_spectrum(
    program: CellProgram,
    sources: Sequence[Source],
    primals: Sequence[Any],
    target: str,
) -> Spectrum:
    """The Hessian spectrum of scalar ``target`` with respect to ``sources`` at
    ``primals`` (their values; zeros for intermediates, which are perturbations)."""
    sources = tuple(sources)
    source_names = {s.name for s in sources if not s.intermediate}
    dynamic = {
        name: as_array(value)
        for name, value in sorted(program.frozen.items())
        if is_floating(value) and name not in source_names
    }

    def objective(params: tuple, dynamic: dict[str, Any]) -> jax.Array:
        values = program.run_sources(sources, params, [target], dynamic)
        return values[target]

    key = (
        "tape",
        program.analysis.source,
        sources,
        target,
        constants_key(program.frozen, skip=source_names),
    )
    try:
        return hessian_spectrum(objective, tuple(primals), dynamic, cache_key=key)
    except (jax.errors.JAXTypeError, TypeError) as error:
        if isinstance(error, TypeError) and not is_tracer_error(error):
            raise
        explained = explain_trace_error(error, program.analysis, compiled=False)
        raise GradmagicError(
            f"{explained} Above hessian_limit the Hessian's eigenvalues come from a compiled "
            "program; raising the limit (%gradmagic hessian_limit=N) forms the matrix instead."
        ) from None


def spectra(
    program: CellProgram,
    sources: Sequence[Source],
    primals: Sequence[Any],
    targets: Sequence[str],
    values: dict[str, Any],
) -> dict[str, Spectrum]:
    """The spectrum of every scalar target (what ``--hessian`` shows above the limit)."""
    return {
        name: target_spectrum(program, sources, primals, name)
        for name in targets
        if np.shape(values[name]) == ()
    }

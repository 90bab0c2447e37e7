"""What ``%minimize`` does with a problem in a notebook: run it and write the optimum back,
or compare several optimizers from the same start without touching anything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradmagic.minimize.problem import Problem
from gradmagic.minimize.progress import ProgressBar, progress_wanted


def minimize_problem(
    problem: Problem,
    namespace: dict[str, Any],
    *,
    optimizer: str,
    lr: float,
    steps: int,
    momentum: float | None,
    tol: float | None,
    progress: bool = True,
) -> Any:
    """Run, write the optimum back only after a clean finish, and return the result."""
    bar = ProgressBar(steps, optimizer) if progress and progress_wanted() else None
    try:
        result = problem.solve(
            optimizer=optimizer, lr=lr, steps=steps, momentum=momentum, tol=tol, on_progress=bar
        )
    finally:
        if bar is not None:
            bar.close()
    if result.succeeded:
        namespace.update(result.values)
    return result


def compare_optimizers(
    problem: Problem,
    optimizers: Sequence[str],
    *,
    lr: float,
    steps: int,
    momentum: float | None,
    tol: float | None,
) -> Any:
    """``--compare``: every optimizer from the same start; the namespace is not touched."""
    from gradmagic.minimize.optimizers import resolve_optimizer
    from gradmagic.minimize.result import Comparison, MinimizeResult

    for name in optimizers:
        resolve_optimizer(name)  # every name checked before anything runs
    results = {}
    for name in optimizers:
        spec = resolve_optimizer(name)
        run = problem.run(
            optimizer=spec.name,
            lr=lr,
            steps=steps,
            momentum=momentum if spec.momentum_name else None,
            tol=tol,
        )
        results[spec.name] = MinimizeResult(problem, problem.start, run)
    return Comparison(problem, results)

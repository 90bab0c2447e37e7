"""What ``%minimize`` does with a problem in a notebook: run it and write the optimum back,
or compare several optimizers from the same start without touching anything."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    bounds: Mapping[str, tuple] | None = None,
    schedule: str | None = None,
    callback: Callable | None = None,
    write_back: bool = True,
    **training: Any,
) -> Any:
    """Run, write the optimum back only after a clean finish (and ``write_back``), and
    return the result.

    ``bounds`` maps variable names to ``(lower, upper)`` (None: open); ``schedule`` names an
    optax schedule (``lr`` is its peak); ``callback`` gets the result so far after every
    compiled chunk and may stop the run with ``StopIteration`` (the values are then kept).
    ``training`` (``batch``, ``epochs``, ``seed``) is for problems with data; the progress
    bar then counts epochs."""
    bar = _progress_bar(problem, optimizer, steps, **training) if progress else None
    try:
        result = problem.solve(
            optimizer=optimizer,
            lr=lr,
            steps=steps,
            momentum=momentum,
            tol=tol,
            on_progress=bar,
            bounds=per_variable(problem, bounds),
            schedule=schedule,
            callback=callback,
            **training,
        )
    finally:
        if bar is not None:
            bar.close()
    if result.succeeded and write_back:
        namespace.update(problem.by_name(result.run.values, written=True))
    result.kept_notebook = not write_back
    return result


def compare_optimizers(
    problem: Problem,
    optimizers: Sequence[str],
    *,
    lr: float,
    steps: int,
    momentum: float | None,
    tol: float | None,
    bounds: Mapping[str, tuple] | None = None,
    schedule: str | None = None,
    **training: Any,
) -> Any:
    """``--compare``: every optimizer from the same start (with data: the same batches, drawn
    from the same seed); the namespace is not touched."""
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
            bounds=per_variable(problem, bounds),
            schedule=schedule if spec.uses_lr else None,
            **training,
        )
        results[spec.name] = MinimizeResult(problem, problem.start, run)
    return Comparison(problem, results)


def _progress_bar(
    problem: Problem,
    optimizer: str,
    steps: int,
    batch: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
) -> ProgressBar | None:
    """The run's progress bar: in steps, or with data in epochs (None when turned off)."""
    if not progress_wanted():
        return None
    if not problem.data:
        return ProgressBar(steps, optimizer)
    import jax
    import numpy as np

    leaves = jax.tree_util.tree_leaves(problem.aux()[problem.data[0]])
    examples = int(np.shape(leaves[0])[0]) if leaves and np.ndim(leaves[0]) else 1
    per = max(1, examples // (batch or examples)) if batch and batch > 0 else 1
    return ProgressBar(epochs or steps // per, optimizer, per=per, unit="epoch")


def per_variable(problem: Problem, bounds: Mapping[str, tuple] | None) -> list | None:
    """``{name: (lower, upper)}`` as the engine takes it: one entry per variable (or None)."""
    if not bounds:
        return None
    leaves = problem.leaves or (None,) * len(problem.variables)
    return [
        bounds.get(name if leaf is None else leaf.name)
        for name, leaf in zip(problem.variables, leaves, strict=True)
    ]

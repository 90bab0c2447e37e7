"""``_min``: what one ``%minimize`` run found, and a comparison of several.

Small objects over the engine's :class:`~gradmagic.optimize.OptimizationRun`, with the
names a notebook user knows (``values`` by variable name, ``path`` by variable name) and a
deterministic HTML/text display.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradmagic import render
from gradmagic.render import Table


def magic_line(
    objective: str,
    variables: Sequence[str],
    optimizer: str,
    lr: float,
    steps: int,
    momentum: float | None = None,
    tol: float | None = None,
) -> str:
    """The ``%minimize`` line that reproduces a run (shown under the widget panel)."""
    parts = [f"%minimize {objective} --wrt {','.join(variables)}", f"--optimizer {optimizer}"]
    parts.append(f"--lr {render.number(lr, 4)}")
    parts.append(f"--steps {steps}")
    if momentum is not None:
        parts.append(f"--momentum {render.number(momentum, 4)}")
    if tol is not None:
        parts.append(f"--tol {render.number(tol, 4)}")
    return " ".join(parts)


class MinimizeResult:
    """One run: ``values``, ``loss``, ``steps``, ``converged``, ``history``, ``path``,
    ``optimizer``, ``lr`` (and ``momentum``, ``tol``, ``grad_norm``, ``diverged_at``,
    ``interrupted``, ``start``)."""

    def __init__(
        self,
        objective: str,
        variables: Sequence[str],
        start: Sequence[Any],
        run: Any,
        suggestion: tuple[float, float, float] | None = None,
    ) -> None:
        self.objective = objective
        self.variables = tuple(variables)
        self.start = dict(zip(self.variables, start, strict=True))
        self.run = run
        self.suggestion = suggestion  # (λmin, λmax, 2/λmax) of the Hessian at the start
        self.values = dict(zip(self.variables, run.values, strict=True))
        self.path = dict(zip(self.variables, run.path, strict=True)) if len(run.path) else {}

    loss = property(lambda self: self.run.loss, doc="Final objective.")
    steps = property(lambda self: self.run.steps, doc="Steps run.")
    converged = property(lambda self: self.run.converged, doc="Gradient norm fell below --tol.")
    history = property(lambda self: self.run.history, doc="Objective per step (index 0: start).")
    optimizer = property(lambda self: self.run.optimizer)
    lr = property(lambda self: self.run.lr)
    momentum = property(lambda self: self.run.momentum)
    tol = property(lambda self: self.run.tol)
    grad_norm = property(lambda self: self.run.grad_norm)
    diverged_at = property(lambda self: self.run.diverged_at)
    interrupted = property(lambda self: self.run.interrupted)

    @property
    def diverged(self) -> bool:
        return self.run.diverged_at is not None

    @property
    def succeeded(self) -> bool:
        """Finished without diverging or being interrupted (values may be written back)."""
        return not self.diverged and not self.interrupted

    def status(self) -> str:
        """One sentence: converged, finished, diverged (with a suggestion) or interrupted."""
        run = self.run
        if run.diverged_at is not None:
            text = (
                f"Diverged at step {run.diverged_at}: the objective or a variable became "
                "non-finite, so the variables keep their starting values."
            )
            if self.suggestion is not None and np.isfinite(self.suggestion[2]):
                bound = self.suggestion[2]
                text += (
                    f" SGD is stable for lr < 2/λmax = {render.number(bound)} here "
                    f"(λmax = {render.number(self.suggestion[1])} of the Hessian at the start); "
                    f"try --lr {render.number(bound / 2, 3)}."
                )
            return text
        if run.interrupted:
            return (
                f"Interrupted after {run.steps} steps: the variables keep their starting values; "
                "this partial result is stored as _min."
            )
        if run.converged:
            return (
                f"Converged after {run.steps} steps: the gradient norm fell below "
                f"{render.number(run.tol)}."
            )
        if run.tol is not None:
            return f"Not converged: {run.steps} steps ran and the gradient norm is still above {render.number(run.tol)}."
        return f"Finished all {run.steps} steps."

    def settings_text(self) -> str:
        """``adam (lr 0.01, b1 0.9)``: the settings under the optimizer's own names."""
        from gradmagic.optimize import resolve_optimizer

        run = self.run
        spec = resolve_optimizer(run.optimizer)
        step = f"lr {render.number(run.lr)}" if spec.uses_lr else "step lengths by line search"
        parts = [step]
        if run.momentum is not None:
            parts.append(f"{spec.momentum_name or 'momentum'} {render.number(run.momentum)}")
        if run.tol is not None:
            parts.append(f"tol {render.number(run.tol)}")
        return f"{run.optimizer} ({', '.join(parts)})"

    def _sections(self) -> list[Table | str]:
        # A diverged or interrupted run keeps the starting values: say so in the header.
        kept = "final" if self.succeeded else "kept (the start)"
        table = Table(
            title=f"Minimised {self.objective} with {self.settings_text()}",
            header=["", "start", kept],
        )
        for name in self.variables:
            table.rows.append(
                [name, render.array(self.start[name]), render.array(self.values[name])]
            )
        history = self.run.history
        table.rows.append(["objective", render.number(history[0]), render.number(self.run.loss)])
        table.notes.append(
            f"steps: {self.run.steps} of {self.run.requested_steps}; "
            f"gradient norm: {render.number(self.run.grad_norm)}"
        )
        table.notes.append(self.status())
        return [table]

    def __repr__(self) -> str:
        return render.text_sections(self._sections())

    def _repr_html_(self) -> str:
        return render.html_sections(self._sections())


class Comparison:
    """``--compare``: the same problem with several optimizers; ``results`` by name."""

    def __init__(self, objective: str, results: dict[str, MinimizeResult]) -> None:
        self.objective = objective
        self.results = results

    def _sections(self) -> list[Table | str]:
        first = next(iter(self.results.values()))
        table = Table(
            title=f"Compared on {self.objective} from "
            + ", ".join(f"{n} = {render.array(v)}" for n, v in first.start.items()),
            header=["optimizer", "lr", "steps", "final objective", *first.variables, "status"],
        )
        for name, result in self.results.items():
            status = (
                f"diverged at {result.diverged_at}"
                if result.diverged
                else "converged"
                if result.converged
                else "finished"
            )
            table.rows.append(
                [
                    name,
                    render.number(result.lr),
                    str(result.steps),
                    render.number(result.loss),
                    *[render.array(result.values[v]) for v in result.variables],
                    status,
                ]
            )
        table.notes.append("The notebook's variables are unchanged.")
        return [table]

    def __repr__(self) -> str:
        return render.text_sections(self._sections())

    def _repr_html_(self) -> str:
        return render.html_sections(self._sections())

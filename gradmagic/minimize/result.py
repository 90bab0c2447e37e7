"""``_min``: what one ``%minimize`` run found, and a comparison of several.

Small objects over the engine's :class:`~gradmagic.minimize.driver.OptimizationRun`, with
the names a notebook user knows (``values`` by variable name, ``path`` by variable name), a
deterministic HTML/text display, and their plots: a result displays its table and then its
loss curve (and path, with ``show_path``), so the magic just returns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradmagic import render
from gradmagic.minimize import bounds as boxes
from gradmagic.minimize import optimize_result as scipy_shape
from gradmagic.minimize.optimizers import resolve_optimizer
from gradmagic.minimize.step_size import LR_DIGITS, StepSizeAdvice, lr_text
from gradmagic.plots import ShownWithPlot
from gradmagic.render import Table


def magic_line(
    objective: str,
    variables: Sequence[str],
    optimizer: str,
    lr: float,
    steps: int,
    momentum: float | None = None,
    tol: float | None = None,
    start: dict[str, float] | None = None,
    training: str | None = None,
    schedule: str | None = None,
) -> str:
    """The ``%minimize`` line that reproduces a run (shown under the widget panel): no
    ``--lr`` (nor ``--schedule``) for an optimizer that ignores it, ``--start`` when
    ``start`` is given (values written so that they read back exactly), ``training``
    (``--data … --epochs …``) in place of ``--steps``."""
    parts = [f"%minimize {objective} --wrt {','.join(variables)}", f"--optimizer {optimizer}"]
    if resolve_optimizer(optimizer).uses_lr:
        parts.append(f"--lr {lr_text(lr)}")
        if schedule is not None:
            parts.append(f"--schedule {schedule}")
    parts.append(training or f"--steps {steps}")
    if momentum is not None:
        parts.append(f"--momentum {render.number(momentum, LR_DIGITS)}")
    if tol is not None:
        parts.append(f"--tol {render.number(tol, LR_DIGITS)}")
    if start:
        parts.append("--start " + ",".join(f"{n}={float(v)!r}" for n, v in start.items()))
    return " ".join(parts)


def _last(values: Any) -> str:
    return render.number(values[-1]) if values is not None and len(values) else "—"


def _ordinal(n: int) -> str:
    """``3 000th``, ``2nd``, ``21st``, ``12th``."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


class MinimizeResult(scipy_shape.OptimizeFields, ShownWithPlot):
    """One run: ``values``, ``loss``, ``steps``, ``converged``, ``history``, ``path``,
    ``optimizer``, ``lr`` (and ``momentum``, ``tol``, ``grad_norm``, ``diverged_at``,
    ``interrupted``, ``start``, ``lr_history``, ``bounds``), and SciPy's ``OptimizeResult``
    fields ``x``, ``fun``, ``jac``, ``nit``, ``nfev``, ``njev``, ``success``, ``status``,
    ``message`` with ``result["x"]``, ``"fun" in result`` and ``result.keys()``
    (see :mod:`~gradmagic.minimize.optimize_result`)."""

    def __init__(
        self,
        problem: Any,
        start: Sequence[Any],
        run: Any,
        advice: StepSizeAdvice | None = None,
    ) -> None:
        self.problem = problem  # a gradmagic.minimize.problem.Problem, for plots
        self.objective = problem.label
        self.variables = tuple(problem.variables)
        self.start = dict(zip(self.variables, start, strict=True))
        self.run = run
        self.advice = advice  # learning-rate advice from the curvature, for a diverged run
        self.show_path = False  # displayed with the path plot as well (``--plot``)
        self.in_panel = False  # advice names the panel's slider instead of --lr
        self.kept_notebook = False  # the optimum was not written back (--animate)
        self.values = dict(zip(self.variables, run.values, strict=True))
        self.path = dict(zip(self.variables, run.path, strict=True)) if len(run.path) else {}

    loss = property(lambda self: self.run.loss, doc="Final objective.")
    steps = property(lambda self: self.run.steps, doc="Steps run.")
    converged = property(lambda self: self.run.converged, doc="Gradient norm fell below --tol.")
    history = property(
        lambda self: self.run.history,
        doc="Objective at each recorded step (index 0: start; see recorded_steps).",
    )
    optimizer = property(lambda self: self.run.optimizer)
    lr = property(lambda self: self.run.lr)
    momentum = property(lambda self: self.run.momentum)
    tol = property(lambda self: self.run.tol)
    grad_norm = property(lambda self: self.run.grad_norm)
    diverged_at = property(lambda self: self.run.diverged_at)
    interrupted = property(lambda self: self.run.interrupted)
    lr_history = property(lambda self: self.run.lr_history, doc="lr of each step (--schedule).")
    schedule = property(lambda self: self.run.schedule)
    bounds = property(lambda self: self.run.bounds, doc="(lower, upper) per variable, or None.")
    stopped_by_callback = property(lambda self: self.run.stopped_by_callback)
    x = property(lambda self: self.problem.scipy_x(self.run.values))
    fun = property(lambda self: self.run.loss, doc="SciPy's name for the final objective.")
    jac = property(lambda self: self.problem.scipy_x(self.run.jac, written=False))
    nit = property(lambda self: self.run.steps, doc="Steps run.")
    nfev = property(lambda self: self.run.nfev, doc="Objective (and gradient) evaluations.")
    njev = property(lambda self: self.run.nfev, doc="Gradient evaluations (with each value).")
    success = property(lambda self: self.status == scipy_shape.CONVERGED)

    @property
    def recorded_steps(self) -> Any:
        """The step of each ``history``/``path`` entry: every step, or every ``stride``-th
        on a long run (about 10 000 points at most), the first and the last always."""
        import numpy as np

        steps = self.run.recorded_steps
        return np.arange(len(self.run.history)) if steps is None else steps

    epoch_loss = property(
        lambda self: self.run.epoch_loss,
        doc="With --data: the objective on all the data after each recorded epoch.",
    )
    recorded_epochs = property(
        lambda self: self.run.recorded_epochs, doc="The epoch (1, 2, …) of each epoch_loss."
    )
    seed = property(lambda self: self.run.seed, doc="With --data: the shuffles' seed.")

    @property
    def epochs(self) -> int | None:
        """With --data: the epochs completed (passes over the data), else None."""
        batching = self.run.batching
        return None if batching is None else self.run.steps // batching.per_epoch

    @property
    def batch_size(self) -> int | None:
        return None if self.run.batching is None else self.run.batching.size

    def data_note(self) -> str | None:
        """Epochs, batches and the examples the last partial batch leaves out."""
        batching = self.run.batching
        if batching is None:
            return None
        requested = self.run.requested_steps // batching.per_epoch
        each = "full batch" if batching.full else f"batch {batching.size}"
        text = (
            f"epochs: {self.epochs} of {requested} ({each}, {batching.per_epoch} "
            f"{'batch' if batching.per_epoch == 1 else 'batches'} per epoch, "
            f"seed {self.run.seed}); "
        )
        if batching.dropped:
            text += (
                f"the last partial batch leaves out {batching.dropped} of the "
                f"{batching.examples} examples each epoch"
            )
        else:
            text += f"every epoch uses all {batching.examples} examples"
        if self.epoch_loss is not None and len(self.epoch_loss):
            text += (
                f"; objective on all the data after epoch {int(self.recorded_epochs[-1])}: "
                f"{render.number(self.epoch_loss[-1])}"
            )
        return text + "."

    def record_note(self) -> str | None:
        """``recorded every 3 000th step (10 001 points)`` when the record was decimated."""
        steps = self.recorded_steps
        stride = int(steps[1] - steps[0]) if len(steps) > 2 else 1
        if stride <= 1:
            return None
        text = f"recorded every {_ordinal(stride)} step ({len(steps):,} points)"
        return text.replace(",", " ")

    @property
    def status(self) -> scipy_shape.Status:
        """SciPy's code: 0 converged, 1 step limit, 2 diverged, 3 interrupted, 99 callback
        (calling it, as the older ``status()`` method, gives :attr:`message`)."""
        return scipy_shape.Status(scipy_shape.status_code(self.run), self.message)

    def optimize_result(self) -> scipy_shape.OptimizeResult:
        """The SciPy fields as a plain ``OptimizeResult`` (a dict with attribute access)."""
        return scipy_shape.optimize_fields(self.run, self.problem.scipy_x, self.message)

    @property
    def diverged(self) -> bool:
        return self.run.diverged_at is not None

    @property
    def succeeded(self) -> bool:
        """Finished without diverging or being interrupted (values may be written back)."""
        return not self.diverged and not self.interrupted

    @property
    def message(self) -> str:
        """Why the run stopped, in one sentence: converged, finished, diverged (with a
        suggestion), interrupted or stopped by the callback."""
        run = self.run
        if run.nonfinite_gradient is not None:  # not a divergence: no learning-rate advice
            return run.nonfinite_gradient.message(run.diverged_at)
        if run.diverged_at is not None:
            text = (
                f"Diverged at step {run.diverged_at}: the objective or a variable became "
                "non-finite, so the variables keep their starting values."
            )
            if self.advice is not None:
                text += self.advice.divergence_advice(run.lr, slider=self.in_panel)
            return text
        if run.interrupted:
            return (
                f"Interrupted after {run.steps} steps: the variables keep their starting values; "
                "this partial result is stored as _min."
            )
        if run.stopped_by_callback:
            return f"Stopped by the callback (StopIteration) after {run.steps} steps."
        norm = "projected gradient norm" if run.bounds else "gradient norm"
        default = " (L-BFGS's default tol, as SciPy's gtol)" if run.default_tol else ""
        if run.stalled:
            return (
                f"Converged after {run.steps} steps: the objective stopped decreasing (a relative "
                f"decrease below SciPy's ftol, 2.2e-09); the {norm} is {render.number(run.grad_norm)}."
            )
        if run.converged:
            return (
                f"Converged after {run.steps} steps: the {norm} fell below "
                f"{render.number(run.tol)}{default}."
            )
        settled = self.settled_at()
        note = (
            f" The objective stopped changing after step {settled}: converged there"
            + (
                " as far as this precision allows."
                if run.tol is not None
                else " (--tol stops a run once the gradient norm is small)."
            )
            if settled is not None
            else ""
        )
        if run.tol is not None:
            return (
                f"Not converged: all {run.steps} steps ran (the step limit) and the {norm} is "
                f"still above {render.number(run.tol)}{default}.{note}"
            )
        finished = (
            "Finished the only step." if run.steps == 1 else f"Finished all {run.steps} steps."
        )
        return finished + note

    def settled_at(self) -> int | None:
        """For a line-search optimizer (L-BFGS): the step after which the objective never
        changed again, when that was well before the end (else None)."""
        if resolve_optimizer(self.run.optimizer).uses_lr:
            return None
        import numpy as np

        history = np.asarray(self.run.history)
        changed = np.nonzero(history != history[-1])[0]
        settled = int(self.recorded_steps[changed[-1] + 1]) if changed.size else 0
        return settled if settled < self.run.steps - 1 else None

    def settings_text(self) -> str:
        """``adam (lr 0.01, b1 0.9)``: the settings under the optimizer's own names."""
        run = self.run
        spec = resolve_optimizer(run.optimizer)
        step = f"lr {lr_text(run.lr)}" if spec.uses_lr else "step lengths by line search"
        if run.schedule is not None:
            step += f", {run.schedule} schedule"
        parts = [step]
        if run.momentum is not None:
            parts.append(
                f"{spec.momentum_name or 'momentum'} {render.number(run.momentum, LR_DIGITS)}"
            )
        if run.tol is not None and not run.default_tol:  # the message names a default tol
            parts.append(f"tol {render.number(run.tol)}")
        return f"{run.optimizer} ({', '.join(parts)})"

    def _sections(self) -> list[Table | str]:
        # A diverged or interrupted run keeps the starting values: say so in the header.
        kept = "final" if self.succeeded else "kept (the start)"
        table = Table(
            title=f"Minimised {self.objective} with {self.settings_text()}",
            header=["", "start", kept],
        )
        # A model's leaves are summarised (shape, norm, range), never listed number by number
        shown = render.summary if getattr(self.problem, "leaves", ()) else render.value
        for name in self.variables:
            table.rows.append([name, shown(self.start[name]), shown(self.values[name])])
        history = self.run.history
        batching = self.run.batching
        label = "objective (minibatch)" if batching and not batching.full else "objective"
        table.rows.append([label, render.number(history[0]), render.number(self.run.loss)])
        settled = self.settled_at()
        stopped = (
            "" if settled is None else f" (the objective stopped changing after step {settled})"
        )
        table.notes.append(
            f"steps: {self.run.steps} of {self.run.requested_steps}{stopped}; "
            f"gradient norm: {render.number(self.run.grad_norm)}"
        )
        if batching:
            table.notes.append(self.data_note())
        record = self.record_note()
        if record:
            table.notes.append(f"History and path {record}.")
        if self.run.bounds:
            box = boxes.describe(self.variables, self.run.bounds)
            table.notes.append(f"Every step projected onto bounds: {box}.")
        table.notes.append(self.message)
        if self.kept_notebook:
            table.notes.append(
                "The notebook's variables are unchanged (--animate shows the run; "
                "run without it to write the optimum back)."
            )
        return [table]

    def plot(self, path: bool | None = None) -> Any:
        """The loss curve, and with ``path`` (default: ``show_path``) the path over the
        objective's curve or contours, as a :class:`~gradmagic.plots.Plot`."""
        from gradmagic.minimize.plot import minimization_plot

        return minimization_plot(self.problem, [self], self.show_path if path is None else path)

    def displayed_plot(self) -> Any:
        return self.plot()


class Comparison(ShownWithPlot):
    """``--compare``: the same problem with several optimizers; ``results`` by name."""

    def __init__(self, problem: Any, results: dict[str, MinimizeResult]) -> None:
        self.problem = problem
        self.objective = problem.label
        self.results = results

    def plot(self) -> Any:
        """Every optimizer's loss curve and path, overlaid."""
        from gradmagic.minimize.plot import minimization_plot

        return minimization_plot(self.problem, list(self.results.values()), True)

    def _sections(self) -> list[Table | str]:
        first = next(iter(self.results.values()))
        data = first.run.batching is not None
        numbers = sum(int(np.size(v)) for v in first.start.values())
        listed = numbers <= 6  # a model's values are not columns: its loss tells the story
        start = (
            ", ".join(f"{n} = {render.array(v)}" for n, v in first.start.items())
            if listed
            else f"the notebook's values of {', '.join(self.problem.names)} ({numbers} numbers)"
        )
        table = Table(
            title=f"Compared on {self.objective} from {start}",
            header=[
                "optimizer", "lr", "steps", "final objective",
                *(["epoch loss (all data)"] if data else []),
                *(first.variables if listed else []), "status",
            ],
        )  # fmt: skip
        for name, result in self.results.items():
            status = (
                f"NaN gradient, stopped at {result.diverged_at}"
                if result.run.nonfinite_gradient is not None
                else f"diverged at {result.diverged_at}"
                if result.diverged
                else "converged"
                if result.converged
                else "finished"
            )
            table.rows.append(
                [
                    name,
                    lr_text(result.lr),
                    str(result.steps),
                    render.number(result.loss),
                    *([_last(result.epoch_loss)] if data else []),
                    *[render.array(result.values[v]) for v in result.variables if listed],
                    status,
                ]
            )
        if data:
            table.notes.append(first.data_note().split(";")[0].replace("epochs: ", "epochs ", 1))
            if not first.run.batching.full:
                table.notes.append("Every optimizer saw the same minibatches (the same seed).")
        table.notes.append("The notebook's variables are unchanged.")
        return [table]

    def displayed_plot(self) -> Any:
        return self.plot()

"""What ``%minimize`` minimises: an objective built from notebook code, without IPython.

A :class:`Problem` is a cell program (see :mod:`gradmagic.cell_program`), the output that is the
objective, the variables to optimise (names, or the floating leaves of pytrees) and their
starting values; :mod:`gradmagic.minimize.problem_builder` builds one from a magic line.

Other floating values the objective reads (directly, or as globals of a function it
calls) are passed to the compiled loop as arguments, never baked in, so changing them
in the notebook and re-running reuses the compiled program.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from gradmagic.errors import GradmagicError
from gradmagic.pytrees import Leaf

if TYPE_CHECKING:
    from gradmagic.minimize.grid_values import PointObjective


@dataclass
class Problem:
    """An objective, its variables and where they start."""

    program: Any  # gradmagic.cell_program.CellProgram
    output: str
    label: str  # the objective as the user wrote it
    variables: tuple[str, ...]  # one per optimised array: a name, or a leaf path params['w']
    start: tuple[Any, ...]
    dynamic: tuple[str, ...]  # other floating names read: passed as arguments
    cache_key: tuple
    notebook_start: tuple[Any, ...] | None = None  # the notebook's values, when ``start`` differs
    leaves: tuple[Leaf | None, ...] = ()  # per variable: its pytree leaf (None: the whole name)
    data: tuple[str, ...] = ()  # --data: the loop gives the objective minibatches of these
    saved_as: Any = None  # what identifies it across kernels (see minimize.saved_programs)

    @property
    def names(self) -> tuple[str, ...]:
        """The notebook names being optimised (a pytree is one name, many variables)."""
        if not self.leaves:
            return self.variables
        return tuple(
            dict.fromkeys(
                v if leaf is None else leaf.name
                for v, leaf in zip(self.variables, self.leaves, strict=True)
            )
        )

    def by_name(self, values: Sequence[Any], written: bool = False) -> dict[str, Any]:
        """Per-variable ``values`` regrouped per notebook name: a pytree's leaves back in its
        structure (``written``: with each leaf's own type, as written back to the notebook;
        otherwise other leaves are None, as ``jax.grad`` gives them)."""
        from gradmagic.pytrees import regrouped

        leaves = self.leaves or (None,) * len(self.variables)
        items = [
            (variable if leaf is None else leaf.name, leaf, value)
            for variable, leaf, value in zip(self.variables, leaves, values, strict=True)
        ]
        return regrouped(items, self.program.frozen, written)

    def scipy_x(self, values: Sequence[Any], written: bool = True) -> Any:
        """SciPy's ``x`` (or ``jac``, not ``written``): the one variable's value (a pytree
        stays one), else a dict by name."""
        named = self.by_name(values, written=written)
        return next(iter(named.values())) if len(named) == 1 else named

    def starting_at(self, values: Mapping[str, float]) -> Problem:
        """The same problem from other starting values (``--start x=4,y=0.5``); variables
        not named keep the notebook's values."""
        import numpy as np

        for name in values:
            if name not in self.variables:
                raise GradmagicError(
                    f"--start {name}=…: {name} is not a variable being optimised "
                    f"(--wrt {','.join(self.variables)}); start only those."
                )
        start = []
        for name, value in zip(self.variables, self.start, strict=True):
            if name not in values:
                start.append(value)
            elif np.shape(value) != ():
                raise GradmagicError(
                    f"--start {name}=…: {name} has shape {np.shape(value)}; --start sets "
                    "scalar variables only (assign the array in the notebook instead)."
                )
            elif isinstance(value, float):
                start.append(float(values[name]))
            else:
                start.append(np.asarray(values[name], dtype=np.asarray(value).dtype))
        return replace(self, start=tuple(start), notebook_start=self.start)

    @property
    def moved_start(self) -> dict[str, float]:
        """The ``--start`` values that reproduce ``start`` from the notebook (only those
        that differ), or ``{}``."""
        return start_difference(self, self.start)

    def objective(self, params: tuple, aux: dict[str, Any]) -> Any:
        """The objective as ``f(params, aux)``, the form the optimisation engine takes."""
        from gradmagic.pytrees import with_leaves

        overrides = dict(aux)
        if not self.leaves:
            overrides.update(zip(self.variables, params, strict=True))
        else:
            replaced: dict[str, dict[int, Any]] = {}
            for variable, leaf, value in zip(self.variables, self.leaves, params, strict=True):
                if leaf is None:
                    overrides[variable] = value
                else:
                    replaced.setdefault(leaf.name, {})[leaf.index] = value
            for name, replacements in replaced.items():
                overrides[name] = with_leaves(self.program.frozen[name], replacements)
        return self.program.run(overrides, None, [self.output])[self.output]

    def pointwise(self) -> PointObjective:
        """The objective as ``f(*values)`` of the variables at the notebook's other values,
        for plots (its ``on_grid`` evaluates a whole grid in one compiled call)."""
        from gradmagic.minimize.grid_values import PointObjective

        return PointObjective(self, self.aux())

    def aux(self) -> dict[str, Any]:
        """The values passed to compiled programs as arguments: the other floating names
        read, and the data (all of it; the loop takes minibatches of it)."""
        from gradmagic.cell_program import as_array

        values = {name: as_array(self.program.frozen[name]) for name in self.dynamic}
        values.update((name, self.program.frozen[name]) for name in self.data)
        return values

    def run(
        self,
        *,
        optimizer: str = "sgd",
        lr: float = 0.01,
        steps: int = 1000,
        momentum: float | None = None,
        tol: float | None = None,
        start: Sequence[Any] | None = None,
        on_progress: Callable[[int, float], None] | None = None,
        **engine: Any,
    ) -> Any:
        """One optimisation run from ``start`` (default: the notebook's values); ``engine``
        passes ``bounds``, ``schedule``, ``callback`` and, with data, ``batch``, ``epochs``
        and ``seed`` on to the driver's ``minimize``."""
        from gradmagic.minimize.driver import minimize

        aux = self.aux()
        if self.data:
            engine["data"] = {name: aux.pop(name) for name in self.data}
        return minimize(
            self.objective,
            tuple(start) if start is not None else self.start,
            aux=aux,
            optimizer=optimizer,
            lr=lr,
            steps=steps,
            momentum=momentum,
            tol=tol,
            cache_key=self.cache_key,
            saved_as=self.saved_as,
            on_progress=on_progress,
            names=self.variables,
            **engine,
        )

    def solve(
        self,
        *,
        start: Sequence[Any] | None = None,
        curvature: Any = None,
        **settings: Any,
    ) -> Any:
        """One run (``settings`` as :meth:`run` takes them) as a
        :class:`~gradmagic.minimize.result.MinimizeResult`; a diverged run gets step-size
        advice from ``curvature`` (a :class:`Curvature` the caller already has, as the panel
        does) or else the curvature at its start (compiled once per problem, like the loop)."""
        from gradmagic.minimize.optimizers import resolve_optimizer
        from gradmagic.minimize.result import MinimizeResult
        from gradmagic.minimize.step_size import StepSizeAdvice

        begin = tuple(start) if start is not None else self.start
        run = self.run(start=begin, **settings)
        advice = None
        # A NaN gradient is not a divergence: no curvature, no learning-rate advice.
        wanted = run.diverged_at is not None and run.nonfinite_gradient is None
        if wanted and curvature is None:  # (imported here: most runs never need it)
            from gradmagic.minimize.curvature import curvature_at

            curvature = curvature_at(self.objective, begin, self.aux(), cache_key=self.cache_key)
        if wanted:
            advice = StepSizeAdvice.for_optimizer(
                curvature, resolve_optimizer(run.optimizer), run.momentum
            )
        return MinimizeResult(self, begin, run, advice)


def start_difference(problem: Problem, start: Sequence[Any]) -> dict[str, float]:
    """The scalar variables whose value in ``start`` differs from the notebook's, by name."""
    import numpy as np

    notebook = problem.notebook_start if problem.notebook_start is not None else problem.start
    return {
        name: float(value)
        for name, value, there in zip(problem.variables, start, notebook, strict=True)
        if np.shape(value) == () and float(value) != float(there)
    }

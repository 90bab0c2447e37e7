"""The ``Tape``: what ``%%tape`` recorded, reusable any number of times.

A tape keeps the cell program (code, namespace, the inputs' values before the cell ran)
and the derivatives computed when it was recorded.  Asking for something it already has
(``tape.gradient('y', 'x')``) reads the stored Jacobian; anything else (another source, an
intermediate, another point with :meth:`Tape.at`) re-traces the recorded cell silently,
never re-running it in the notebook.  It renders itself as HTML and as aligned text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from gradmagic import render
from gradmagic.cell_program import CellProgram, Source, as_array, cell_function
from gradmagic.derivatives import Derivatives, differentiate, higher_orders
from gradmagic.errors import GradmagicError
from gradmagic.finite_differences import FiniteDifference, finite_differences
from gradmagic.plots import ShownWithPlot
from gradmagic.pytrees import leaf_value, same_structure
from gradmagic.settings import settings
from gradmagic.sources import regroup, requested_sources
from gradmagic.tape_derivatives import TapeOptions, compute_derivatives
from gradmagic.values import is_floating


class Tape(ShownWithPlot):
    """Derivatives of a cell's targets with respect to its inputs; see ``%%tape?``."""

    def __init__(
        self,
        program: CellProgram,
        derivatives: Derivatives,
        options: TapeOptions,
        concrete: dict[str, Any] | None = None,
        checks: list[FiniteDifference] | None = None,
    ) -> None:
        self._program = program
        self._derivatives = derivatives
        self._options = options
        # The objects the real run left in the namespace, for identity look-ups.
        self._concrete = concrete or {}
        self._checks = checks
        self._plot: Any = None  # drawn on first use

    # ------------------------------------------------------------------ what was recorded
    # Read-only views for renderers and plots (tape_view, plots): they never reach inside.
    @property
    def program(self) -> CellProgram:
        """The recorded cell: its code, namespace and the inputs' values before it ran."""
        return self._program

    @property
    def derivatives(self) -> Derivatives:
        """Everything computed when the tape was recorded (values, Jacobians, Hessians…)."""
        return self._derivatives

    @property
    def options(self) -> TapeOptions:
        """The ``%%tape`` options it was recorded with."""
        return self._options

    @property
    def checks(self) -> list[FiniteDifference] | None:
        """The finite-difference check, when ``--check`` ran it (see :meth:`check`)."""
        return self._checks

    @property
    def inputs(self) -> tuple[str, ...]:
        """The sources, in column order (names read by the cell, or assigned ones)."""
        return tuple(source.label for source in self._derivatives.sources)

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets, in row order; the last expression is labelled by its source text."""
        return tuple(self._program.label(name) for name in self._derivatives.targets)

    @property
    def values(self) -> dict[str, Any]:
        """Every input's value at the recorded point and every target's value."""
        result: dict[str, Any] = {}
        for source, value in zip(
            self._derivatives.sources, self._derivatives.source_values, strict=True
        ):
            if source.intermediate:
                result[source.name] = self._concrete.get(source.name, value)
            else:
                result[source.label] = self._program.source_value(source)
        for name in self._derivatives.targets:
            label = self._program.label(name)
            result[label] = self._concrete.get(name, self._derivatives.values[name])
        return result

    @property
    def function(self) -> Callable[..., Any]:
        """A pure function of the inputs read from the notebook, one argument per name in
        ``inputs`` order (a pytree input is one argument, shaped like the notebook's).

        Returns the target's value (a tuple when there are several targets); usable with
        ``jax.jit``, ``jax.vmap`` and ``jax.grad``.  Intermediate sources are not
        arguments: they are computed from the inputs.
        """
        external = [s for s in self._derivatives.sources if not s.intermediate]
        names = list(dict.fromkeys(s.name for s in external))
        function = cell_function(self._program, external, self._derivatives.targets)
        single = len(self._derivatives.targets) == 1

        def tape_function(*inputs: Any) -> Any:
            given = dict(zip(names, inputs, strict=True))
            values = [
                given[s.name] if s.leaf is None else leaf_value(given[s.name], s.leaf.index)
                for s in external
            ]
            outputs = function(*values)
            return outputs[0] if single else outputs

        tape_function.__doc__ = (
            f"Targets {', '.join(self.targets)} as a function of {', '.join(names)}."
        )
        return tape_function

    # ------------------------------------------------------------------ resolving arguments
    def target_name(self, target: Any) -> str:
        """The internal output name of a target given by label, name or value."""
        names = list(self._derivatives.targets) + list(self._program.analysis.assigns)
        if isinstance(target, str):
            for name in names:
                if target in (name, self._program.label(name)):
                    return name
            raise GradmagicError(
                f"{target!r} is not a target of this tape. Targets: {', '.join(self.targets)}."
            )
        for name in names:
            if (
                self._concrete.get(name, None) is target
                or self._derivatives.values.get(name) is target
            ):
                return name
        raise GradmagicError(
            "That value is not one the cell produced; pass a target's name instead "
            f"(targets: {', '.join(self.targets)})."
        )

    def _source(self, source: Any) -> Source:
        """The one source ``source`` (a label, a name or a value) stands for."""
        found, tree = self._sources_for(source)
        if tree is not None:
            raise GradmagicError(
                f"{source!r} holds a pytree; name one of its leaves instead "
                f"(e.g. {found[0].label!r}) or use gradient()/jacobian(), which take the pytree."
            )
        return found[0]

    def _sources_for(self, source: Any) -> tuple[list[Source], Any]:
        return requested_sources(
            source, self._derivatives.sources, self._program, self._concrete, self.inputs
        )

    def _blocks(self, target: str, sources: Sequence[Source]) -> list[Any]:
        """Jacobian blocks of one target for ``sources`` (None where not connected and
        ``unconnected='none'``), from the stored result when possible."""
        stored = self._derivatives
        if target in stored.targets and all(s in stored.sources for s in sources):
            derivatives = stored
        else:
            derivatives = differentiate(self._program, sources, [target])
        blocks = []
        for source in sources:
            j = derivatives.sources.index(source)
            connected = derivatives.connected[target][j]
            if not connected and self._options.unconnected == "none":
                blocks.append(None)
            else:
                blocks.append(derivatives.jacobians[target][j])
        return blocks

    @staticmethod
    def _shaped(sources: Any, results: list[Any]) -> Any:
        if isinstance(sources, list):
            return results
        if isinstance(sources, tuple):
            return tuple(results)
        return results[0]

    def _default_request(self) -> tuple[str, ...]:
        """Every input by name (a pytree once, by its name), in column order."""
        return tuple(
            dict.fromkeys(s.name if s.leaf else s.label for s in self._derivatives.sources)
        )

    def _source_list(self, sources: Any) -> list[Any]:
        if sources is None:
            return list(self._default_request())
        return list(sources) if isinstance(sources, list | tuple) else [sources]

    # ------------------------------------------------------------------ derivatives on demand
    def gradient(self, target: Any, sources: Any = None) -> Any:
        """d(target)/d(sources), shaped like ``sources`` (a name/value, list or tuple; a
        pytree input gives a pytree of the same structure).

        A list of targets gives the gradient of their sum (TensorFlow's rule); so does a
        non-scalar target.  Unconnected entries are zeros, or ``None`` with
        ``--unconnected none``.
        """
        targets = target if isinstance(target, list | tuple) else [target]
        requested = self._source_list(sources)
        groups = [self._sources_for(s) for s in requested]
        resolved = [source for found, _ in groups for source in found]
        total: list[Any] = [None] * len(resolved)
        for each in targets:
            name = self.target_name(each)
            value_shape = jnp.shape(self._value(name))
            for i, block in enumerate(self._blocks(name, resolved)):
                if block is None:
                    continue
                summed = (
                    jnp.sum(block, axis=tuple(range(len(value_shape)))) if value_shape else block
                )
                total[i] = summed if total[i] is None else total[i] + summed
        if self._options.unconnected == "zero":
            total = [
                jnp.zeros_like(self._source_value(s)) if t is None else t
                for s, t in zip(resolved, total, strict=True)
            ]
        return self._shaped(
            sources if sources is not None else self._default_request(), regroup(groups, total)
        )

    def jacobian(self, target: Any, sources: Any = None) -> Any:
        """Blocks of shape ``target.shape + source.shape``, shaped like ``sources``."""
        name = self.target_name(target)
        requested = self._source_list(sources)
        groups = [self._sources_for(s) for s in requested]
        blocks = self._blocks(name, [source for found, _ in groups for source in found])
        return self._shaped(
            sources if sources is not None else self._default_request(), regroup(groups, blocks)
        )

    def hessian(self, target: Any, sources: Any = None) -> Any:
        """Second derivatives of a scalar target: a matrix for one source, nested blocks
        (``H[i][j]``, as ``jax.hessian``) for a list or tuple of them."""
        name = self.target_name(target)
        self._require_scalar(name, "hessian")
        requested = self._source_list(sources)
        resolved = [self._source(s) for s in requested]
        primals = [self._source_value(s) for s in resolved]
        size = sum(int(jnp.size(p)) for p in primals)
        if size > settings.hessian_limit:
            from gradmagic.tape_spectrum import refuse_matrix

            raise refuse_matrix(size)
        function = cell_function(self._program, resolved, [name])
        blocks = jax.hessian(lambda *p: function(*p)[0], argnums=tuple(range(len(primals))))(
            *primals
        )
        if sources is not None and not isinstance(sources, list | tuple):
            return blocks[0][0]
        shaped = [list(row) for row in blocks]
        return shaped if isinstance(sources, list) else tuple(tuple(row) for row in shaped)

    def spectrum(self, target: Any, sources: Any = None) -> Any:
        """λmin, λmax and the 5 largest eigenvalues of a scalar target's Hessian, from
        Hessian-vector products (a :class:`~gradmagic.spectrum.Spectrum`), at any size."""
        from gradmagic.tape_spectrum import target_spectrum

        name = self.target_name(target)
        if sources is None and name in self._derivatives.spectra:
            return self._derivatives.spectra[name]
        self._require_scalar(name, "spectrum")
        requested = self._source_list(sources)
        resolved = [s for item in requested for s in self._sources_for(item)[0]]
        primals = [self._source_value(s) for s in resolved]
        return target_spectrum(self._program, resolved, primals, name)

    def derivative(self, target: Any, source: Any, order: int = 1) -> jax.Array:
        """The ``order``-th derivative of a scalar target with respect to a scalar source."""
        if not isinstance(order, int) or order < 1:
            raise GradmagicError(f"order must be a whole number ≥ 1, got {order!r}.")
        name = self.target_name(target)
        self._require_scalar(name, "derivative")
        resolved = self._source(source)
        primal = self._source_value(resolved)
        if jnp.shape(primal) != ():
            raise GradmagicError(
                f"derivative() needs a scalar source; {resolved.label} has shape {jnp.shape(primal)}. "
                "Use jacobian() or hessian() for arrays."
            )
        function = cell_function(self._program, [resolved], [name])
        return higher_orders(function, (primal,), 0, 0, order)[order - 1]

    def at(self, **values: Any) -> Tape:
        """The same recorded computation at other input values (the cell is not re-run)."""
        external = {s.name for s in self._derivatives.sources if not s.intermediate}
        trees = {s.name for s in self._derivatives.sources if s.leaf is not None}
        for name, value in values.items():
            if name not in external:
                raise GradmagicError(
                    f"at() takes the tape's inputs read from the notebook ({', '.join(sorted(external))}); "
                    f"{name!r} is not one."
                )
            if name in trees:
                if not same_structure(self._program.frozen[name], value):
                    raise GradmagicError(
                        f"at({name}=…) needs a pytree of the same structure as {name} "
                        "(same keys, same leaf types)."
                    )
            elif not is_floating(value) and not isinstance(value, int):
                raise GradmagicError(
                    f"at({name}=…) needs a floating value, got {type(value).__name__}."
                )
        frozen = dict(self._program.frozen)
        frozen.update(
            {name: value if name in trees else as_array(value) for name, value in values.items()}
        )
        program = CellProgram(
            self._program.analysis, self._program.namespace, frozen, self._program.fallback
        )
        derivatives = compute_derivatives(
            program, self._derivatives.sources, self._derivatives.targets, self._options
        )
        checks = finite_differences(program, derivatives) if self._options.check else None
        return Tape(program, derivatives, self._options, checks=checks)

    def check(self) -> list[FiniteDifference]:
        """Autodiff beside central finite differences for every scalar target."""
        if self._checks is None:
            self._checks = finite_differences(self._program, self._derivatives)
        return self._checks

    # ------------------------------------------------------------------ helpers
    def _value(self, name: str) -> Any:
        if name in self._derivatives.values:
            return self._derivatives.values[name]
        return self._program.run(outputs=[name])[name]

    def _source_value(self, source: Source) -> jax.Array:
        if source in self._derivatives.sources:
            return self._derivatives.source_values[self._derivatives.sources.index(source)]
        if source.intermediate:
            return jnp.zeros_like(as_array(self._program.run(outputs=[source.name])[source.name]))
        return as_array(self._program.source_value(source))

    def _require_scalar(self, name: str, what: str) -> None:
        shape = jnp.shape(self._value(name))
        if shape != ():
            raise GradmagicError(
                f"{what}() needs a scalar target; {self._program.label(name)} has shape {shape}. "
                "Reduce it first (e.g. jnp.sum) or use jacobian()."
            )

    # ------------------------------------------------------------------ display
    def plot(self) -> Any:
        """The target around the recorded point (one scalar input, with its tangent) or its
        contours with the gradient (two), as a :class:`~gradmagic.plots.Plot`."""
        from gradmagic.plots import tape_plot

        if self._plot is None:
            self._plot = tape_plot(self)
        return self._plot

    def _sections(self) -> list[render.Table | str]:
        from gradmagic.tape_view import tape_sections

        return tape_sections(self)

    def displayed_plot(self) -> Any:
        """The plot shown under the tables: only when recorded with ``--plot``."""
        return self.plot() if self._options.plot else None


__all__ = ["Tape", "TapeOptions", "compute_derivatives"]  # the last two live in tape_derivatives

"""The IPython boundary: parse magic lines, call the engine, display the results.

This is the only module that imports IPython.  Options are declared once with
``magic_arguments`` so ``%tape?`` shows them; :class:`GradmagicError` from anywhere below
becomes a one-line ``UsageError``.  JAX is imported inside the magics, on first use.
"""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Callable
from types import CodeType
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import magic_arguments, parse_argstring
from traitlets import Bool, Int, TraitError, observe, validate

from gradmagic import options as line_options
from gradmagic import settings as session
from gradmagic.errors import GradmagicError
from gradmagic.magics.declarations import (
    minimize_arguments,
    stored_as,
    tape_arguments,
    wrt_inputs,
)
from gradmagic.program_cache import ProgramCache

_PARSED_LINES = ProgramCache(size=256)  # (expression, wrt, at) per (magic, line text)

MAGIC_NAMES = {"line": ("grad", "hessian", "minimize", "gradmagic"), "cell": ("tape", "minimize")}


def _usage_errors(magic: str) -> Callable:
    """Turn GradmagicError into UsageError: one line, no traceback, namespace untouched."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            try:
                return method(self, *args, **kwargs)
            except GradmagicError as error:
                raise UsageError(str(error)) from None

        return wrapper

    return decorate


def _parse(method: Callable, text: str, magic: str) -> argparse.Namespace:
    try:
        return parse_argstring(method, line_options.without_bracketed_spaces(text))
    except UsageError as error:
        known = list(dict.fromkeys(re.findall(r"--[\w-]+", method.parser.format_usage())))
        raise GradmagicError(
            line_options.explain_argument_error(str(error), known, magic)
        ) from None


@magics_class
class GradMagics(Magics):
    """``%%tape``, ``%grad``, ``%hessian``, ``%minimize`` and ``%gradmagic``.

    Settings are configurable traits: ``%config GradMagics.precision = 4``.
    """

    precision = Int(6, help="Significant digits shown in tables and summaries.").tag(config=True)
    x64 = Bool(False, help="float64 throughout (JAX's jax_enable_x64).").tag(config=True)
    jit = Bool(False, help="Compile every %%tape, as if --jit were given.").tag(config=True)
    hessian_limit = Int(
        2000,
        help="Hessians of more numbers are not formed; their extreme eigenvalues come from "
        "Hessian-vector products.",
    ).tag(config=True)

    @validate("precision")
    def _valid_precision(self, proposal: Any) -> int:
        low, high = session.PRECISION_RANGE
        if not low <= proposal["value"] <= high:
            raise TraitError(f"precision must be from {low} to {high}, got {proposal['value']}.")
        return proposal["value"]

    @validate("hessian_limit")
    def _valid_hessian_limit(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError(
                f"hessian_limit must be a positive whole number, got {proposal['value']}."
            )
        return proposal["value"]

    @observe("precision", "x64", "jit", "hessian_limit")
    def _setting_changed(self, change: Any) -> None:
        session.apply(change["name"], change["new"])

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        # The traits (defaults, or values from configuration) are the session's settings.
        for name in session.NAMES:
            if getattr(self, name) != getattr(session.settings, name):
                session.apply(name, getattr(self, name))

    def _execute(self, code: CodeType) -> None:
        """Run code for real in the notebook namespace (plain cell semantics)."""
        __tracebackhide__ = True
        exec(code, self.shell.user_ns)

    @functools.lru_cache(maxsize=128)  # noqa: B019 - one instance per shell, few cells
    def _transformed(self, cell: str) -> str:
        """The cell with IPython syntax (%magics, !shell) turned into Python."""
        return self.shell.transform_cell(cell)

    def _filename(self, source: str) -> str:
        """A cell filename IPython knows (its tracebacks show the lines)."""
        number = getattr(self.shell, "execution_count", 0)
        return self.shell.compile.cache(source, number)

    # ------------------------------------------------------------------ %%tape
    @magic_arguments()
    @tape_arguments
    @stored_as("the Tape", "_tape")
    @cell_magic
    @_usage_errors("tape")
    def tape(self, line: str, cell: str) -> Any:
        """Run the cell and show the derivatives of what it computes.

        Example::

            %%tape --hessian
            y = a*x**2 + b*x + c

        The cell runs once, as a plain cell would; the result is a Tape stored as
        ``_tape`` with ``gradient``, ``jacobian``, ``hessian``, ``derivative``, ``at``,
        ``function`` and ``check``.

        ``--at x=5`` records the cell at x = 5 (as ``_tape.at(x=5)`` would): the cell runs
        for real with that value and keeps what it assigns, but ``x`` itself is not changed
        (nor created when the notebook has none) unless the cell assigns it.
        """
        __tracebackhide__ = True
        from gradmagic.tape_cell import record_tape
        from gradmagic.tape_derivatives import TapeOptions

        args = _parse(self.tape, line, "tape")
        name = line_options.variable_name(args.name, "--name")
        options = TapeOptions(
            hessian=args.hessian,
            order=args.order,
            check=args.check,
            jit=args.jit or self.jit,
            show_tape=args.show_tape,
            unconnected=args.unconnected,
            plot=args.plot,
        )
        wrt = line_options.names(args.wrt, "--wrt")
        of = line_options.names(args.of, "--of")
        at = line_options.point_values(args.at)
        source = self._transformed(cell)
        filename = self._filename(source)
        namespace = self.shell.user_ns
        result = record_tape(source, filename, namespace, wrt, of, options, self._execute, at)
        if args.plot:
            result.plot()  # drawn now, so what it cannot plot is a usage error, not a display one
        self.shell.user_ns["_tape"] = result
        if name:
            self.shell.user_ns[name] = result
        return None if args.quiet else result

    # ------------------------------------------------------------------ %grad / %hessian
    @magic_arguments()
    @wrt_inputs("every floating name read and the --at names; the result is then a dict")
    @line_magic
    @_usage_errors("grad")
    def grad(self, line: str) -> Any:
        """The gradient of an expression: ``%grad a*x**2 + b*x + c --wrt x``.

        Names the notebook lacks are looked up in jax.numpy (``exp``, ``log``, ``sum``…).
        One --wrt name returns its derivative, several a tuple, none a dict by name.
        ``--at x=5`` evaluates at x = 5 without assigning x: ``%grad 3*x + x**2 --at x=5``.
        """
        from gradmagic.expressions import gradient_of_expression

        expression, wrt, at = self._expression_wrt_at(self.grad, line, "grad")
        return gradient_of_expression(expression, self.shell.user_ns, wrt, at)

    @magic_arguments()
    @wrt_inputs("every floating name read and the --at names")
    @line_magic
    @_usage_errors("hessian")
    def hessian(self, line: str) -> Any:
        """The Hessian of a scalar expression: ``%hessian (x1 + 5) * x2**2 --wrt x1,x2``.

        Several scalar inputs give one matrix; several inputs with arrays a tuple of blocks.
        ``--at x1=2,x2=3`` evaluates there without assigning anything.
        """
        from gradmagic.expressions import hessian_of_expression

        expression, wrt, at = self._expression_wrt_at(self.hessian, line, "hessian")
        return hessian_of_expression(expression, self.shell.user_ns, wrt, at)

    @staticmethod
    def _expression_wrt_at(method: Callable, line: str, magic: str) -> tuple[str, tuple, dict]:
        # Parsed once per line text: re-running a one-liner must cost little more than
        # the compiled call, and argparse alone is ~0.2 ms.  Errors are never cached.
        def parse() -> tuple[str, tuple, dict]:
            expression, option_text = line_options.split_expression(line)
            args = _parse(method, option_text, magic)
            wrt = tuple(line_options.names(args.wrt, "--wrt"))
            return expression, wrt, line_options.point_values(args.at)

        parsed = _PARSED_LINES.get_or_build((magic, line), parse)
        expression, wrt, at = parsed
        return expression, wrt, dict(at)  # --at values become new arrays on each run

    # ------------------------------------------------------------------ %gradmagic
    @line_magic
    @_usage_errors("gradmagic")
    def gradmagic(self, line: str) -> Any:
        """Show versions, backend and settings; ``%gradmagic precision=4`` (or x64=on,
        jit=on, hessian_limit=5000) changes a setting for the session, as ``%config GradMagics.precision = 4``."""
        assignments = [session.parse_assignment(text) for text in line.split()]
        for key, value in assignments:  # all parsed first: one bad word changes nothing
            setattr(self, key, value)
        if assignments:
            return None
        from gradmagic.environment import EnvironmentReport

        return EnvironmentReport()

    # ------------------------------------------------------------------ %minimize
    @magic_arguments()
    @minimize_arguments
    @stored_as("the result", "_min")
    @line_cell_magic
    @_usage_errors("minimize")
    def minimize(self, line: str, cell: str | None = None) -> Any:
        """Minimise an objective with an optax optimizer, in one compiled loop.

        Example::

            %minimize a*x**2 + b*x + c --wrt x --lr 0.01 --steps 1000

        The objective is an expression, a zero-argument function reading globals (``f``), a
        call (``f(x)``), a target of the last %%tape, or (cell form) the cell's last
        expression.  The optimum is written back to the notebook; the result is ``_min``.
        """
        __tracebackhide__ = True
        from gradmagic.at_point import evaluated_at

        if cell is None:
            objective, option_text = line_options.split_expression(line)
        else:
            objective, option_text = "", line
        args = _parse(self.minimize, option_text, "minimize")
        start = line_options.start_values(args.start)
        namespace = self.shell.user_ns
        # A --start name the notebook lacks exists during the run; the write-back of the
        # optimum creates it (a run that writes nothing back leaves no trace of it).
        new = {name: value for name, value in start.items() if name not in namespace}
        with evaluated_at(namespace, new, "--start"):
            return self._minimize(args, objective, cell, start)

    def _minimize(self, args: Any, objective: str, cell: str | None, start: dict) -> Any:
        __tracebackhide__ = True
        from gradmagic.minimize import problem_builder as problems
        from gradmagic.minimize import runs
        from gradmagic.minimize.lab_line import check_lab_options

        wrt = line_options.names(args.wrt, "--wrt")
        name = line_options.variable_name(args.name, "--name")
        animating = args.animate or args.save is not None
        save = None
        if animating:  # the animation module is imported only when asked for
            from gradmagic.minimize import animation

            save = animation.save_target(args.save)  # checked before anything runs
        check_lab_options(args)
        namespace = self.shell.user_ns
        source = None if cell is None else self._transformed(cell)
        data, training = line_options.training(args)
        problem = problems.problem_from_magic(
            objective, source, source and self._filename(source), namespace, wrt, args.of, data
        )
        if start:
            problem = problem.starting_at(start)
        steps = 1000 if args.steps is None else args.steps
        settings = {"lr": args.lr, "steps": steps, "momentum": args.momentum, "tol": args.tol}
        scipy_like = line_options.scipy_like(args, problem.names, namespace)
        if args.static and not args.widgets:
            raise GradmagicError(
                "--static is a kind of --widgets panel (one that needs no kernel): add "
                "--widgets, e.g. %minimize f(x, y) --wrt x,y --widgets --static."
            )
        if args.widgets:
            refused = {
                **scipy_like,
                "animate": args.animate,
                "save": args.save,
                "tune": args.tune,
                "starts": args.starts,
            }
            if args.static:
                refused.update(compare=args.compare, data=data)
            else:
                refused.pop("schedule")  # the live panel's slider sets the schedule's peak
            line_options.refuse("--widgets --static" if args.static else "--widgets", refused)
            if args.static:
                from gradmagic.lab.static_panel import StaticPanel

                return StaticPanel(problem, optimizer=args.optimizer, **settings)
            from gradmagic.lab.panel import OptimizerPanel
            from gradmagic.minimize.schedules import SCHEDULES, schedule_index

            kind = schedule_index(args.schedule)  # checked here, not in the panel's messages

            return OptimizerPanel(
                problem,
                namespace,
                optimizer=args.optimizer,
                **settings,
                training=training,
                schedule=None if kind is None else SCHEDULES[kind],
            )
        if args.tune or args.starts:
            from gradmagic.minimize.lab_line import lab_result

            others = {**scipy_like, "animate": args.animate, "save": args.save, "data": data}
            result = lab_result(args, problem, settings, {**others, "plot": args.plot})
        elif args.compare:
            optimizers = line_options.names(args.compare, "--compare")
            line_options.refuse("--compare", {"callback": scipy_like.pop("callback")})
            result = runs.compare_optimizers(
                problem, optimizers, **settings, **scipy_like, **training
            )
        else:
            result = runs.minimize_problem(
                problem,
                namespace,
                optimizer=args.optimizer,
                write_back=not animating,  # an animation only shows the run
                **settings,
                **scipy_like,
                **training,
            )
            result.show_path = args.plot
            if cell is not None:
                self._run_cell_at_result(problem)
        if animating:
            result.animation = animation.animate(result, save)
        namespace["_min"] = result
        if name:
            namespace[name] = result
        return None if args.quiet else result

    def _run_cell_at_result(self, problem: Any) -> None:
        """The cell form runs once for real after the optimisation (plain cell semantics:
        its prints appear, its names are assigned) with the variables' final values."""
        __tracebackhide__ = True
        from gradmagic.cell import LAST_EXPRESSION, compile_cell

        self._execute(compile_cell(problem.program.analysis))
        self.shell.user_ns.pop(LAST_EXPRESSION, None)


def register(shell: Any) -> None:
    """Register the magics on ``shell`` (loading twice just replaces them), make their
    settings configurable with ``%config``, and switch on JAX's persistent compilation
    cache (see :mod:`gradmagic.persistent_cache`)."""
    from gradmagic.persistent_cache import enable

    enable()
    unregister(shell)
    magics = GradMagics(shell=shell, parent=shell)
    shell.configurables.append(magics)
    shell.register_magics(magics)


def unregister(shell: Any) -> None:
    """Remove the magics (and their configurable) from ``shell``."""
    manager = shell.magics_manager
    for kind, magic_names in MAGIC_NAMES.items():
        for name in magic_names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop("GradMagics", None)
    shell.configurables[:] = [c for c in shell.configurables if not isinstance(c, GradMagics)]

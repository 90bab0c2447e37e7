"""The IPython boundary: parse magic lines, call the engine, display the results.

This is the only module that imports IPython.  Options are declared once with
``magic_arguments`` so ``%tape?`` shows them; :class:`GradmagicError` from anywhere below
becomes a one-line ``UsageError``.  JAX is imported inside the magics, on first use.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from types import CodeType
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from gradmagic import options as line_options
from gradmagic.errors import GradmagicError

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
    parser = method.parser
    known = [o for action in parser._actions for o in action.option_strings if o.startswith("--")]
    try:
        return parse_argstring(method, text)
    except UsageError as error:
        raise GradmagicError(
            line_options.explain_argument_error(str(error), known, magic)
        ) from None


@magics_class
class GradMagics(Magics):
    """``%%tape``, ``%grad``, ``%hessian``, ``%minimize`` and ``%gradmagic``."""

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
    @argument(
        "--wrt",
        metavar="NAMES",
        help="Inputs, comma-separated (default: floating names the cell reads). A name the cell assigns gives the derivative with respect to that intermediate value.",
    )
    @argument(
        "--of",
        metavar="NAMES",
        help="Targets, comma-separated (default: floating names the cell assigns that depend on an input, then its last expression; _ names the last expression).",
    )
    @argument(
        "--hessian",
        action="store_true",
        help="Hessian of each scalar target, with eigenvalues and what they say.",
    )
    @argument(
        "--order",
        type=int,
        default=1,
        metavar="N",
        help="Derivatives of every order up to N for scalar inputs.",
    )
    @argument(
        "--check",
        action="store_true",
        help="Central finite differences beside each autodiff value.",
    )
    @argument(
        "--jit",
        action="store_true",
        help="Compile the derivative computation; reused when the cell runs again.",
    )
    @argument(
        "--plot",
        action="store_true",
        help="Plot the target around the point (one input) or its contours (two).",
    )
    @argument(
        "--show-tape",
        action="store_true",
        help="Show the recorded operations with the cell's names.",
    )
    @argument(
        "--unconnected",
        choices=("zero", "none"),
        default="zero",
        help="What an unconnected derivative is: 0 (default) or None, as TensorFlow.",
    )
    @argument("--name", metavar="VAR", help="Also store the Tape as VAR.")
    @argument(
        "--quiet", action="store_true", help="Display nothing (the Tape is still stored as _tape)."
    )
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
        """
        __tracebackhide__ = True
        from gradmagic.engine import TapeRequest, record_tape
        from gradmagic.settings import settings

        args = _parse(self.tape, line, "tape")
        if args.name is not None and not args.name.isidentifier():
            raise GradmagicError(f"--name takes a variable name, got {args.name!r}.")
        request = TapeRequest(
            wrt=line_options.names(args.wrt, "--wrt"),
            of=line_options.names(args.of, "--of"),
            hessian=args.hessian,
            order=args.order,
            check=args.check,
            jit=args.jit or settings.jit,
            show_tape=args.show_tape,
            unconnected=args.unconnected,
        )
        source = self._transformed(cell)
        result = record_tape(
            source, self._filename(source), self.shell.user_ns, request, self._execute
        )
        self.shell.user_ns["_tape"] = result
        if args.name:
            self.shell.user_ns[args.name] = result
        if args.quiet:
            return None
        if args.plot:
            from IPython.display import display

            from gradmagic.plots import plot_tape

            display(result)
            plot_tape(result)
            return None
        return result

    # ------------------------------------------------------------------ %grad / %hessian
    @magic_arguments()
    @argument(
        "--wrt",
        metavar="NAMES",
        help="Inputs, comma-separated (default: every floating name read; the result is then a dict).",
    )
    @line_magic
    @_usage_errors("grad")
    def grad(self, line: str) -> Any:
        """The gradient of an expression: ``%grad a*x**2 + b*x + c --wrt x``.

        Names the notebook lacks are looked up in jax.numpy (``exp``, ``log``, ``sum``…).
        One --wrt name returns its derivative, several a tuple, none a dict by name.
        """
        from gradmagic.engine import gradient_of_expression

        expression, option_text = line_options.split_expression(line)
        args = _parse(self.grad, option_text, "grad")
        return gradient_of_expression(
            expression, self.shell.user_ns, line_options.names(args.wrt, "--wrt")
        )

    @magic_arguments()
    @argument(
        "--wrt",
        metavar="NAMES",
        help="Inputs, comma-separated (default: every floating name read).",
    )
    @line_magic
    @_usage_errors("hessian")
    def hessian(self, line: str) -> Any:
        """The Hessian of a scalar expression: ``%hessian (x1 + 5) * x2**2 --wrt x1,x2``.

        Several scalar inputs give one matrix; several inputs with arrays a tuple of blocks.
        """
        from gradmagic.engine import hessian_of_expression

        expression, option_text = line_options.split_expression(line)
        args = _parse(self.hessian, option_text, "hessian")
        return hessian_of_expression(
            expression, self.shell.user_ns, line_options.names(args.wrt, "--wrt")
        )

    # ------------------------------------------------------------------ %gradmagic
    @line_magic
    @_usage_errors("gradmagic")
    def gradmagic(self, line: str) -> None:
        """Show versions, backend and settings; ``%gradmagic precision=4`` (or x64=on,
        jit=on) changes a setting for the session."""
        from gradmagic import settings as settings_module

        assignments = line.split()
        for assignment in assignments:
            settings_module.update(assignment)
        if not assignments:
            print(environment_report())

    # ------------------------------------------------------------------ %minimize
    @magic_arguments()
    @argument(
        "--wrt",
        metavar="NAMES",
        help="Variables to optimise, comma-separated (may be omitted when the objective reads exactly one floating name).",
    )
    @argument(
        "--of",
        metavar="NAME",
        help="Cell form: the variable the cell assigns that is the objective (default: its last expression).",
    )
    @argument(
        "--optimizer",
        default="sgd",
        help="sgd (default), momentum, nesterov, adam, adamw, adagrad, rmsprop, lbfgs, or any optax optimizer by name.",
    )
    @argument("--lr", type=float, default=0.01, help="Learning rate (default 0.01).")
    @argument("--steps", type=int, default=1000, help="Number of steps (default 1000).")
    @argument("--momentum", type=float, help="Momentum (or β1, decay) where the optimizer has one.")
    @argument("--tol", type=float, help="Stop early once the gradient norm is below this.")
    @argument(
        "--compare",
        metavar="OPTIMIZERS",
        help="Run each optimizer (comma-separated) from the same start; variables unchanged.",
    )
    @argument(
        "--plot",
        action="store_true",
        help="Also draw the path over the objective's curve or contours.",
    )
    @argument(
        "--widgets",
        action="store_true",
        help="An interactive panel: learning rate, optimizer, steps, momentum, start.",
    )
    @argument("--name", metavar="VAR", help="Also store the result as VAR.")
    @argument(
        "--quiet", action="store_true", help="Display nothing (the result is still stored as _min)."
    )
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
        from gradmagic import minimizing

        if cell is None:
            objective, option_text = line_options.split_expression(line)
        else:
            objective, option_text = "", line
        args = _parse(self.minimize, option_text, "minimize")
        wrt = line_options.names(args.wrt, "--wrt")
        namespace = self.shell.user_ns
        if cell is None:
            if args.of is not None:
                raise GradmagicError(
                    "--of is for the cell form (%%minimize); in a line, the expression is the objective."
                )
            problem = minimizing.problem_from_line(
                objective, namespace, wrt, namespace.get("_tape")
            )
        else:
            source = self._transformed(cell)
            problem = minimizing.problem_from_cell(
                source, self._filename(source), namespace, wrt, args.of
            )
        settings = {"lr": args.lr, "steps": args.steps, "momentum": args.momentum, "tol": args.tol}
        if args.widgets:
            from gradmagic.widgets import OptimizerPanel

            panel = OptimizerPanel(problem, namespace, optimizer=args.optimizer, **settings)
            return panel
        if args.compare:
            optimizers = line_options.names(args.compare, "--compare")
            result = minimizing.compare_optimizers(problem, optimizers, **settings)
            runs = list(result.results.values())
        else:
            result = minimizing.minimize_problem(
                problem, namespace, optimizer=args.optimizer, **settings
            )
            runs = [result]
            if cell is not None:
                self._run_cell_at_result(problem)
        namespace["_min"] = result
        if args.name:
            namespace[args.name] = result
        if args.quiet:
            return None
        from IPython.display import display

        from gradmagic.plots import show_minimization

        display(result)
        show_minimization(problem, runs, with_path=args.plot or bool(args.compare))
        return None

    def _run_cell_at_result(self, problem: Any) -> None:
        """The cell form runs once for real after the optimisation (plain cell semantics:
        its prints appear, its names are assigned) with the variables' final values."""
        __tracebackhide__ = True
        from gradmagic.cell import LAST_EXPRESSION, compile_cell

        self._execute(compile_cell(problem.program.analysis))
        self.shell.user_ns.pop(LAST_EXPRESSION, None)


def environment_report() -> str:
    """Versions, backend, devices and settings, as ``%gradmagic`` prints them."""
    import jax

    import gradmagic
    from gradmagic.settings import settings

    devices = ", ".join(str(device) for device in jax.devices())
    cache = jax.config.jax_compilation_cache_dir or "off"
    return "\n".join(
        [
            f"gradmagic {gradmagic.__version__}",
            f"jax {jax.__version__}, backend {jax.default_backend()}, devices: {devices}",
            f"compilation cache: {cache}",
            f"settings: precision={settings.precision} x64={'on' if settings.x64 else 'off'} "
            f"jit={'on' if settings.jit else 'off'}",
        ]
    )


def register(shell: Any) -> None:
    """Register the magics on ``shell`` (loading twice just replaces them) and switch on
    JAX's persistent compilation cache (see :mod:`gradmagic.compilation_cache`)."""
    from gradmagic.compilation_cache import enable

    enable()
    shell.register_magics(GradMagics)


def unregister(shell: Any) -> None:
    """Remove the magics from ``shell``."""
    manager = shell.magics_manager
    for kind, magic_names in MAGIC_NAMES.items():
        for name in magic_names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop("GradMagics", None)

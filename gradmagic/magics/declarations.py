"""The magics' options, declared once with IPython's ``magic_arguments``.

``%tape?`` and ``%minimize?`` show the help written here; :mod:`gradmagic.magics` applies
these declarations to its methods.  Kept apart so the magics module stays about what the
magics do, not their option lists.
"""

from __future__ import annotations

from collections.abc import Callable

from IPython.core.magic_arguments import argument

AT_HELP = (
    "Evaluate at these values instead of the notebook's: x=5,v=[1.0,2.0] (numbers, or lists"
    " for arrays; names the notebook lacks are allowed and become inputs). Nothing is"
    " assigned: the notebook's values are unchanged afterwards."
)

TAPE_AT_HELP = (
    "Record the cell at these values instead of the notebook's: x=5,v=[1.0,2.0] (as"
    " _tape.at(x=5)). The cell runs for real with them, and what it assigns is kept; the"
    " --at names themselves are not (unless the cell assigns them): each gets its old value"
    " back, or is not created."
)


def wrt_inputs(default: str) -> Callable:
    """The one-liners' ``--wrt`` and ``--at`` options."""

    def decorate(method: Callable) -> Callable:
        method = argument("--at", metavar="NAME=VALUE,...", help=AT_HELP)(method)
        return argument(
            "--wrt",
            metavar="NAMES",
            help=f"Inputs, comma-separated (default: {default}).",
        )(method)

    return decorate


def stored_as(what: str, variable: str) -> Callable:
    """The ``--name VAR`` and ``--quiet`` options every result-storing magic has."""

    def decorate(method: Callable) -> Callable:
        method = argument(
            "--quiet",
            action="store_true",
            help=f"Display nothing ({what} is still stored as {variable}).",
        )(method)
        return argument("--name", metavar="VAR", help=f"Also store {what} as VAR.")(method)

    return decorate


def tape_arguments(method: Callable) -> Callable:
    """``%%tape``'s options, in the order its help lists them."""
    for declare in reversed(
        [
            argument(
                "--wrt",
                metavar="NAMES",
                help="Inputs, comma-separated (default: floating names the cell reads, and the --at names). A name the cell assigns gives the derivative with respect to that intermediate value.",
            ),
            argument(
                "--of",
                metavar="NAMES",
                help="Targets, comma-separated (default: floating names the cell assigns that depend on an input, then its last expression; _ names the last expression).",
            ),
            argument("--at", metavar="NAME=VALUE,...", help=TAPE_AT_HELP),
            argument(
                "--hessian",
                action="store_true",
                help="Hessian of each scalar target, with eigenvalues and what they say.",
            ),
            argument(
                "--order",
                type=int,
                default=1,
                metavar="N",
                help="Derivatives of every order up to N for scalar inputs.",
            ),
            argument(
                "--check",
                action="store_true",
                help="Central finite differences beside each autodiff value.",
            ),
            argument(
                "--jit",
                action="store_true",
                help="Compile the derivative computation; reused when the cell runs again.",
            ),
            argument(
                "--plot",
                action="store_true",
                help="Plot the target around the point (one input) or its contours (two).",
            ),
            argument(
                "--show-tape",
                action="store_true",
                help="Show the recorded operations with the cell's names.",
            ),
            argument(
                "--unconnected",
                choices=("zero", "none"),
                default="zero",
                help="What an unconnected derivative is: 0 (default) or None, as TensorFlow.",
            ),
        ]
    ):
        method = declare(method)
    return method


def minimize_arguments(method: Callable) -> Callable:
    """``%minimize``'s options, in the order its help lists them."""
    for declare in reversed(
        [
            argument(
                "--wrt",
                metavar="NAMES",
                help="Variables to optimise, comma-separated (may be omitted when the objective reads exactly one floating name).",
            ),
            argument(
                "--of",
                metavar="NAME",
                help="Cell form: the variable the cell assigns that is the objective (default: its last expression).",
            ),
            argument(
                "--optimizer",
                default="sgd",
                help="sgd (default), momentum, nesterov, adam, adamw, adagrad, rmsprop, lbfgs, or any optax optimizer by name.",
            ),
            argument("--lr", type=float, default=0.01, help="Learning rate (default 0.01)."),
            argument("--steps", type=int, help="Number of steps (default 1000)."),
            argument(
                "--momentum",
                type=float,
                help="Momentum (or β1, decay) where the optimizer has one.",
            ),
            argument(
                "--tol", type=float, help="Stop once the gradient norm is below this (lbfgs: 1e-5)."
            ),
            argument(
                "--data",
                metavar="NAMES",
                help="Arrays of examples (shared leading axis), comma-separated: the objective sees them minibatch by minibatch.",
            ),
            argument(
                "--batch",
                type=int,
                metavar="B",
                help="Examples per minibatch (default: all); a last partial batch is dropped.",
            ),
            argument(
                "--epochs",
                type=int,
                metavar="N",
                help="Passes over the data (instead of --steps).",
            ),
            argument(
                "--seed",
                type=int,
                metavar="S",
                help="Seed of each epoch's shuffle, or of --starts' random draws (default 0): the same seed, the same run.",
            ),
            argument(
                "--bounds",
                metavar="BOX",
                help="Project each step into a box: x=0:1,y=:5, v=[0,0]:[1,2] per element.",
            ),
            argument(
                "--schedule",
                help="lr schedule, --lr its peak: constant, cosine, linear, exponential, warmup_cosine.",
            ),
            argument("--callback", metavar="NAME", help="Call NAME(result so far) between chunks."),
            argument(
                "--start",
                metavar="NAME=VALUE,...",
                help="Start from these values instead of the notebook's (e.g. x=4,y=0.5); the variables are still written back (a name the notebook lacks is created by that write-back).",
            ),
            argument(
                "--compare",
                metavar="OPTIMIZERS",
                help="Run each optimizer (comma-separated) from the same start; variables unchanged.",
            ),
            argument(
                "--tune",
                action="store_true",
                help="Tune each optimizer (--compare's, else --optimizer): every learning rate of --tune-grid × momentum/β1 in 0, 0.5, 0.9, 0.99 in one vectorised program; the best setting (fewest steps to --tol, else lowest final objective; never a diverged run), heat maps, the best paths. Variables unchanged.",
            ),
            argument(
                "--tune-grid",
                metavar="LOW:HIGH:COUNT",
                help="--tune's learning rates, log-spaced (default 1e-4:10:24).",
            ),
            argument(
                "--starts",
                metavar="N|grid:K",
                help="Run from N seeded random starts (or a K×K grid) in --box, in one vectorised program: the paths coloured by the minimum each reaches, and a table of the minima found. Variables unchanged.",
            ),
            argument(
                "--box",
                metavar="BOX",
                help="Where --starts draws: x=-3:3,y=-3:3 (default: a gradmagic.functions function's box, else ±2 around the start).",
            ),
            argument(
                "--plot",
                action="store_true",
                help="Also draw the path over the objective's curve or contours.",
            ),
            argument(
                "--animate",
                action="store_true",
                help="Show the loss curve and path drawn step by step: a player that works with no kernel (at most 100 frames, 2 MB).",
            ),
            argument(
                "--save",
                metavar="FILE",
                help="Write the animation to FILE.gif (Pillow) or FILE.html (a page that plays it); implies --animate.",
            ),
            argument(
                "--widgets",
                action="store_true",
                help="An interactive panel: learning rate, optimizer, steps, momentum, start.",
            ),
            argument(
                "--static",
                action="store_true",
                help="With --widgets: a panel that needs no kernel. Runs for 48 learning rates × the optimizer, sgd, momentum and adam are computed now and embedded with a small script; its slider and menu redraw the loss curve and path in the browser (HTML exports, trusted notebooks; at most 1 MB).",
            ),
        ]
    ):
        method = declare(method)
    return method

"""``%minimize … --tune`` and ``--starts``: which options they take, and the runs they make.

Kept out of the magics module (which only parses the line) and free of IPython: both run
many settings in one vectorised program and leave the notebook's variables unchanged."""

from __future__ import annotations

from typing import Any

from gradmagic.errors import GradmagicError
from gradmagic.options import names, refuse


def check_lab_options(args: Any) -> None:
    """Options that only make sense with ``--tune`` or ``--starts`` need them."""
    if args.tune_grid is not None and not args.tune:
        raise GradmagicError("--tune-grid sets the learning rates --tune tries; add --tune.")
    if args.box is not None and not args.starts:
        raise GradmagicError("--box is where --starts draws its starting points; add --starts.")
    if args.tune and args.starts:
        raise GradmagicError(
            "--tune and --starts are separate experiments; run one line with each."
        )


def lab_result(args: Any, problem: Any, settings: dict, others: dict) -> Any:
    """The ``--tune`` or ``--starts`` result for ``problem``; ``settings`` are lr, steps,
    momentum and tol; ``others`` every other option given that they do not take."""
    option = "--tune" if args.tune else "--starts"
    refuse(option, others)
    if args.tune:
        from gradmagic.minimize import grids
        from gradmagic.minimize.tuned import tune_optimizers

        if settings["momentum"] is not None:
            raise GradmagicError(
                "--tune tries momentum/β1 in 0, 0.5, 0.9 and 0.99 itself; drop --momentum."
            )
        optimizers = names(args.compare, "--compare") if args.compare else (args.optimizer,)
        return tune_optimizers(
            problem,
            optimizers,
            lrs=grids.tune_grid(args.tune_grid),
            steps=settings["steps"],
            tol=settings["tol"],
        )
    from gradmagic.minimize.starts import many_starts

    refuse("--starts", {"compare": args.compare})
    return many_starts(
        problem,
        optimizer=args.optimizer,
        **settings,
        starts=args.starts,
        box=args.box,
        seed=args.seed,
    )

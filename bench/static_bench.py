"""``--widgets --static``: the runs of 48 learning rates × 4 optimizers × 200 steps on a
two-variable problem (Rosenbrock), cold, and the whole panel.

Goal (issue 12): computing the runs ≤ 1.5 s cold on the 2-core machine; the page ≤ 1 MB.
"Cold" is a fresh process with the persistent compilation cache off (``python -m bench``
sets it), so every program is compiled.  Ours: the runs as the panel computes them
(:func:`gradmagic.lab.static_runs.grid_runs`: the curvature at the start, which places
the grid, one vectorised batch per optimizer, and the curvature along SGD's best run), and the whole panel (runs,
pictures, encoding).  Reference: what a JAX user writes for the same runs, one
``jax.jit(jax.vmap(...))`` of an optax ``lax.scan`` loop per optimizer, also compiled
cold, measured in the same process after ours (JAX's own start-up is paid before both).
"""

from __future__ import annotations

import time

import numpy as np

from bench.timing import report, run_quietly, shell

OPTIMIZERS = "nesterov"  # chosen: the menu is then nesterov, sgd, momentum and adam
LINE = (
    "%minimize rosenbrock(x, y) --wrt x,y --optimizer nesterov --lr 0.0001 --steps 200 "
    "--widgets --static"
)


def hand_written(lrs: np.ndarray, steps: int) -> float:
    """Seconds for the same 48 × 4 runs in hand-written JAX/optax, compiled cold."""
    import jax
    import jax.numpy as jnp
    import optax

    from gradmagic.functions import rosenbrock

    def loss(p: jax.Array) -> jax.Array:
        return rosenbrock(p[0], p[1])

    factories = {
        "nesterov": lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True),
        "sgd": lambda lr: optax.sgd(lr),
        "momentum": lambda lr: optax.sgd(lr, momentum=0.9),
        "adam": lambda lr: optax.adam(lr),
    }
    start = time.perf_counter()
    for make in factories.values():

        def run(lr: jax.Array, make=make) -> jax.Array:
            optimizer = optax.inject_hyperparams(make)(lr)
            params = jnp.array([-1.0, 1.5])

            def step(carry: tuple, _: None) -> tuple:
                p, state = carry
                value, grad = jax.value_and_grad(loss)(p)
                updates, state = optimizer.update(grad, state, p)
                return (optax.apply_updates(p, updates), state), (value, p)

            _, (values, path) = jax.lax.scan(step, (params, optimizer.init(params)), None, steps)
            return values, path

        jax.block_until_ready(jax.jit(jax.vmap(run))(jnp.asarray(lrs)))
    return time.perf_counter() - start


def main() -> list[str]:
    import jax

    from gradmagic.lab import static_runs
    from gradmagic.lab.static_panel import StaticPanel

    ip = shell()
    run_quietly(ip, "from gradmagic.functions import rosenbrock\nx = -1.0; y = 1.5")
    jax.block_until_ready(jax.jit(lambda v: v + 1)(1.0))  # JAX's start-up, paid by neither
    timed: dict[str, float] = {}
    original = static_runs.grid_runs

    def grid_runs(*args, **kwargs):
        begin = time.perf_counter()
        found = original(*args, **kwargs)
        timed["runs"] = time.perf_counter() - begin
        return found

    static_runs.grid_runs = grid_runs
    import gradmagic.lab.static_panel as panel_module

    panel_module.grid_runs = grid_runs
    begin = time.perf_counter()
    panel = run_quietly(ip, LINE)
    whole = time.perf_counter() - begin
    assert isinstance(panel, StaticPanel)
    runs = timed["runs"]
    reference = hand_written(panel.lrs, 200)
    begin = time.perf_counter()
    run_quietly(ip, LINE)
    warm = time.perf_counter() - begin
    return [
        report(
            "--static: 48 lrs × 4 optimizers × 200 steps, cold, vs JAX",
            runs,
            reference,
            "runs ≤ 1.5 s",
        ),  # fmt: skip
        f"{'  the whole panel, cold (runs, pictures, encoding)':<58} {whole * 1e3:9.3f} ms",
        f"{'  the whole panel again (programs compiled)':<58} {warm * 1e3:9.3f} ms",
        f"{'  page size':<58} {panel.size / 1e6:.2f} MB (limit 1 MB)",
    ]

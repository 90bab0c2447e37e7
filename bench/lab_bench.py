"""``--tune`` and ``--starts``: many runs in one vectorised program, against running few.

* ``--compare sgd,momentum,adam --tune`` on Rosenbrock, 1000 steps: 24 learning rates × 4
  momenta (24 for sgd) = 216 runs, against the same ``--compare`` untuned (3 runs), and
  against what a JAX user would write for the grid: per optimizer, ``jax.jit`` of
  ``jax.vmap`` over the settings of a ``lax.scan`` of optax updates (goal ≤ 3× the
  untuned comparison).
* ``--starts 64`` on Himmelblau, 1000 steps, against one start (goal ≤ 2×).

Each is measured warm (median of repeated calls; nothing compiles) and on the first call
(compiling included): every first call uses its own variable names, so it finds nothing
compiled, after a warm-up on another problem has paid for imports and tracing caches.
"""

from __future__ import annotations

import time

import numpy as np

from bench.timing import best_of, report, run_quietly, shell

STEPS = 1000
TUNE = "--compare sgd,momentum,adam --tune --steps 1000 --quiet"
STARTS = "--optimizer adam --lr 0.05 --steps 1000 --quiet"


def _first(ip, cell: str) -> float:
    start = time.perf_counter()
    run_quietly(ip, cell)
    return time.perf_counter() - start


def _hand_written_grid(start: tuple[float, float]):
    """What a JAX user writes to tune: one jitted vmap of a scanned optax loop per optimizer
    (a fresh program each call of this function, so its first call compiles)."""
    import jax
    import jax.numpy as jnp
    import optax

    from gradmagic.functions import rosenbrock
    from gradmagic.minimize.grids import TUNE_MOMENTA, tune_grid

    lrs = tune_grid(None)

    def loss(p):
        return rosenbrock(p[0], p[1])

    def runner(make):
        def run(lr, m):
            opt = make(lr, m)
            p0 = jnp.array(start, jnp.float32)

            def step(carry, _):
                p, state = carry
                g = jax.grad(loss)(p)
                updates, state = opt.update(g, state, p)
                return (optax.apply_updates(p, updates), state), None

            (p, _), _ = jax.lax.scan(step, (p0, opt.init(p0)), None, length=STEPS)
            return loss(p)

        return jax.jit(jax.vmap(run))

    plans = [
        (lambda lr, m: optax.sgd(lr), lrs, np.zeros_like(lrs)),
        (
            lambda lr, m: optax.inject_hyperparams(optax.sgd)(learning_rate=lr, momentum=m),
            np.tile(lrs, 4),
            np.repeat(TUNE_MOMENTA, len(lrs)),
        ),
        (
            lambda lr, m: optax.inject_hyperparams(optax.adam)(learning_rate=lr, b1=m),
            np.tile(lrs, 4),
            np.repeat(TUNE_MOMENTA, len(lrs)),
        ),
    ]
    programs = [(runner(make), a.astype(np.float32), b.astype(np.float32)) for make, a, b in plans]

    def go():
        return [np.asarray(f(a, b)) for f, a, b in programs]

    return go


def main() -> list[str]:
    ip = shell()
    run_quietly(ip, "from gradmagic.functions import rosenbrock, himmelblau, booth")
    names = ["p", "q", "r", "s", "t", "u", "v", "w", "a", "b", "c", "d", "e", "f2", "g", "h"]
    run_quietly(ip, "\n".join(f"{n} = 0.5" for n in names))
    # warm-up on another problem: imports, optax and JAX's tracing caches
    run_quietly(ip, f"%minimize booth(p, q) --wrt p,q {TUNE}")
    run_quietly(ip, "%minimize booth(p, q) --wrt p,q --compare sgd,momentum,adam --quiet")
    run_quietly(ip, f"%minimize booth(p, q) --wrt p,q --starts 64 {STARTS}")
    run_quietly(ip, f"%minimize booth(p, q) --wrt p,q --start p=0,q=0 {STARTS}")
    _hand_written_grid((-1.0, 1.5))()

    compare = "%minimize rosenbrock({}, {}) --wrt {},{} --compare sgd,momentum,adam " + (
        "--steps 1000 --start {}=-1,{}=1.5 --quiet"
    )
    tune = "%minimize rosenbrock({}, {}) --wrt {},{} " + TUNE + " --start {}=-1,{}=1.5"
    compare_first = _first(ip, compare.format(*["r", "s"] * 3))
    tune_first = _first(ip, tune.format(*["t", "u"] * 3))
    hand = _hand_written_grid((-1.0, 1.5))
    start = time.perf_counter()
    hand()
    hand_first = time.perf_counter() - start
    compare_warm = best_of(lambda: run_quietly(ip, compare.format(*["r", "s"] * 3)), repeat=5)
    tune_warm = best_of(lambda: run_quietly(ip, tune.format(*["t", "u"] * 3)), repeat=5)
    hand_warm = best_of(hand, repeat=5)
    runs = sum(len(t.runs) for t in ip.user_ns["_min"].tuned.values())

    one = "%minimize himmelblau({}, {}) --wrt {},{} --start {}=0,{}=0 " + STARTS
    many = "%minimize himmelblau({}, {}) --wrt {},{} --starts 64 " + STARTS
    one_first = _first(ip, one.format(*["v", "w"] * 3))
    many_first = _first(ip, many.format(*["a", "b"] * 2))
    one_warm = best_of(lambda: run_quietly(ip, one.format(*["v", "w"] * 3)), repeat=5)
    many_warm = best_of(lambda: run_quietly(ip, many.format(*["a", "b"] * 2)), repeat=5)
    found = len(ip.user_ns["_min"].found.counts)
    return [
        report(f"--tune ({runs} runs) vs --compare untuned, warm", tune_warm, compare_warm, "≤ 3x"),
        report("--tune vs --compare untuned, first call", tune_first, compare_first, "≤ 3x"),
        report("--tune vs hand-written jit(vmap(scan)) grid, warm", tune_warm, hand_warm, "—"),
        report("--tune vs hand-written grid, first call", tune_first, hand_first, "—"),
        report(f"--starts 64 ({found} minima) vs one start, warm", many_warm, one_warm, "≤ 2x"),
        report("--starts 64 vs one start, first call", many_first, one_first, "≤ 2x"),
    ]


if __name__ == "__main__":
    for line in main():
        print(line)

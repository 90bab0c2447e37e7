"""%minimize --optimizer lbfgs against scipy.optimize.minimize(method="L-BFGS-B", jac=True).

Problem: Rosenbrock in n dimensions from the classic start (-1.2, 1, -1.2, 1, ...), both
stopping once the (projected) gradient norm is below 1e-5 (SciPy's gtol; gradmagic's
L-BFGS default).  SciPy gets a jitted JAX ``value_and_grad`` (float64 in, float64 out), as
a JAX user would hand it; its first call includes compiling that function.  gradmagic's
first call includes compiling its loop; a re-run reuses it.  All measured in this process
after a warm-up compile of an unrelated program (JAX's backend start-up is paid by neither).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from bench.timing import best_of, report, run_quietly, shell

SIZES = (2, 100, 1000)
GTOL = 1e-5


def rosen(v):
    return jnp.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)


def classic_start(n: int) -> np.ndarray:
    start = np.ones(n)
    start[::2] = -1.2
    return start


def scipy_solver():
    """A fresh jitted value_and_grad and the scipy call using it."""
    from scipy.optimize import minimize

    value_and_grad = jax.jit(jax.value_and_grad(rosen))

    def fun(x):
        value, grad = value_and_grad(x)
        return float(value), np.asarray(grad, dtype=float)

    def solve(n: int):
        options = {"gtol": GTOL, "maxiter": 1000}
        return minimize(fun, classic_start(n), jac=True, method="L-BFGS-B", options=options)

    return solve


def one_size(ip, n: int) -> list[str]:
    solve = scipy_solver()
    start = time.perf_counter()
    reference = solve(n)
    scipy_first = time.perf_counter() - start
    scipy_warm = best_of(lambda: solve(n), repeat=3)

    ip.user_ns["v"] = classic_start(n).astype(np.float32)
    line = "%minimize rosen(v) --wrt v --optimizer lbfgs --steps 1000 --quiet"
    start = time.perf_counter()
    run_quietly(ip, line)
    ours_first = time.perf_counter() - start
    result = ip.user_ns["_min"]

    def rerun():
        ip.user_ns["v"] = classic_start(n).astype(np.float32)
        run_quietly(ip, line)

    ours_warm = best_of(rerun, repeat=3)
    return [
        f"n = {n}: scipy nit {reference.nit} nfev {reference.nfev} fun {reference.fun:.2e} "
        f"status {reference.status}; gradmagic nit {result.nit} nfev {result.nfev} "
        f"fun {result.fun:.2e} status {int(result.status)}",
        report(f"lbfgs n={n} first call vs scipy first call", ours_first, scipy_first, "≤ 1.0x"),
        report(f"lbfgs n={n} first call vs scipy warm call", ours_first, scipy_warm, "-"),
        report(f"lbfgs n={n} re-run vs scipy warm call", ours_warm, scipy_warm, "≤ 0.1x"),
    ]


def main() -> list[str]:
    jax.jit(lambda v: v + 1)(1.0).block_until_ready()  # backend start-up, paid by neither
    ip = shell()
    ip.user_ns["rosen"] = rosen
    lines = []
    for n in SIZES:
        lines += one_size(ip, n)
    return lines


if __name__ == "__main__":
    for text in main():
        print(text)

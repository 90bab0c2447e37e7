"""%%tape / %hessian / %load_ext against raw JAX."""

from __future__ import annotations

import subprocess
import sys
import time

import jax
import jax.numpy as jnp

from bench.timing import best_of, report, run_quietly, shell
from gradmagic.program_cache import counting_compilations


def rosenbrock(x: jax.Array) -> jax.Array:
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def one_liners_vs_jitted_jax() -> list[str]:
    """Re-running %hessian / %grad of Rosenbrock (n = 1000) against the jitted JAX a user
    would write instead, both warm.

    The user's alternative is a cell too (``H = hessian(x)``), and IPython's own work for
    a cell (transforming, compiling, running two statements, freeing the old 4 MB Hessian)
    is the same for both, so the goal is measured against that cell; the bare jitted call
    is shown beside it.
    """
    ip = shell()
    ip.user_ns.update({"jnp": jnp, "x": jnp.linspace(-1.0, 1.0, 1000), "rosenbrock": rosenbrock})
    x = ip.user_ns["x"]
    lines = []
    for magic, transform in (("hessian", jax.hessian), ("grad", jax.grad)):
        jitted = jax.jit(transform(rosenbrock))
        ip.user_ns["jitted"] = jitted
        jitted(x).block_until_ready()
        bare = best_of(lambda jitted=jitted: jitted(x).block_until_ready(), repeat=9, number=5)
        # Assignments, so IPython prints nothing (printing the array is not measured).
        theirs = "H = jitted(x)\n_ = H.block_until_ready()"
        cell = f"H = %{magic} rosenbrock(x) --wrt x\n_ = H.block_until_ready()"
        run_quietly(ip, cell)  # compile once
        with counting_compilations() as compiled:
            reference, ours = 1.0, 1.0
            for _ in range(3):  # alternated, so load changes hit both alike
                reference = min(reference, best_of(lambda t=theirs: run_quietly(ip, t), number=5))
                ours = min(ours, best_of(lambda cell=cell: run_quietly(ip, cell), number=5))
        name = transform.__name__
        lines.append(
            report(
                f"%{magic} rosenbrock(x), n=1000, re-run vs a cell of jax.jit({name})",
                ours,
                reference,
                "≤ reference + 1 ms",
            )
            + f"\n{'':<58} overhead {(ours - reference) * 1e3:.3f} ms, compilations: "
            f"{len(compiled)}; the bare jitted call {bare * 1e3:.3f} ms "
            f"(ours {(ours - bare) * 1e3:+.3f} ms)"
        )
    return lines


def tape_rerun_vs_jitted_function(flags: str) -> str:
    """Re-running an unchanged %%tape cell (compiled and cached with or without --jit) vs
    the jitted value_and_grad a user would write."""
    ip = shell()
    ip.user_ns.update({"x": 2.0, "a": 1.0, "b": -2.0, "c": 1.0})
    cell = f"%%tape {flags}--quiet\ny = a*x**2 + b*x + c"
    run_quietly(ip, cell)  # compile once

    def wrapped(x, a, b, c):
        return a * x**2 + b * x + c

    jitted = jax.jit(jax.value_and_grad(wrapped, argnums=(0, 1, 2, 3)))
    args = tuple(jnp.asarray(v, jnp.float32) for v in (2.0, 1.0, -2.0, 1.0))
    reference = best_of(lambda: jax.block_until_ready(jitted(*args)), repeat=9, number=20)
    with counting_compilations() as compiled:
        ours = best_of(lambda: run_quietly(ip, cell), repeat=9, number=20)
    label = f"re-run unchanged %%tape {flags}cell vs jitted value_and_grad"
    return (
        report(label, ours, reference, "overhead ≤ 2 ms")
        + f"\n{'':<58} overhead {(ours - reference) * 1e3:.3f} ms, compilations: {len(compiled)}"
    )


def one_liner_at_new_points() -> str:
    """``%grad ... --at x=V`` with a new V every call (nothing assigned in the notebook)
    against a cell calling the jitted ``jax.grad`` a user would write at each point, both
    warm: the compiled program is reused, so the only cost is reading the line."""
    ip = shell()
    points = [0.5 + 0.25 * i for i in range(20)]
    cells = [f"g = %grad 3*x + x**2 --wrt x --at x={v}\n_ = g.block_until_ready()" for v in points]
    jitted = jax.jit(jax.grad(lambda x: 3 * x + x**2))
    ip.user_ns["jitted"] = jitted
    theirs = [f"g = jitted({v})\n_ = g.block_until_ready()" for v in points]
    jitted(points[0]).block_until_ready()
    run_quietly(ip, cells[0])  # compile once, at the first point

    def calls(cells: list[str]) -> None:
        for cell in cells:
            run_quietly(ip, cell)

    with counting_compilations() as compiled:
        reference, ours = 1.0, 1.0
        for _ in range(3):  # alternated, so load changes hit both alike
            reference = min(reference, best_of(lambda: calls(theirs)) / len(points))
            ours = min(ours, best_of(lambda: calls(cells)) / len(points))
    ip.user_ns.pop("g", None)
    assert "x" not in ip.user_ns
    return (
        report(
            "%grad 3*x + x**2 --at x=V, a new V each call, vs a cell of jax.jit(grad)",
            ours,
            reference,
            "≤ reference + 1 ms",
        )
        + f"\n{'':<58} overhead {(ours - reference) * 1e3:.3f} ms, compilations: {len(compiled)}"
    )


def load_ext_time() -> str:
    code = (
        "import time\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\nstart = time.perf_counter()\n"
        "shell.run_cell('%load_ext gradmagic')\nprint(time.perf_counter() - start)"
    )
    times = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.split()[-1]))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import jax"], check=True)
    jax_import = time.perf_counter() - start
    return f"{'%load_ext gradmagic in a fresh shell':<58} {min(times) * 1e3:9.3f} ms  (import jax alone: {jax_import * 1e3:.0f} ms, deferred to first use)"


def main() -> list[str]:
    return [
        *one_liners_vs_jitted_jax(),
        tape_rerun_vs_jitted_function(""),
        tape_rerun_vs_jitted_function("--jit "),
        one_liner_at_new_points(),
        load_ext_time(),
    ]

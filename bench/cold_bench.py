"""First call in a fresh kernel: hand-written JAX vs %minimize with a warm persistent cache
(JAX's compilation cache, and gradmagic's saved loops: see minimize/saved_programs.py).

Each figure is measured in a new Python process (what a restarted kernel is).  Imports
are done before the clock starts on both sides, so the figures compare compilation (or
loading a compiled program from gradmagic's persistent cache), not import time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

HAND_WRITTEN = """
import time, jax, jax.numpy as jnp
from bench.minimize_bench import hand_written
jax.jit(lambda v: v + 1)(1.0).block_until_ready()
train = hand_written()
start = time.perf_counter()
jax.block_until_ready(train(jnp.float32(0.0), jnp.float32(0.01)))
print(time.perf_counter() - start)
"""

GRADMAGIC = """
import time
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
shell = InteractiveShell.instance()
shell.run_cell("%load_ext gradmagic")
import jax, optax, gradmagic.minimize.runs, gradmagic.minimize.driver, gradmagic.minimize.result
import gradmagic.minimize.problem_builder, gradmagic.minimize.saved_programs, jax.experimental.serialize_executable
jax.jit(lambda v: v + 1)(1.0).block_until_ready()
shell.user_ns["x"] = 0.0
start = time.perf_counter()
with capture_output():
    shell.run_cell("%minimize x**2 - 2*x + 1 --wrt x --lr 0.01 --steps 1000 --quiet")
print(time.perf_counter() - start)
assert abs(shell.user_ns["x"] - 1) < 1e-5
"""


def _seconds(code: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return float(out.stdout.split()[-1])


def main() -> list[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    hand = statistics.median(_seconds(HAND_WRITTEN, base) for _ in range(3))
    cold, warm = [], []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as directory:
            env = {**base, "GRADMAGIC_COMPILATION_CACHE": directory}
            cold.append(_seconds(GRADMAGIC, env))  # empty cache: compiles and stores
            warm.append(_seconds(GRADMAGIC, env))  # a new kernel: loads from the cache
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    return [
        f"{'fresh kernel: hand-written first call (compile)':<58} {hand * 1e3:9.3f} ms",
        f"{'fresh kernel: %minimize first call, empty cache':<58} {cold_s * 1e3:9.3f} ms  ratio {cold_s / hand:5.2f}x",
        f"{'fresh kernel: %minimize first call, warm cache':<58} {warm_s * 1e3:9.3f} ms  ratio {warm_s / hand:5.2f}x  (goal ≤ 0.3x)",
    ]

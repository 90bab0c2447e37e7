"""``python -m bench``: print every benchmark's ratio against hand-written JAX.

Each module runs in its own process with gradmagic's persistent compilation cache off,
so no figure borrows programs compiled by an earlier one; ``bench.cold_bench`` sets up
its own caches to measure exactly that effect.
"""

from __future__ import annotations

import os
import subprocess
import sys

MODULES = (
    "bench.tape_bench",
    "bench.minimize_bench",
    "bench.scipy_bench",
    "bench.cold_bench",
    "bench.panel_bench",
    "bench.animation_bench",
    "bench.static_bench",
    "bench.lab_bench",
    "bench.hvp_bench",
    "bench.memory_bench",
    "bench.mlp_bench",
)


def main() -> None:
    env = {**os.environ, "GRADMAGIC_COMPILATION_CACHE": "off"}
    for module in MODULES:
        print(f"== {module}", flush=True)
        code = f"import {module} as benchmark\nfor line in benchmark.main(): print(line)"
        subprocess.run([sys.executable, "-c", code], env=env, check=True)


if __name__ == "__main__":
    main()

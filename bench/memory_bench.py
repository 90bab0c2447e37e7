"""Peak memory of %minimize on a scalar: --steps 100000000 against --steps 1000.

Each run is a fresh Python process (a real IPython shell with gradmagic loaded) that
reports its peak resident memory (``ru_maxrss``), so neither borrows the other's
allocations.  The record of a run holds at most about 10 000 points, so the long run
should need about what the short one does (goal ≤ 1.2x; before, ~20x at 3e7 steps).
"""

from __future__ import annotations

import os
import subprocess
import sys

RUN = """
import resource, sys, time
from bench.timing import run_quietly, shell
ip = shell()
ip.user_ns["x"] = 0.0
start = time.perf_counter()
run_quietly(ip, "%minimize (x - 3)**2 --wrt x --lr 1e-9 --steps {steps} --quiet")
seconds = time.perf_counter() - start
result = ip.user_ns["_min"]
assert result.steps == {steps}, result.steps
kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
print(kib, seconds, len(result.history))
"""


def peak(steps: int) -> tuple[float, float, int]:
    """Peak resident MiB, seconds of the %minimize call, and recorded points."""
    env = {**os.environ, "GRADMAGIC_PROGRESS": "off"}
    out = subprocess.run(
        [sys.executable, "-c", RUN.format(steps=steps)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[0]) / 1024, float(out[1]), int(out[2])


def main() -> list[str]:
    short, _, short_points = peak(1000)
    long, seconds, long_points = peak(100_000_000)
    return [
        f"{'%minimize peak memory, --steps 1000':<58} {short:9.1f} MiB ({short_points} points)",
        f"{'%minimize peak memory, --steps 100000000':<58} {long:9.1f} MiB ({long_points} points, "
        f"{seconds:.1f} s)",
        f"{'peak memory ratio, 1e8 steps vs 1e3 steps':<58} ratio {long / short:6.2f}x  (goal ≤ 1.2x)",
    ]

"""Small timing helpers shared by the benchmarks."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output


def best_of(function: Callable[[], Any], repeat: int = 7, number: int = 1) -> float:
    """Median seconds per call over ``repeat`` rounds of ``number`` calls (after one warm-up)."""
    function()
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def shell() -> InteractiveShell:
    """A real IPython shell with gradmagic loaded (what a notebook user runs)."""
    ip = InteractiveShell.instance()
    with capture_output():
        ip.run_cell("%load_ext gradmagic", store_history=False)
    return ip


def run_quietly(ip: InteractiveShell, cell: str) -> Any:
    with capture_output():
        result = ip.run_cell(cell, store_history=False)
    if result.error_in_exec is not None:
        raise result.error_in_exec
    return result.result


def report(name: str, ours: float, reference: float, goal: str) -> str:
    return f"{name:<58} ours {ours * 1e3:9.3f} ms  reference {reference * 1e3:9.3f} ms  ratio {ours / reference:6.2f}x  (goal {goal})"


def in_fresh_process(code: str) -> str:
    """The last line ``code`` prints, run in a new Python process: a first call timed there
    pays for everything a user's first call pays for (imports, tracing, compiling), with
    no persistent compilation cache and no progress bar to skew it."""
    env = {**os.environ, "GRADMAGIC_COMPILATION_CACHE": "off", "GRADMAGIC_PROGRESS": "off"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]

"""The widget panel's kernel-side update: control change → new result, summary and PNG.

Goal from the widgets issue: ≤ 50 ms for a 2-variable problem with 200 steps.  The
reference is the bare compiled run (``problem.run``) the panel wraps, measured in the
same process.
"""

from __future__ import annotations

import itertools

from bench.timing import best_of, report, run_quietly, shell


def main() -> list[str]:
    ip = shell()
    ip.user_ns.update({"x": 1.0, "y": 1.0})
    panel = run_quietly(ip, "%minimize x**2 + 10*y**2 --wrt x,y --lr 0.01 --steps 200 --widgets")
    rates = itertools.cycle([0.011, 0.02, 0.04, 0.08])

    def move_slider() -> None:
        panel.lr.value = next(rates)

    def bare_run() -> None:
        panel.problem.run(optimizer="sgd", lr=next(rates), steps=200, start=panel.start.values)

    update = best_of(move_slider, repeat=15)
    run = best_of(bare_run, repeat=15)
    start = panel.start.fields["x"]
    starts = itertools.cycle([0.5, 1.0])

    def move_start() -> None:
        start.value = next(starts)

    new_start = best_of(move_start, repeat=7)
    return [
        report("panel: lr slider change (run + summary + PNG) vs bare run", update, run, "≤ 50 ms"),
        f"{'panel: start point change (contours redrawn)':<58} {new_start * 1e3:9.3f} ms",
    ]

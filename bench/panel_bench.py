"""The widget panel's kernel-side update: control change → new result, summary and plots.

Goal from the widgets issue: ≤ 50 ms for a 2-variable problem with 200 steps.  The
reference is the bare compiled run (``problem.run``) the panel wraps, measured in the
same process.  A slider step is measured as in a kernel (a running event loop, the
front end's update message), where the curvature along the run and the texts wait for
the slider to rest; a typed rate computes them at once.  Also the widget messages one
slider step sends and their bytes, which do not depend on the machine's load.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Iterator

from bench.timing import best_of, report, run_quietly, shell


@contextlib.contextmanager
def counting_messages() -> Iterator[list[int]]:
    """The size in bytes of each widget message sent inside the block (state and buffers)."""
    import ipywidgets

    sizes: list[int] = []
    send = ipywidgets.Widget._send

    def counted(widget: ipywidgets.Widget, msg: dict, buffers: list | None = None) -> None:
        sizes.append(len(json.dumps(msg)) + sum(len(b) for b in buffers or []))
        send(widget, msg, buffers)

    ipywidgets.Widget._send = counted
    try:
        yield sizes
    finally:
        ipywidgets.Widget._send = send


def main() -> list[str]:
    ip = shell()
    ip.user_ns.update({"x": 1.0, "y": 1.0})
    panel = run_quietly(ip, "%minimize x**2 + 10*y**2 --wrt x,y --lr 0.01 --steps 200 --widgets")
    rates = itertools.cycle([0.011, 0.02, 0.04, 0.08])

    def move_slider() -> None:
        panel.lr.set_state({"value": next(rates)})  # what the front end's message does

    def typed_rate() -> None:
        panel.set_lr(next(rates))  # the readout or a button: the texts at once

    def bare_run() -> None:
        panel.problem.run(optimizer="sgd", lr=next(rates), steps=200, start=panel.start.values)

    async def in_a_kernel() -> tuple[float, list[int]]:
        # a running event loop, as in ipykernel: a step's texts wait for the slider to rest
        step = best_of(move_slider, repeat=15)
        with counting_messages() as sizes:
            panel.lr.set_state({"value": 0.0123})  # a slider step, after the frame is set
        return step, sizes

    update, sizes = asyncio.run(in_a_kernel())
    typed = best_of(typed_rate, repeat=15)
    run = best_of(bare_run, repeat=15)
    start = panel.start.fields["x"]
    starts = itertools.cycle([0.5, 1.0])

    def move_start() -> None:
        start.value = next(starts)

    new_start = best_of(move_start, repeat=7)
    return [
        report("panel: lr slider step (run + SVG overlays) vs bare run", update, run, "≤ 50 ms"),
        f"{'panel: widget messages per lr slider step':<58} {len(sizes):9d} "
        f"({sum(sizes) / 1e3:.1f} kB)",
        report("panel: typed lr (+ curvature along the run, texts)", typed, run, "≤ 50 ms"),
        f"{'panel: start point change (contours redrawn)':<58} {new_start * 1e3:9.3f} ms",
    ]

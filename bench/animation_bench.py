"""``--animate``: building the offline player for a 1000-step Rosenbrock run.

Ours: :class:`gradmagic.minimize.animation.Animation` (blitted frames in one palette,
fitted to 2 MB).  Reference: what a matplotlib user writes, ``FuncAnimation(...)
.to_jshtml()`` on the same figure, the same frames and the same dpi (every frame a full
redraw, RGBA PNGs), measured in the same process.  Both sizes are printed too.
"""

from __future__ import annotations

import time

from bench.timing import report, run_quietly, shell


def main() -> list[str]:
    from matplotlib.animation import FuncAnimation

    from gradmagic.minimize.animation import Animation

    ip = shell()
    run_quietly(ip, "from gradmagic.functions import rosenbrock\nx = -1.0; y = 1.5")
    run_quietly(
        ip,
        "%minimize rosenbrock(x, y) --wrt x,y --optimizer adam --lr 0.02 --steps 1000 --quiet",
    )
    result = ip.user_ns["_min"]
    Animation(result.problem, [result])  # warm-up: imports, fonts, the contour grid's program
    start = time.perf_counter()
    ours = Animation(result.problem, [result])
    ours_s = time.perf_counter() - start

    indices = ours.indices

    def frame(j: int) -> None:
        ours.show(int(indices[j]))

    start = time.perf_counter()
    reference_html = FuncAnimation(ours.figure, frame, frames=len(indices)).to_jshtml(
        fps=20, default_mode="loop"
    )
    reference_s = time.perf_counter() - start
    return [
        report(
            f"--animate: {ours.frames} frames at {ours.dpi:g} dpi vs FuncAnimation.to_jshtml",
            ours_s,
            reference_s,
            "≤ 1x",
        ),
        f"{'  HTML size: ours vs to_jshtml':<58} {len(ours.html.encode()) / 1e6:.2f} MB vs "
        f"{len(reference_html.encode()) / 1e6:.2f} MB (limit 2 MB)",
    ]

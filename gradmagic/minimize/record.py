"""A run's record on the host: at most about :data:`RECORD_LIMIT` rows, whatever ``steps``.

The compiled loop (:mod:`~gradmagic.minimize.loop`) writes one row per recorded step into
a small per-chunk buffer; the driver copies each chunk's rows here as the run goes.  Rows
are kept for every ``stride``-th step, ``stride = ceil(steps / RECORD_LIMIT)``, so a run
of 10⁸ steps holds 10 001 rows, not 10⁸ (which once swapped a machine until its kernel
died), and the first and last steps are always kept.  The host array is allocated once
for the whole run: nothing grows per chunk.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RECORD_LIMIT = 10_000  # recorded steps per run at most (plus the last), whatever `steps`


def stride_for(count: int, limit: int = RECORD_LIMIT) -> int:
    """Keep every ``stride``-th of ``count`` steps (or epochs): at most ``limit`` + 1 kept."""
    return max(1, -(-count // limit))


class Record:
    """The host array of a run's recorded rows (``width`` numbers each, of ``dtype``)."""

    def __init__(self, steps: int, width: int, dtype: Any) -> None:
        self.stride = stride_for(steps)
        self.rows = np.empty((steps // self.stride + 1, width), dtype)

    def store(self, recorded: int, step: int, rows: np.ndarray) -> tuple[int, np.ndarray | None]:
        """Copy a chunk's full rows (``rows[0]`` is full row ``recorded``; the chunk ended
        at ``step``).  Rows before ``recorded`` are never touched, so an interrupt between
        two chunks keeps a consistent record.  Returns the new count of full rows and the
        chunk's tail row: its last step's, when that is not a multiple of the stride."""
        full = step // self.stride + 1
        self.rows[recorded:full] = rows[: full - recorded]
        tail = rows[full - recorded].copy() if step % self.stride else None
        return full, tail

    def rows_and_steps(
        self, recorded: int, tail: np.ndarray | None, step: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The recorded rows of a finished run (ended at ``step``) and the step of each."""
        rows = self.rows[:recorded]
        steps = np.arange(recorded, dtype=np.int64) * self.stride
        if tail is not None:
            rows = np.concatenate([rows, tail[None]])
            steps = np.append(steps, step)
        return rows, steps

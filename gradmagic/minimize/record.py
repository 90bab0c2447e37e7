"""A run's record on the host: at most about :data:`RECORD_LIMIT` rows, whatever ``steps``.

The compiled loop (:mod:`~gradmagic.minimize.loop`) writes one row per recorded step into
a small per-chunk buffer; the driver copies each chunk's rows here as the run goes.  Rows
are kept for every ``stride``-th step, ``stride = ceil(steps / RECORD_LIMIT)``, so a run
of 10⁸ steps holds 10 001 rows, not 10⁸ (which once swapped a machine until its kernel
died), and the first and last steps are always kept.  The host array is allocated once
for the whole run: nothing grows per chunk.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

RECORD_LIMIT = 10_000  # recorded steps per run at most (plus the last), whatever `steps`
CHUNK = 256  # fewest steps per chunk: a chunk records a row per step (or per stride)
RECORD_NUMBERS = 1 << 14  # numbers a chunk's record may hold, so narrow rows get long chunks
LONGEST_CHUNK = 4096  # most steps per chunk (chunks still end every ~CHUNK_SECONDS)


def stride_for(count: int, limit: int = RECORD_LIMIT) -> int:
    """Keep every ``stride``-th of ``count`` steps (or epochs): at most ``limit`` + 1 kept."""
    return max(1, -(-count // limit))


def chunk_rows(width: int) -> int:
    """Most steps (rows of ``width`` numbers recorded) per chunk.

    Every chunk call costs a dispatch and a transfer, and a run with fewer steps than this
    runs in one call; but the record's buffer is zeroed and fetched whole each chunk.  So
    narrow rows (a loss, a few variables) allow long chunks, and wide paths keep
    :data:`CHUNK`.
    """
    return max(CHUNK, min(LONGEST_CHUNK, RECORD_NUMBERS // width))


class Record:
    """The host array of a run's recorded rows (``width`` numbers each, of ``dtype``), for
    counts ``first``, ..., ``total`` (steps from 0, epochs from 1)."""

    def __init__(self, total: int, width: int, dtype: Any, first: int = 0) -> None:
        self.stride = stride_for(total)
        self.first = first
        self.rows = np.empty((total // self.stride + 1 - first, width), dtype)

    def store(self, recorded: int, step: int, rows: np.ndarray) -> tuple[int, np.ndarray | None]:
        """Copy a chunk's full rows (``rows[0]`` is full row ``recorded``; the chunk ended
        at ``step``).  Rows before ``recorded`` are never touched, so an interrupt between
        two chunks keeps a consistent record.  Returns the new count of full rows and the
        chunk's tail row: its last step's, when that is not a multiple of the stride."""
        full = step // self.stride + 1 - self.first
        self.rows[recorded:full] = rows[: full - recorded]
        tail = rows[full - recorded].copy() if step % self.stride else None
        return full, tail

    def rows_and_steps(
        self, recorded: int, tail: np.ndarray | None, step: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The recorded rows of a finished run (ended at ``step``) and the step of each."""
        rows = self.rows[:recorded]
        steps = (np.arange(recorded, dtype=np.int64) + self.first) * self.stride
        if tail is not None:
            rows = np.concatenate([rows, tail[None]])
            steps = np.append(steps, step)
        return rows, steps


class Records:
    """A run's records on the host: its steps' rows and, with data, its epoch losses
    (``rows``: what one chunk's buffers hold, :attr:`~gradmagic.minimize.loop.ChunkProgram.rows`)."""

    def __init__(self, steps: int, width: int, dtype: Any, batching: Any, rows: int) -> None:
        self.steps = Record(steps, width, dtype)
        self.per_epoch = batching.per_epoch if batching else 1
        epochs = steps // self.per_epoch if batching else 0
        self.epochs = Record(epochs, 1, dtype, first=1)
        self.limit = rows * self.steps.stride  # steps per chunk whose rows the buffers hold
        if batching:
            self.limit = min(self.limit, rows * self.epochs.stride * self.per_epoch)

    def bounds(self, end: int, recorded: tuple[int, int]) -> np.ndarray:
        """The chunk's step bound and where its rows and epoch losses go (``recorded``: the
        full rows of each record so far)."""
        strides = (self.steps.stride, self.epochs.stride)
        return np.array([end, recorded[0], strides[0], recorded[1], strides[1]], np.int32)

    def store(
        self, before: tuple[int, int], step: int, rows: np.ndarray, ends: np.ndarray
    ) -> tuple:
        """``(recorded, tail)`` of both records after a chunk that ended at ``step`` (with
        ``before`` full rows of each), from its rows and epoch losses."""
        recorded, tail = self.steps.store(before[0], step, rows)
        if not len(ends):
            return (recorded, 0), (tail, None)
        epochs, last = self.epochs.store(before[1], step // self.per_epoch, ends[:, None])
        return (recorded, epochs), (tail, last)


def unpack_path(rows: np.ndarray, start: tuple, column: int = 1) -> tuple:
    """Per variable: its columns of the recorded rows (from ``column``), shape
    ``(steps+1, *shape)``."""
    path = []
    for value in start:
        size = math.prod(np.shape(value))
        part = rows[:, column : column + size].reshape((-1, *np.shape(value)))
        path.append(part.astype(np.asarray(value).dtype, copy=False))
        column += size
    return tuple(path)

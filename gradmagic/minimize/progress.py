"""The progress bar of long ``%minimize`` runs."""

from __future__ import annotations

import os
from typing import Any


def progress_wanted() -> bool:
    """False when ``GRADMAGIC_PROGRESS=off``: for saved notebooks and their regression tests,
    where a bar that appears only on a slow machine would make the outputs differ."""
    return os.environ.get("GRADMAGIC_PROGRESS", "on").strip().lower() not in ("off", "0", "no")


class ProgressBar:
    """A tqdm bar (steps, objective) that appears only once a run lasts about a second.

    tqdm (and, in a notebook, its widget) is imported only then: most runs finish in
    milliseconds and should not pay for it.  With ``per`` steps to a unit (training on
    data: the batches of an epoch), it counts ``total`` of those units (epochs).
    """

    def __init__(
        self, total: int, label: str, delay: float = 1.0, per: int = 1, unit: str = "it"
    ) -> None:
        import time

        self.total, self.label, self.delay = total, label, delay
        self.per, self.unit = per, unit
        self.started = time.perf_counter()
        self.bar: Any = None
        self.done = 0

    def __call__(self, steps_done: int, loss: float) -> None:
        import time

        steps_done //= self.per
        if self.bar is None:
            if time.perf_counter() - self.started < self.delay:
                self.done = steps_done
                return
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=self.total, desc=self.label, initial=self.done, leave=False, unit=self.unit
            )
        self.bar.update(steps_done - self.done)
        self.done = steps_done
        self.bar.set_postfix(objective=f"{loss:.4g}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

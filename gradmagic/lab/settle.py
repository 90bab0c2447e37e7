"""Work that waits until a control rests: run once, ``delay`` seconds after the last change.

The ipywidgets front end keeps one update of a control in flight and sends the next when
the kernel reports idle after the previous one, so everything a slider step computes after
its plot (the curvature along the run, the texts it feeds) delays the following step.
:class:`Settle` moves that work to a later turn of the kernel's event loop, once the
slider has rested for ``delay`` seconds; each new step postpones it, so a drag computes it
once, at the end.  Without a running event loop (a script, a plain ``InteractiveShell``)
there is no later turn, and the work runs at once: the result is the same, only sooner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

REST = 0.2  # seconds without a new step before the slider counts as resting


class Settle:
    """``later()`` runs ``action`` once the changes stop; ``cancel()`` forgets it."""

    def __init__(self, action: Callable[[], object], delay: float = REST) -> None:
        self.action = action
        self.delay = delay
        self._handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        """Whether the action waits for the control to rest."""
        return self._handle is not None

    def later(self) -> None:
        """Run the action ``delay`` seconds from now on the running event loop (replacing
        a pending one), or at once where no loop runs."""
        self.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.action()
            return
        self._handle = loop.call_later(self.delay, self._run)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _run(self) -> None:
        self._handle = None
        self.action()

"""The one exception type for user mistakes.

Every module raises :class:`GradmagicError` for input a user can fix; the magics turn it
into IPython's ``UsageError`` (one line, no traceback).  Its message names the problem and
the fix.  Anything else that escapes is a bug in gradmagic or in the user's cell.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GradmagicError(Exception):
    """A mistake in how a magic was used: the message says what is wrong and how to fix it."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``' Did you mean X?'`` for the closest choice, or ``''`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]}?" if close else ""

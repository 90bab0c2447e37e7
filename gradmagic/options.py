"""Parsing and validating magic lines, independent of IPython.

The magics declare their options with IPython's ``magic_arguments`` (so ``%tape?`` help
comes from the same declaration); this module holds what is ours: splitting an
expression from its options, name lists, and "did you mean" for unknown options.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gradmagic.errors import GradmagicError, did_you_mean

_OPTION_START = re.compile(r"(?:^|\s)(--?[A-Za-z][\w-]*)")


def split_expression(line: str) -> tuple[str, str]:
    """Split ``'a*x**2 + b --wrt x'`` into the expression and the option text.

    Options start at the first whitespace-separated token that looks like ``--name``
    (or ``-n``); everything before it is the expression, kept verbatim.
    """
    match = _OPTION_START.search(line)
    if match is None:
        return line.strip(), ""
    return line[: match.start(1)].strip(), line[match.start(1) :].strip()


def names(text: str | None, option: str) -> tuple[str, ...]:
    """``'x, a,b'`` → ``('x', 'a', 'b')``; every entry must be a Python identifier."""
    if text is None:
        return ()
    parts = [part.strip() for part in text.split(",") if part.strip()]
    for part in parts:
        if not part.isidentifier():
            raise GradmagicError(
                f"{option} takes comma-separated names (e.g. {option} x,y); {part!r} is not a name."
            )
    if not parts:
        raise GradmagicError(f"{option} needs at least one name (e.g. {option} x).")
    return tuple(dict.fromkeys(parts))


def explain_argument_error(message: str, known: Iterable[str], magic: str) -> str:
    """Rewrite argparse's terse message into one that names the fix."""
    known = list(known)
    unknown = re.search(r"unrecognized arguments: (.+)", message)
    if unknown:
        words = unknown.group(1).split()
        first = next((w for w in words if w.startswith("-")), words[0])
        option = first.split("=")[0]
        return (
            f"%{magic}: unknown option {option}.{did_you_mean(option, known)} "
            f"Options: {', '.join(known)} (see %{magic}?)."
        )
    return f"%{magic}: {message.strip()} (see %{magic}?)."

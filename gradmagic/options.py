"""Parsing and validating magic lines, independent of IPython.

The magics declare their options with IPython's ``magic_arguments`` (so ``%tape?`` help
comes from the same declaration); this module holds what is ours: splitting an
expression from its options, name lists, and "did you mean" for unknown options.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

from gradmagic.errors import GradmagicError, did_you_mean

_OPTION_START = re.compile(r"(?:^|\s)(--[A-Za-z][\w-]*)")


def split_expression(line: str) -> tuple[str, str]:
    """Split ``'a*x**2 + b --wrt x'`` into the expression and the option text.

    Options start at the first whitespace-separated token that looks like ``--name``;
    everything before it is the expression, kept verbatim (so ``-exp(x)`` or ``a -b`` stay
    expressions: the magics have no one-dash options).
    """
    match = _OPTION_START.search(line)
    if match is None:
        return line.strip(), ""
    return line[: match.start(1)].strip(), line[match.start(1) :].strip()


def is_name(text: str) -> bool:
    """A name a variable can have: an identifier that is not a Python keyword."""
    return text.isidentifier() and not keyword.iskeyword(text)


def names(text: str | None, option: str) -> tuple[str, ...]:
    """``'x, a,b'`` → ``('x', 'a', 'b')``; every entry must be a name, each given once."""
    if text is None:
        return ()
    parts = [part.strip() for part in text.split(",") if part.strip()]
    for part in parts:
        if not is_name(part):
            raise GradmagicError(
                f"{option} takes comma-separated names (e.g. {option} x,y); {part!r} is not a name."
            )
    if not parts:
        raise GradmagicError(f"{option} needs at least one name (e.g. {option} x).")
    repeated = sorted({part for part in parts if parts.count(part) > 1}, key=parts.index)
    if repeated:
        raise GradmagicError(
            f"{option} names {', '.join(repeated)} more than once; give each name once "
            f"(e.g. {option} {','.join(dict.fromkeys(parts))})."
        )
    return tuple(parts)


def start_values(text: str | None, option: str = "--start") -> dict[str, float]:
    """``'x=4, y=0.5'`` → ``{'x': 4.0, 'y': 0.5}``: each a name, once, with a real number."""
    if text is None:
        return {}
    values: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, equals, number = (piece.strip() for piece in part.partition("="))
        if not equals or not is_name(name):
            raise GradmagicError(
                f"{option} takes name=value pairs, comma-separated (e.g. {option} x=4,y=0.5); "
                f"{part!r} is not one."
            )
        try:
            value = float(number)
        except ValueError:
            raise GradmagicError(
                f"{option} {name}={number}: {number!r} is not a number (e.g. {option} {name}=0.5)."
            ) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise GradmagicError(f"{option} {name}={number}: give a finite number.")
        if name in values:
            raise GradmagicError(f"{option} sets {name} more than once; give each name once.")
        values[name] = value
    if not values:
        raise GradmagicError(f"{option} needs name=value pairs (e.g. {option} x=4,y=0.5).")
    return values


def variable_name(text: str | None, option: str) -> str | None:
    """The variable a result is stored in (``--name VAR``): a valid, non-keyword name."""
    if text is not None and not is_name(text):
        raise GradmagicError(
            f"{option} takes a variable name (e.g. {option} result); {text!r} is not one"
            + (" (it is a Python keyword)." if keyword.iskeyword(text) else ".")
        )
    return text


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

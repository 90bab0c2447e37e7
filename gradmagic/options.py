"""Parsing and validating magic lines, independent of IPython.

The magics declare their options with IPython's ``magic_arguments`` (so ``%tape?`` help
comes from the same declaration); this module holds what is ours: splitting an
expression from its options, name lists, and "did you mean" for unknown options.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from typing import Any

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


def without_bracketed_spaces(text: str) -> str:
    """``'--at x=[1.0, 2.0]'`` → ``'--at x=[1.0,2.0]'``: whitespace inside brackets is
    dropped so the option parser, which splits at whitespace, keeps a list in one piece."""
    kept, depth = [], 0
    for char in text:
        depth += (char in "([{") - (char in ")]}")
        if depth <= 0 or not char.isspace():
            kept.append(char)
    return "".join(kept)


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


def _top_level_split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside brackets: ``'x=[1, 2], y=3'`` at ``,`` →
    ``['x=[1, 2]', ' y=3']``, ``'[0,1]:[2,3]'`` at ``:`` → ``['[0,1]', '[2,3]']``."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char in "([{") - (char in ")]}")
        if char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def assignments(text: str, option: str, form: str, example: str) -> dict[str, str]:
    """``'x=4, y=0.5'`` → ``{'x': '4', 'y': '0.5'}``: comma-separated ``NAME=VALUE`` pairs,
    each name once (the caller reads the values); ``form`` and ``example`` say, in the
    message, what a pair looks like."""
    pairs: dict[str, str] = {}
    for part in (p.strip() for p in _top_level_split(text, ",")):
        if not part:
            continue
        name, equals, value = (piece.strip() for piece in part.partition("="))
        if not equals or not is_name(name):
            raise GradmagicError(
                f"{option} takes {form} pairs, comma-separated (e.g. {option} {example}); "
                f"{part!r} is not one."
            )
        if name in pairs:
            raise GradmagicError(f"{option} sets {name} more than once; give each name once.")
        pairs[name] = value
    if not pairs:
        raise GradmagicError(f"{option} needs {form} pairs (e.g. {option} {example}).")
    return pairs


def start_values(text: str | None, option: str = "--start") -> dict[str, float]:
    """``'x=4, y=0.5'`` → ``{'x': 4.0, 'y': 0.5}``: each a name, once, with a real number."""
    if text is None:
        return {}
    values: dict[str, float] = {}
    for name, number in assignments(text, option, "name=value", "x=4,y=0.5").items():
        try:
            value = float(number)
        except ValueError:
            raise GradmagicError(
                f"{option} {name}={number}: {number!r} is not a number (e.g. {option} {name}=0.5)."
            ) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise GradmagicError(f"{option} {name}={number}: give a finite number.")
        values[name] = value
    return values


def point_values(text: str | None, option: str = "--at") -> dict[str, float | list]:
    """``'x=5, v=[1.0, 2.0]'`` → ``{'x': 5.0, 'v': [1.0, 2.0]}``: each a name, once, with a
    finite number or a (nested, rectangular) list of them, read with ``ast.literal_eval``
    (never ``eval``).  A dict or other pytree literal is refused: ``--at`` sets numbers and
    arrays; a pytree point is ``_tape.at(params=...)``."""
    import ast

    if text is None:
        return {}
    values: dict[str, float | list] = {}
    example = "x=5,v=[1.0,2.0]"
    for name, written in assignments(text, option, "NAME=VALUE", example).items():
        try:
            literal = ast.literal_eval(written)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            literal = written
        if isinstance(literal, dict | set):
            raise GradmagicError(
                f"{option} {name}={written}: {option} takes numbers and lists of numbers, not "
                f"pytrees; assign {name} in the notebook, or use _tape.at({name}=...) on a tape."
            )
        value = _numbers(literal)
        if value is None:
            raise GradmagicError(
                f"{option} {name}={written}: {written!r} is not a finite number or a list of "
                f"them (e.g. {option} {name}=0.5 or {name}=[1.0,2.0])."
            )
        values[name] = value
    return values


def _numbers(literal: Any) -> float | list | None:
    """A finite real number as a float, a rectangular nest of them as lists; else None."""
    if isinstance(literal, int | float) and not isinstance(literal, bool):
        try:
            number = float(literal)
        except OverflowError:
            return None
        return number if number - number == 0 else None  # NaN and ±inf are not points
    if not isinstance(literal, list | tuple) or not literal:
        return None
    items = [_numbers(item) for item in literal]
    if any(item is None for item in items):
        return None
    shapes = {_shape(item) for item in items}
    return items if len(shapes) == 1 else None


def _shape(value: float | list) -> tuple[int, ...]:
    return () if isinstance(value, float) else (len(value), *_shape(value[0]))


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


def _bound(text: str, name: str, which: str) -> float | list | None:
    """One end of ``--bounds NAME=LOWER:UPPER``: empty (open), a number, or a list of
    numbers for per-element bounds (read with ``ast.literal_eval``, never ``eval``)."""
    import ast

    text = text.strip()
    if not text:
        return None
    if text.startswith(("[", "(")):
        try:
            value = _numbers(ast.literal_eval(text))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = None
        if not isinstance(value, list):
            raise GradmagicError(
                f"--bounds {name}: the {which} bound {text} is not a list of finite numbers "
                f"(e.g. --bounds {name}=[0,0,-1]:[1,2,1], one per element)."
            )
        return value
    try:
        value = float(text)
    except ValueError:
        raise GradmagicError(
            f"--bounds {name}: the {which} bound {text!r} is not a number "
            f"(e.g. --bounds {name}=0:1, or {name}=:5 to leave the lower end open, or "
            f"{name}=[0,0]:[1,2] per element)."
        ) from None
    if value != value:  # NaN
        raise GradmagicError(f"--bounds {name}: the {which} bound is NaN; give a number.")
    return value


def _check_order(name: str, span: str, low: Any, high: Any) -> None:
    """Raise when a lower end lies above its upper end (per element for lists)."""
    import numpy as np

    from gradmagic import render

    try:
        lows, highs = np.broadcast_arrays(np.asarray(low, float), np.asarray(high, float))
    except ValueError:
        raise GradmagicError(
            f"--bounds {name}={span}: the lower bound's shape {np.shape(low)} and the upper "
            f"bound's {np.shape(high)} do not broadcast together; give lists of one shape "
            f"(or a number at either end)."
        ) from None
    above = np.argwhere(lows > highs)
    if not len(above):
        return
    if lows.ndim == 0:
        low_text, high_text = _top_level_split(span, ":")
        raise GradmagicError(
            f"--bounds {name}={span}: the lower bound is above the upper one; "
            f"write it as {name}={high_text.strip()}:{low_text.strip()}."
        )
    index = ", ".join(str(int(i)) for i in above[0])
    raise GradmagicError(
        f"--bounds {name}={span}: for {name}[{index}] the lower bound "
        f"{render.number(lows[tuple(above[0])])} is above the upper one "
        f"{render.number(highs[tuple(above[0])])}; swap them there."
    )


Bound = float | list | None


def bounds(text: str | None, variables: Iterable[str]) -> dict[str, tuple[Bound, Bound]]:
    """``'x=0:1, y=:5, v=[0,0]:[1,2]'`` → ``{'x': (0.0, 1.0), 'y': (None, 5.0), 'v': ([0.0,
    0.0], [1.0, 2.0])}``: either end may be left open, a number bounds every element of an
    array (every floating leaf of a pytree), a list bounds each element (its shape must
    broadcast to the variable's, checked when the run starts); every name must be one of
    ``variables`` (the ones being optimised)."""
    if text is None:
        return {}
    variables = list(variables)
    form, example = "NAME=LOWER:UPPER", "x=0:1,y=:5; either end may be left open"
    box: dict[str, tuple[Bound, Bound]] = {}
    for name, span in assignments(text, "--bounds", form, example).items():
        ends = _top_level_split(span, ":")
        if len(ends) != 2:
            raise GradmagicError(
                f"--bounds takes {form} pairs, comma-separated (e.g. --bounds {example}); "
                f"{name + '=' + span!r} is not one."
            )
        if name not in variables:
            raise GradmagicError(
                f"--bounds {name}: {name} is not a variable being optimised "
                f"({', '.join(variables)}); bound those, or add {name} to --wrt."
            )
        low, high = _bound(ends[0], name, "lower"), _bound(ends[1], name, "upper")
        if low is not None and high is not None:
            _check_order(name, span, low, high)
        box[name] = (low, high)
    return box


def callback(name: str | None, namespace: dict) -> object:
    """The notebook function ``--callback NAME`` names (None without the option)."""
    if name is None:
        return None
    if not is_name(name):
        raise GradmagicError(
            f"--callback takes a function's name (e.g. --callback report); got {name!r}."
        )
    if name not in namespace:
        raise GradmagicError(
            f"--callback {name}: {name} is not defined in the notebook; define it first "
            f"(def {name}(result): ...)."
        )
    if not callable(namespace[name]):
        raise GradmagicError(
            f"--callback {name}: {name} is not a function; give the name of one that takes "
            f"the result so far (def {name}(result): ...)."
        )
    return namespace[name]


def scipy_like(args: Any, variables: Iterable[str], namespace: dict) -> dict[str, Any]:
    """``--bounds``, ``--schedule`` and ``--callback`` of a ``%minimize`` line, checked."""
    return {
        "bounds": bounds(args.bounds, variables),
        "schedule": args.schedule,
        "callback": callback(args.callback, namespace),
    }


def training(args: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """``--data`` names and the ``batch``/``epochs``/``seed`` settings of a ``%minimize``
    line, checked against each other (``{}`` without data)."""
    data = names(args.data, "--data")
    own = ("batch", "epochs") if getattr(args, "starts", None) else ("batch", "epochs", "seed")
    given = [f"--{o}" for o in own if getattr(args, o) is not None]  # --starts seeds its draws
    if not data and given:
        raise GradmagicError(
            f"{' and '.join(given)} {'needs' if len(given) == 1 else 'need'} data: name the "
            "arrays of examples with --data (e.g. --data X,y)."
        )
    if args.epochs is not None and args.steps is not None:
        raise GradmagicError(
            "--steps and --epochs both set the run's length; give one (--epochs counts "
            "passes over the data)."
        )
    if not data:
        return (), {}
    seed = 0 if args.seed is None else args.seed
    return data, {"batch": args.batch, "epochs": args.epochs, "seed": seed}


def refuse(option: str, given: dict[str, Any]) -> None:
    """Raise when options that ``option`` does not honour were given (never ignore them)."""
    used = [f"--{name}" for name, value in given.items() if value]
    if used:
        raise GradmagicError(
            f"{option} does not take {', '.join(used)}; run without {option} to use "
            f"{'it' if len(used) == 1 else 'them'}."
        )

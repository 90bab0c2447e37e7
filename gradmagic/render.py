"""Deterministic text and HTML rendering of tables, numbers and arrays.

Every result object draws itself with these helpers, so notebooks and terminals see the
same rounded numbers (``settings.precision`` significant digits), no object addresses and
no timings: nbval compares these outputs byte for byte.  A table is a title, a header row
and rows of cells; :func:`text_table` aligns it in monospace, :func:`html_table` makes a
small styled ``<table>``.  Large arrays are elided the way NumPy does.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradmagic.settings import settings


def number(value: Any, precision: int | None = None) -> str:
    """A scalar rounded to ``precision`` significant digits: ``7.38906``, ``-2``, ``1e-07``."""
    precision = precision or settings.precision
    value = complex(value).real if isinstance(value, complex) else float(value)
    if value != value:  # NaN
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    text = f"{value:.{precision}g}"
    return "0" if text in ("-0", "0") else text


def array(value: Any, precision: int | None = None) -> str:
    """A scalar as :func:`number`; an array as ``(2, 2) [[8, 8], [8, 8]]`` on one line."""
    data = np.asarray(value)
    if data.shape == ():
        return number(data, precision)
    body = np.array2string(
        data,
        separator=", ",
        formatter={"all": lambda v: number(v, precision)},
        threshold=24,
        edgeitems=3,
        max_line_width=10_000,
    )
    return f"{data.shape} {' '.join(body.split())}"


SUMMARY_LIMIT = 6  # arrays with more numbers are summarised, not listed


def summary(value: Any, precision: int | None = None) -> str:
    """An array too big to list, in one short line: shape, norm, min/max and the first
    values (``(64, 2) ‖·‖ 3.1, min -0.9, max 1.2: 0.1, -0.2, 0.3, …``); small ones as
    :func:`array` shows them."""
    data = np.asarray(value)
    if data.size <= SUMMARY_LIMIT:
        return array(data, precision)
    flat = data.astype(np.float64).ravel()
    first = ", ".join(number(v, precision) for v in flat[:3])
    return (
        f"{data.shape} ‖·‖ {number(np.linalg.norm(flat), precision)}, "
        f"min {number(flat.min(), precision)}, max {number(flat.max(), precision)}: {first}, …"
    )


def value(data: Any, precision: int | None = None) -> str:
    """A variable's value in a result table: listed as :func:`array` shows it up to 24
    numbers, :func:`summary` beyond (a model's weights are never listed)."""
    return array(data, precision) if np.size(data) <= 24 else summary(data, precision)


def elided(count: int, edge: int = 3, limit: int = 10) -> list[int | None]:
    """Indices to show out of ``count``: all when small, else ``edge`` each side with None."""
    if count <= limit:
        return list(range(count))
    return [*range(edge), None, *range(count - edge, count)]


@dataclass
class Table:
    """A titled table: header cells, rows of cells, and notes printed under it."""

    title: str
    header: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    collapsible: bool = False  # HTML: a <details> the reader can fold (one per pytree)


def text_table(table: Table) -> str:
    """Align a table in monospace columns, title first and notes under it."""
    grid = [list(table.header), *[list(row) for row in table.rows]]
    widths = [max(len(row[i]) for row in grid) for i in range(len(table.header))]
    lines = [table.title] if table.title else []
    for row in grid:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    lines.extend(table.notes)
    return "\n".join(lines)


_TABLE_STYLE = "border-collapse:collapse;font-family:monospace;margin:0.2em 0 0.6em 0"
_CELL_STYLE = "padding:2px 10px;text-align:right;border-bottom:1px solid #ddd"
_HEAD_STYLE = "padding:2px 10px;text-align:right;border-bottom:2px solid #999"


def html_table(table: Table) -> str:
    """The same table as HTML with inline styles (no ids, no scripts: deterministic)."""
    escape = html.escape
    parts = []
    if table.collapsible:
        parts.append(
            f'<details open><summary style="font-weight:bold">{escape(table.title)}</summary>'
        )
    elif table.title:
        parts.append(f'<div style="font-weight:bold;margin-top:0.4em">{escape(table.title)}</div>')
    parts.append(f'<table style="{_TABLE_STYLE}"><thead><tr>')
    parts.extend(f'<th style="{_HEAD_STYLE}">{escape(cell)}</th>' for cell in table.header)
    parts.append("</tr></thead><tbody>")
    for row in table.rows:
        cells = [
            f'<td style="{_CELL_STYLE}{";font-weight:bold" if i == 0 else ""}">{escape(cell)}</td>'
            for i, cell in enumerate(row)
        ]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    parts.extend(f'<div style="font-size:90%">{escape(note)}</div>' for note in table.notes)
    if table.collapsible:
        parts.append("</details>")
    return "".join(parts)


def text_sections(sections: Sequence[Table | str]) -> str:
    """Join tables and plain paragraphs with blank lines (the ``__repr__`` of results)."""
    return "\n\n".join(s if isinstance(s, str) else text_table(s) for s in sections)


def html_sections(sections: Sequence[Table | str]) -> str:
    """Tables and paragraphs as one HTML fragment (the ``_repr_html_`` of results)."""
    parts = []
    for section in sections:
        if isinstance(section, Table):
            parts.append(html_table(section))
        elif "\n" in section:
            parts.append(f'<pre style="margin:0.3em 0">{html.escape(section)}</pre>')
        else:
            parts.append(f'<div style="margin:0.3em 0">{html.escape(section)}</div>')
    return '<div class="gradmagic">' + "".join(parts) + "</div>"


class Rendered:
    """Base of the result objects: their text and HTML come from one list of sections."""

    def _sections(self) -> list[Table | str]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return text_sections(self._sections())

    def _repr_html_(self) -> str:
        return html_sections(self._sections())

"""Drop what an executed notebook keeps that is random or large: widget state and views.

``make notebooks`` runs this after ``jupyter nbconvert --execute`` has saved the tutorials'
outputs. A run leaves two things that change every time although nothing changed:

- the widget state in the notebook metadata (``widgets``), large and full of model ids;
- the widget-view output (``application/vnd.jupyter.widget-view+json``) of every widget a
  cell displays, which names a model id that is random on each run.

Both go; a widget output keeps its ``text/plain`` summary, which is what nbval compares and
what a reader without a kernel sees. Usage::

    python tools/tidy_notebooks.py [NOTEBOOK.ipynb ...]   # default: notebooks/*.ipynb
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def tidy(path: Path) -> bool:
    """Drop widget state and widget views from an executed notebook; True if it changed."""
    notebook = nbformat.read(path, as_version=4)
    changed = notebook.metadata.pop("widgets", None) is not None
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "text/plain" in data:
                del data[WIDGET_VIEW]
                changed = True
    if changed:
        nbformat.write(notebook, path)
    return changed


def main(arguments: list[str]) -> None:
    paths = [Path(argument) for argument in arguments] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        if tidy(path):
            print("tidied", path)


if __name__ == "__main__":
    main(sys.argv[1:])

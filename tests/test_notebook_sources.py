"""The tutorials' sources, notebooks/NN-name.py (jupytext percent format), match their .ipynb.

Each .py is what we edit and review; its .ipynb holds the saved outputs that nbval compares.
JupyterLab with jupytext saves both, and ``make notebooks`` syncs them, but an editor that
knows only one of them does not: these tests fail until the pair is synced again (``make
notebooks``, or ``jupytext --sync notebooks/NN-name.py`` to sync without re-executing).
No kernel runs here: the notebooks are only read.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
STEMS = sorted({path.stem for path in NOTEBOOKS.glob("*.ipynb")})


def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    """What a source must agree on with its notebook: type, text and tags of every cell."""
    return [
        (cell.cell_type, cell.source, list(cell.metadata.get("tags", [])))
        for cell in notebook.cells
    ]


def test_every_notebook_has_a_source_and_every_source_a_notebook():
    sources = {path.stem for path in NOTEBOOKS.glob("*.py")}
    assert STEMS, f"no notebooks in {NOTEBOOKS}"
    without_source = sorted(f"{stem}.ipynb" for stem in set(STEMS) - sources)
    without_notebook = sorted(f"{stem}.py" for stem in sources - set(STEMS))
    assert without_source == [], "notebooks without a .py source: jupytext --sync them"
    assert without_notebook == [], "sources without a .ipynb: jupytext --sync them"


@pytest.mark.parametrize("stem", STEMS)
def test_source_matches_notebook(stem):
    source_path = NOTEBOOKS / f"{stem}.py"
    if not source_path.exists():
        pytest.skip(f"{stem}.py is missing (reported by the test above)")
    source = jupytext.read(source_path)
    # The header names the format: guessing it can fail (a magic indented in a function
    # reads as the 'hydrogen' format, whose magics are not commented out).
    representation = source.metadata.get("jupytext", {}).get("text_representation", {})
    assert representation.get("format_name") == "percent", f"{stem}.py: no percent header"

    notebook = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    expected, found = cells(notebook), cells(source)
    for index, (in_notebook, in_source) in enumerate(zip(expected, found, strict=False)):
        assert in_source == in_notebook, (
            f"{stem}: cell {index} differs between the .py and the .ipynb "
            "(run `make notebooks`, or `jupytext --sync` on the newer file)"
        )
    assert len(found) == len(expected), (
        f"{stem}: {len(found)} cells in the .py, {len(expected)} in the .ipynb"
    )

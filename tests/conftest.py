"""Shared fixtures: a real IPython shell with gradmagic loaded and a clean namespace."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

# A compilation cache (and saved loops) of this test run only: counts of compilations must
# not depend on what an earlier run left in ~/.cache, and tests must not fill it.
os.environ.setdefault("GRADMAGIC_COMPILATION_CACHE", tempfile.mkdtemp(prefix="gradmagic-tests-"))


class Notebook:
    """Runs cells in a real InteractiveShell, the way a notebook would."""

    def __init__(self, shell: InteractiveShell) -> None:
        self.shell = shell

    @property
    def ns(self) -> dict[str, Any]:
        return self.shell.user_ns

    def run(self, source: str) -> Any:
        """Run a cell that must succeed; return its result (what Out[] would show)."""
        result = self.shell.run_cell(source, store_history=False)
        if result.error_before_exec is not None:
            raise result.error_before_exec
        if result.error_in_exec is not None:
            raise result.error_in_exec
        return result.result

    def capture(self, source: str) -> tuple[Any, Any]:
        """Run a cell, returning (result, captured output: stdout and displays)."""
        with capture_output() as captured:
            result = self.shell.run_cell(source, store_history=False)
        return result, captured

    def shown(self, source: str) -> str:
        """Run a cell; return all the text it shows (printed and displayed text/plain)."""
        result, captured = self.capture(source)
        if result.error_in_exec is not None:
            raise result.error_in_exec
        texts = [output.data.get("text/plain", "") for output in captured.outputs]
        return captured.stdout + "\n".join(texts)

    def error(self, source: str) -> BaseException:
        """Run a cell that must fail; return the exception."""
        with capture_output():
            result = self.shell.run_cell(source, store_history=False)
        error = result.error_in_exec or result.error_before_exec
        assert error is not None, f"expected {source!r} to fail"
        return error

    def usage_error(self, source: str) -> str:
        """Run a cell that must fail with one UsageError (no traceback) and leave the
        user's namespace exactly as it was; return the message."""
        from IPython.core.error import UsageError

        before = self.user_names()
        error = self.error(source)
        assert isinstance(error, UsageError), error
        assert "Traceback" not in str(error)
        assert self.user_names() == before
        return str(error)

    def user_names(self) -> dict[str, Any]:
        """The user's variables (IPython's own bookkeeping left out), for snapshots."""
        hidden = set(self.shell.user_ns_hidden) | {"_tape", "_min"}
        return {k: v for k, v in self.ns.items() if not k.startswith("_") and k not in hidden}


@pytest.fixture(autouse=True)
def _progress_bars_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit tests see progress bars even where the notebooks' runs turn them off."""
    monkeypatch.delenv("GRADMAGIC_PROGRESS", raising=False)


@pytest.fixture
def nb() -> Notebook:
    shell = InteractiveShell.instance()
    shell.reset(new_session=False)
    with capture_output():
        shell.run_cell("%load_ext gradmagic", store_history=False)
    magics = shell.magics_manager.registry["GradMagics"]
    magics.precision, magics.jit = 6, False
    return Notebook(shell)

"""Helpers that drive a real JupyterLab 4 page with Playwright (sync API).

Everything here waits on signals that JupyterLab itself exposes (DOM state of the
notebook, the kernel execution indicator, the ``window.jupyterapp`` object that the
``jupyter_server`` fixture exposes with ``LabApp.expose_app_in_browser``) and never
on fixed sleeps.

Typical use in a test::

    import pytest
    from lab import cell_output, open_notebook, run_all_cells, write_notebook

    @pytest.mark.browser
    def test_panel(jupyter_server, browser_page):
        write_notebook(jupyter_server, "panel.ipynb", ["import gradmagic", "panel = ..."])
        open_notebook(browser_page, jupyter_server, "panel.ipynb")
        run_all_cells(browser_page)        # raises with the traceback if a cell failed
        out = cell_output(browser_page, 1)  # Locator of cell 1's output area
        out.locator(".widget-dropdown select").select_option(label="adam")
        ...

Widget helpers (``start_image_probe``/``image_probe_result``, ``wait_for_new_image``,
``wait_for_text``, ``image_src``) take such an output-area Locator as ``root`` and
query the <img>/label inside it on every check, so they keep working when a widget
replaces its DOM (``ipywidgets.Output``, ``HTML``).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.request
import uuid
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"

# Timeouts in milliseconds (Playwright's unit).
LAB_LOAD_TIMEOUT_MS = 90_000
KERNEL_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 120_000


class LabServer(NamedTuple):
    """What the ``jupyter_server`` fixture yields; unpacks as ``url, token, root_dir``."""

    url: str  # base URL with trailing slash, e.g. "http://127.0.0.1:8899/"
    token: str
    root_dir: Path  # the server's root: put notebooks here

    def api(self, path: str, method: str = "GET", timeout: float = 10.0):
        """Call the Jupyter REST API (``path`` like ``"api/kernels"``); returns parsed JSON."""
        req = urllib.request.Request(
            self.url + path.lstrip("/"),
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        # Never go through a proxy for the local server.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def lab_url(self, notebook_path: str, workspace: str | None = None) -> str:
        """URL that opens ``notebook_path`` in JupyterLab (optionally in a named workspace)."""
        ws = f"workspaces/{quote(workspace)}/" if workspace else ""
        return f"{self.url}lab/{ws}tree/{quote(notebook_path)}?token={quote(self.token)}"


# --------------------------------------------------------------------------- notebooks


def write_notebook(
    server: LabServer,
    name: str,
    cells: list[str],
    *,
    kernel_name: str = "python3",
) -> Path:
    """Write a fresh notebook (code cells, no outputs) into the server's root dir.

    The kernelspec metadata is set so JupyterLab starts the kernel without asking.
    A string starting with ``"# md\\n"`` becomes a markdown cell (rest of the text).
    """
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb_cells = []
    for src in cells:
        if src.startswith("# md\n"):
            nb_cells.append(new_markdown_cell(src[len("# md\n") :]))
        else:
            nb_cells.append(new_code_cell(src))
    nb = new_notebook(
        cells=nb_cells,
        metadata={
            "kernelspec": {
                "name": kernel_name,
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
    )
    path = Path(server.root_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# --------------------------------------------------------------------------- page state

# One JS function that reports the state of the page; used by several waits.
# Returns one of: "dialog", "loading", "no-kernel", "<kernel status>".
_PAGE_STATE_JS = """
(path) => {
  if (document.querySelector('.jp-Dialog')) return 'dialog';
  const app = window.jupyterapp;
  const widget = app && app.shell && app.shell.currentWidget;
  let panel = null;
  if (widget) {
    if (!widget.node.classList.contains('jp-NotebookPanel')) return 'loading';
    if (path && widget.context && widget.context.path !== path) return 'other-document';
    panel = widget.node;
  } else {
    panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  }
  if (!panel || !panel.querySelector('.jp-Notebook .jp-Cell')) return 'loading';
  if (panel.querySelector('.jp-Spinner')) return 'loading';
  if (widget) {
    if (widget.context && !widget.context.isReady) return 'loading';
    const ctx = widget.sessionContext;
    if (ctx) {
      if (!ctx.isReady) return 'loading';
      if (ctx.hasNoKernel) return 'no-kernel';
      const kernel = ctx.session && ctx.session.kernel;
      if (!kernel) return 'loading';
      if (kernel.connectionStatus !== 'connected') return 'connecting';
      if (kernel.status !== 'idle') return kernel.status;
    }
  }
  const ind = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  if (!ind) return 'loading';
  return ind.getAttribute('data-status') || 'loading';
}
"""


def page_state(page, notebook_path: str | None = None) -> str:
    """'idle', 'busy', 'loading', 'dialog', 'other-document', 'no-kernel'... of the page."""
    return page.evaluate(_PAGE_STATE_JS, notebook_path)


def dismiss_dialogs(page) -> int:
    """Accept every JupyterLab modal dialog that is open (e.g. kernel selection).

    The accept button of the kernel-selection dialog ("Select") keeps the proposed
    kernel. Returns the number of dialogs dismissed.
    """
    n = 0
    for _ in range(5):
        dialog = page.locator(".jp-Dialog")
        if dialog.count() == 0:
            break
        accept = dialog.locator(".jp-Dialog-button.jp-mod-accept").first
        if accept.count():
            accept.click()
        else:
            page.keyboard.press("Escape")
        dialog.first.wait_for(state="detached", timeout=10_000)
        n += 1
    return n


def dismiss_toasts(page) -> None:
    """Close any notification toast (news, update checks...) that may cover the UI."""
    for btn in page.locator(".jp-Notification-Toast-close, .Toastify__close-button").all():
        with contextlib.suppress(Exception):
            btn.click(timeout=2_000)


def wait_kernel_idle(
    page, notebook_path: str | None = None, timeout: float = KERNEL_TIMEOUT_MS
) -> None:
    """Wait until the current notebook's kernel is connected and idle.

    With ``notebook_path`` it also waits until that notebook is the current document.
    Accepts modal dialogs (kernel selection, "kernel restarted"...) on the way.
    """
    deadline = time.monotonic() + timeout / 1000
    while True:
        remaining = max(1_000.0, (deadline - time.monotonic()) * 1000)
        try:
            handle = page.wait_for_function(
                f"(path) => {{ const s = ({_PAGE_STATE_JS})(path); "
                "return (s === 'idle' || s === 'dialog' || s === 'dead') ? s : false; }",
                arg=notebook_path,
                timeout=remaining,
                polling=100,
            )
        except Exception as exc:
            if type(exc).__name__ != "TimeoutError":
                raise
            raise AssertionError(
                f"kernel not idle after {timeout / 1000:.0f} s; page state is "
                f"{page_state(page, notebook_path)!r}"
            ) from exc
        state = handle.json_value()
        if state == "idle":
            return
        if state == "dialog":
            dismiss_dialogs(page)
            continue
        raise AssertionError(f"notebook kernel is {state!r}, not idle")


def open_notebook(
    page,
    server: LabServer,
    notebook_path: str,
    timeout: float = LAB_LOAD_TIMEOUT_MS,
) -> None:
    """Open ``notebook_path`` (relative to the server root) and wait for an idle kernel.

    Each call uses a new, empty JupyterLab workspace, so documents opened by earlier
    tests are not restored next to it.
    """
    page.goto(
        server.lab_url(notebook_path, workspace=f"t{uuid.uuid4().hex[:12]}"),
        wait_until="domcontentloaded",
        timeout=timeout,
    )
    page.locator("#jp-main-dock-panel").wait_for(state="attached", timeout=timeout)
    wait_kernel_idle(page, notebook_path, timeout=timeout)
    dismiss_toasts(page)


# A JS expression evaluating to the node of the current notebook panel (or null).
_PANEL_EXPR = (
    "(() => { const a = window.jupyterapp; const w = a && a.shell && a.shell.currentWidget;"
    " if (w) return w.node.classList.contains('jp-NotebookPanel') ? w.node : null;"
    " return document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)'); })()"
)
# ... and to the nbformat JSON of the current notebook's (frontend) model, or null.
_NB_JSON_EXPR = (
    "(() => { const a = window.jupyterapp; const w = a && a.shell && a.shell.currentWidget;"
    " return w && w.content && w.content.model ? w.content.model.toJSON() : null; })()"
)

_RUN_DONE_JS = f"""
() => {{
  const panel = {_PANEL_EXPR};
  const nb = {_NB_JSON_EXPR};
  if (!panel || !nb) return false;
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
  if (prompts.some(p => p.textContent.includes('*'))) return false;  // queued/running
  const code = nb.cells.filter(c => c.cell_type === 'code');
  const errored = code.some(c => (c.outputs || []).some(o => o.output_type === 'error'));
  return errored || code.every(c => c.execution_count !== null);
}}
"""


def notebook_json(page) -> dict:
    """The current notebook as nbformat JSON, from JupyterLab's live model (outputs too)."""
    nb = page.evaluate(f"() => {_NB_JSON_EXPR}")
    assert nb is not None, "no current notebook"
    return nb


def notebook_panel(page):
    """Locator of the current notebook panel (the document in front)."""
    panel_id = page.evaluate(
        "() => { const a = window.jupyterapp; const w = a && a.shell && a.shell.currentWidget;"
        " return w && w.node.classList.contains('jp-NotebookPanel') ? w.id : null; }"
    )
    if panel_id:
        return page.locator(f'[id="{panel_id}"]')
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first


def execution_counts(page) -> list[int | None]:
    """Execution count of each code cell of the current notebook (None if not run)."""
    return [
        c.get("execution_count") for c in notebook_json(page)["cells"] if c["cell_type"] == "code"
    ]


def cell_errors(page) -> list[str]:
    """``ename: evalue`` + traceback of every error output in the current notebook."""
    errors = []
    for c in notebook_json(page)["cells"]:
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                tb = "\n".join(o.get("traceback", []))
                errors.append(f"{o.get('ename')}: {o.get('evalue')}\n{_strip_ansi(tb)}")
    return errors


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _click_menu(page, menu: str, item: str) -> None:
    """Click ``menu`` in the main menu bar, then its entry ``item`` (exact label)."""
    page.locator(".lm-MenuBar-itemLabel").filter(
        has_text=re.compile(f"^{re.escape(menu)}$")
    ).click()
    entry = page.locator(".lm-Menu-content > .lm-Menu-item:not(.lm-mod-disabled)").filter(
        has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$"))
    )
    entry.click()
    page.locator(".lm-Menu").first.wait_for(state="detached", timeout=10_000)


def clear_all_outputs(page) -> None:
    """Edit > Clear Outputs of All Cells (also clears the execution counts)."""
    _click_menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        f"() => {{ const nb = {_NB_JSON_EXPR}; return !!nb && nb.cells.every("
        "c => c.cell_type !== 'code' || (c.execution_count === null && c.outputs.length === 0)); }",
        timeout=10_000,
    )


def run_all_cells(page, timeout: float = RUN_TIMEOUT_MS, *, allow_errors: bool = False) -> None:
    """Run > Run All Cells, then wait until every code cell ran and the kernel is idle.

    Outputs/execution counts are cleared first, so a count on every cell really
    means that this run executed it. Raises AssertionError if a cell raised an
    exception (unless ``allow_errors``), with the traceback in the message.
    """
    wait_kernel_idle(page)
    clear_all_outputs(page)
    _click_menu(page, "Run", "Run All Cells")
    page.wait_for_function(_RUN_DONE_JS, timeout=timeout, polling=100)
    wait_kernel_idle(page, timeout=timeout)
    errors = cell_errors(page)
    if not allow_errors:
        assert not errors, "cell raised:\n" + "\n---\n".join(errors)
    if not errors:
        assert all(n is not None for n in execution_counts(page)), execution_counts(page)


def cell(page, index: int):
    """Locator of the ``index``-th cell (0-based, markdown cells count) of the current notebook."""
    return notebook_panel(page).locator(".jp-Notebook .jp-Cell").nth(index)


def cell_output(page, index: int):
    """Locator of the output area of the ``index``-th cell."""
    return cell(page, index).locator(".jp-OutputArea")


# --------------------------------------------------------------------------- widgets

_PROBE_JS = """
([root, selector]) => {
  const probe = {start: null, startEvent: null, images: []};
  const seen = new Set();
  // an <img> changes its src; anything else (an SVG overlay) its content
  const sig = (el) => el.tagName === 'IMG' ? el.src : el.innerHTML;
  const first = root.querySelector(selector);
  if (first && sig(first)) seen.add(sig(first));
  const mark = (ev) => {
    if (probe.start === null && root.contains(ev.target)) {
      probe.start = performance.now();
      probe.startEvent = ev.type;
    }
  };
  for (const type of ['keydown', 'pointerdown', 'mousedown', 'input', 'change'])
    document.addEventListener(type, mark, true);
  const check = () => {
    const el = root.querySelector(selector);
    if (!el || !sig(el) || seen.has(sig(el))) return;
    seen.add(sig(el));
    const rec = {changed: performance.now(), shown: null};
    probe.images.push(rec);
    const done = () => { if (rec.shown === null) rec.shown = performance.now(); };
    // an image: decoded; other content: after the next frame (painted)
    if (el.tagName === 'IMG') el.decode().then(done, done);
    else requestAnimationFrame(() => setTimeout(done, 0));
  };
  new MutationObserver(check).observe(root, {
    subtree: true, childList: true, characterData: true, attributes: true,
    attributeFilter: ['src']});
  window.__labProbe = probe;
}
"""


def start_image_probe(page, root, img_selector: str = "img") -> None:
    """Start timing user input -> new image inside ``root`` (a Locator, e.g. an output area).

    Records the first keydown/pointerdown/input/change event inside ``root`` and every
    new ``src`` of the element matching ``img_selector`` (also when the <img> itself is
    replaced, as an ``ipywidgets.Output`` does), with the time it finished decoding; for
    an element that is not an <img> (an SVG overlay), every new content, with the time
    of the frame after it (requestAnimationFrame, then a task: painted).
    Read the result with :func:`image_probe_result`.
    """
    page.evaluate(_PROBE_JS, [root.element_handle(), img_selector])


def image_probe_result(page, timeout: float = 10_000) -> dict:
    """Wait until the last new image recorded by the probe is decoded; return timings.

    Keys: ``n_images``, ``first_ms`` / ``last_ms`` (input event -> first / last new
    image decoded, ms), ``start_event``.
    """
    # One check that also reads the result: an image arriving between a wait and a
    # separate read would still be decoding (its ``shown`` not set yet).
    handle = page.wait_for_function(
        "() => { const p = window.__labProbe; return !!p && p.start !== null"
        " && p.images.length > 0 && p.images.every(r => r.shown !== null)"
        " && JSON.parse(JSON.stringify(p)); }",
        timeout=timeout,
    )
    p = handle.json_value()
    return {
        "n_images": len(p["images"]),
        "first_ms": p["images"][0]["shown"] - p["start"],
        "last_ms": p["images"][-1]["shown"] - p["start"],
        "start_event": p["startEvent"],
    }


def image_src(root, img_selector: str = "img") -> str | None:
    """Current ``src`` of the image in ``root`` (a Locator), or None; for an element that
    is not an <img> (an SVG overlay), its content."""
    return root.evaluate(
        "(root, sel) => { const i = root.querySelector(sel);"
        " return i ? (i.tagName === 'IMG' ? i.src : i.innerHTML) : null; }",
        img_selector,
    )


def wait_for_new_image(
    page, root, before_src: str | None, img_selector: str = "img", timeout: float = 30_000
) -> str:
    """Wait until the image in ``root`` has a src other than ``before_src`` and is loaded
    (for an element that is not an <img>: content other than ``before_src``)."""
    handle = page.wait_for_function(
        """([root, sel, before]) => {
            const img = root.querySelector(sel);
            if (img && img.tagName !== 'IMG')
              return img.innerHTML && img.innerHTML !== before ? img.innerHTML : false;
            return !!img && !!img.src && img.src !== before && img.complete
              && img.naturalWidth > 0 ? img.src : false; }""",
        arg=[root.element_handle(), img_selector, before_src],
        timeout=timeout,
    )
    return handle.json_value()


def wait_for_text(
    page, root, selector: str, text: str, timeout: float = 30_000, *, contains: bool = False
) -> None:
    """Wait until the element ``selector`` inside ``root`` has (trimmed) text ``text``
    (or, with ``contains=True``, text that includes it)."""
    page.wait_for_function(
        """([root, sel, text, contains]) => {
            const el = root.querySelector(sel);
            if (!el) return false;
            const shown = el.textContent.trim();
            return contains ? shown.includes(text) : shown === text; }""",
        arg=[root.element_handle(), selector, text, contains],
        timeout=timeout,
    )


def screenshot(page, name: str, **kwargs) -> Path:
    """Save a PNG screenshot into ``test-artifacts/`` at the repo root; returns its path."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / (name if name.endswith(".png") else name + ".png")
    page.screenshot(path=str(path), **kwargs)
    return path


class OfflinePage(NamedTuple):
    """A page that can load nothing from the network, with what it asked for and its errors."""

    context: object
    page: object
    requests: list
    errors: list


def offline_page(browser, url: str) -> OfflinePage:
    """Open ``url`` (a ``file://`` page) in a new 1300 × 900 context with every http(s)
    request aborted, recording the requests made and the page's uncaught errors."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("http*://**", lambda route: route.abort())  # offline: nothing can load
    page.goto(url)
    return OfflinePage(context, page, requests, errors)

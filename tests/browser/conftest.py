"""Fixtures for browser tests: a private JupyterLab server and headless Chromium pages.

* ``jupyter_server`` (session): a JupyterLab 4 server from this venv on 127.0.0.1 with a
  random port and token, its own root/config/runtime/IPython/settings/workspace dirs,
  and no network access (news, update checks and the PyPI extension manager are off).
  Yields a :class:`lab.LabServer` ``(url, token, root_dir)``.
* ``browser`` (session): Debian's Chromium launched by Playwright (headless).
* ``browser_page`` (function): a fresh context + page (1400x1000). On teardown, the
  kernels the test started are shut down and, if the test failed, a screenshot is
  saved to ``test-artifacts/<test name>-failure.png``.

The helpers that drive the page (``open_notebook``, ``run_all_cells``,
``wait_kernel_idle``, ``write_notebook``...) live in ``lab.py`` next to this file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# So tests can `import lab` (and this file `servers`, in tests/) under any --import-mode.
for _path in (HERE, HERE.parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from lab import ARTIFACTS_DIR, REPO_ROOT, LabServer  # noqa: E402
from servers import free_port, stop_process_group, wait_until_answering  # noqa: E402

CHROMIUM = os.environ.get("GRADMAGIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
]
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_TIMEOUT_S = 60.0
_LOCAL_URL_PREFIXES = ("http://127.0.0.1:", "ws://127.0.0.1:", "blob:", "data:", "about:")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab in headless Chromium")


def pytest_collection_modifyitems(config, items):
    # Skip before any fixture runs (no point starting JupyterLab without a browser).
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if item.get_closest_marker("browser") or "browser_page" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Remember each phase's report on the item so fixtures can see if the test failed.
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


# --------------------------------------------------------------------------- server


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


@pytest.fixture(scope="session")
def jupyter_server():
    """Start a private JupyterLab server; yields ``LabServer(url, token, root_dir)``."""
    pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")
    base = Path(tempfile.mkdtemp(prefix="gradmagic-lab-"))
    root = base / "root"
    config_dir = base / "config"
    data_dir = base / "data"
    runtime_dir = base / "runtime"
    ipython_dir = base / "ipython"
    settings_dir = base / "user-settings"
    workspaces_dir = base / "workspaces"
    for d in (root, config_dir, data_dir, runtime_dir, ipython_dir, settings_dir, workspaces_dir):
        d.mkdir(parents=True)

    token = secrets.token_hex(24)
    port = free_port()

    # Nothing may reach the network: no news feed, no update check, no PyPI-backed
    # extension manager. The announcements plugin is disabled as well.
    _write_json(
        config_dir / "jupyter_server_config.json",
        {
            "IdentityProvider": {"token": token},
            "ServerApp": {
                "ip": "127.0.0.1",
                "port": port,
                "port_retries": 0,
                "open_browser": False,
                "root_dir": str(root),
                "allow_remote_access": False,
                "password": "",
                # CI containers run as root; harmless otherwise.
                "allow_root": hasattr(os, "geteuid") and os.geteuid() == 0,
            },
            "LabApp": {
                "news_url": None,
                "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
                "extension_manager": "readonly",
                "expose_app_in_browser": True,
                "user_settings_dir": str(settings_dir),
                "workspaces_dir": str(workspaces_dir),
            },
        },
    )
    _write_json(
        config_dir / "labconfig" / "page_config.json",
        {
            "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
            # No "is a rebuild needed?" check on page load (saves CPU on small runners).
            "buildCheck": False,
            "buildAvailable": False,
        },
    )
    # User settings: never fetch news / check updates, no toasts, and attach every
    # cell to the DOM (windowing off) so selectors see all cells.
    _write_json(
        settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
    )
    _write_json(
        settings_dir / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
        {"windowingMode": "none"},
    )

    env = dict(os.environ)
    # JUPYTER_DATA_DIR is the *user* data dir; the venv's share/jupyter (kernel spec,
    # @jupyter-widgets lab extension) stays on the path via sys.prefix.
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(data_dir),
        JUPYTER_RUNTIME_DIR=str(runtime_dir),
        IPYTHONDIR=str(ipython_dir),
        JUPYTER_PLATFORM_DIRS="0",
        JUPYTER_PREFER_ENV_PATH="1",
        MPLBACKEND="Agg",
        PYTHONUNBUFFERED="1",
    )
    # The kernel runs in the server's tmp root; let it import this checkout's gradmagic
    # even when the package is not (editable-)installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    for var in ("JUPYTER_TOKEN", "JUPYTER_TOKEN_FILE", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH"):
        env.pop(var, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"

    ARTIFACTS_DIR.mkdir(exist_ok=True)
    log_path = ARTIFACTS_DIR / "jupyter-server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser"],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: kernels die with it
    )
    server = LabServer(url=f"http://127.0.0.1:{port}/", token=token, root_dir=root)
    try:
        wait_until_answering(
            proc, lambda: server.api("api/status", timeout=2), log_path, SERVER_START_TIMEOUT_S
        )
        specs = server.api("api/kernelspecs")
        assert "python3" in specs["kernelspecs"], specs
        yield server
    finally:
        stop_process_group(proc)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def shutdown_kernels(server: LabServer) -> None:
    """Shut down every kernel the server is running (between tests)."""
    try:
        for k in server.api("api/kernels"):
            with contextlib.suppress(Exception):
                server.api(f"api/kernels/{k['id']}", method="DELETE", timeout=20)
        for s in server.api("api/sessions"):
            with contextlib.suppress(Exception):
                server.api(f"api/sessions/{s['id']}", method="DELETE", timeout=20)
    except Exception:
        pass


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (shared by the session)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(request, browser, jupyter_server):
    """A fresh page (1400x1000) in its own browser context.

    ``page.console_errors`` collects console errors and uncaught page errors (handy
    when a widget fails to render); ``page.external_requests`` lists every request
    that went anywhere but the local server (should stay empty).
    """
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    external: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on(
        "request",
        lambda r: None if r.url.startswith(_LOCAL_URL_PREFIXES) else external.append(r.url),
    )
    page.console_errors = errors
    page.external_requests = external
    failure_png = ARTIFACTS_DIR / f"{request.node.name}-failure.png"
    failure_png.unlink(missing_ok=True)
    try:
        yield page
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            ARTIFACTS_DIR.mkdir(exist_ok=True)
            with contextlib.suppress(Exception):
                page.screenshot(path=str(failure_png))
            if errors:
                print("browser console errors:\n  " + "\n  ".join(errors[-20:]))
        with contextlib.suppress(Exception):
            context.close()
        shutdown_kernels(jupyter_server)

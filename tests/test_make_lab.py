"""`make lab`, the README's main command, really starts JupyterLab on the tutorials.

Runs the target itself (as root or not: the Makefile adds ``--allow-root`` only for
root) against this checkout's ``.venv``, with a free port, a known token and private
Jupyter/IPython directories, then checks what a user relies on: the server listens on
127.0.0.1, serves ``notebooks/``, and refuses requests without the token.  Not a
browser test: no Chromium, a few seconds.

Needs the venv that ``make test`` (or ``make lab``) builds first; when its stamp is out
of date the test skips rather than install everything inside a test.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # `servers` lives next to this file (any --import-mode)
    sys.path.insert(0, str(HERE))

from servers import free_port, stop_process_group, tail, wait_until_answering  # noqa: E402

REPO_ROOT = HERE.parent
STAMP = ".venv/.gradmagic-installed"
TUTORIAL = "00-welcome.ipynb"
START_TIMEOUT_S = 60.0

# Never through a proxy, and never follow redirects: a redirect to /login is an answer.
_opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({}),
    type(
        "NoRedirect",
        (urllib.request.HTTPRedirectHandler,),
        {"redirect_request": lambda *args, **kwargs: None},
    ),
)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a GET; HTTP errors and redirects are returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _make_env() -> dict[str, str]:
    """This environment without an outer make's flags (`make test` runs this test)."""
    drop = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _make_lab_env(base: Path, token: str) -> dict[str, str]:
    """The environment for `make lab`: private Jupyter/IPython dirs and a known token."""
    env = {k: v for k, v in _make_env().items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "IPYTHONDIR": base / "ipython",
    }
    for var, path in dirs.items():
        path.mkdir()
        env[var] = str(path)
    env.update(
        JUPYTER_TOKEN=token,
        JUPYTER_PLATFORM_DIRS="0",
        HOME=str(base / "home"),  # nothing read from or written to the real home
        BROWSER="true",  # belt and braces with --no-browser
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    (base / "home").mkdir()
    return env


pytestmark = pytest.mark.make_lab


@pytest.fixture
def make_lab(tmp_path):
    """Start `make lab` on a free port; yields (base url, token, runtime dir, process)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    up_to_date = subprocess.run([make, "--question", STAMP], cwd=REPO_ROOT, env=_make_env())
    if up_to_date.returncode != 0:
        pytest.skip(f"{STAMP} is missing or out of date (`make {STAMP}` or `make test` builds it)")

    token = secrets.token_hex(24)
    port = free_port()
    env = _make_lab_env(tmp_path, token)
    log_path = tmp_path / "make-lab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                make,
                "--no-print-directory",
                "lab",
                f"LAB_ARGS=--no-browser --port={port} --ServerApp.port_retries=0",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole below
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_answering(
            proc,
            lambda: _opener.open(f"{url}api/status?token={token}", timeout=2).close(),
            log_path,
            START_TIMEOUT_S,
        )
        yield url, token, Path(env["JUPYTER_RUNTIME_DIR"]), proc
    finally:
        leftovers = stop_process_group(proc)
    assert not leftovers, f"processes survived SIGTERM: {leftovers}\n{tail(log_path)}"
    log_text = log_path.read_text(errors="replace")
    assert "pip install" not in log_text, "make lab reinstalled the venv:\n" + tail(log_path)
    # A clean shutdown removes the server's runtime file.
    assert not list(Path(env["JUPYTER_RUNTIME_DIR"]).glob("jpserver-*.json")), tail(log_path)


def test_make_lab_serves_the_tutorials_behind_a_token(make_lab):
    url, token, runtime_dir, proc = make_lab

    # The server `make lab` started: on 127.0.0.1, rooted at notebooks/, with our token.
    (info_path,) = runtime_dir.glob("jpserver-*.json")
    info = json.loads(info_path.read_text())
    assert info["url"] == url
    assert info["token"] == token
    assert Path(info["root_dir"]).resolve() == (REPO_ROOT / "notebooks").resolve()

    # With the token: the tutorial's notebook, as it is on disk, and the JupyterLab page.
    status, _, body = _get(f"{url}api/contents/{TUTORIAL}?token={token}")
    assert status == 200, body[:500]
    model = json.loads(body)
    on_disk = json.loads((REPO_ROOT / "notebooks" / TUTORIAL).read_text())
    assert model["type"] == "notebook" and model["name"] == TUTORIAL
    assert [c["source"] for c in model["content"]["cells"]] == [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in on_disk["cells"]
    ]
    status, _, body = _get(f"{url}api/contents/{TUTORIAL}", {"Authorization": f"token {token}"})
    assert status == 200
    status, _, body = _get(f"{url}lab?token={token}")
    assert status == 200 and b"jupyter-config-data" in body, body[:500]

    # Without it (or with a wrong one): refused, or sent to the login page.
    for path in (f"api/contents/{TUTORIAL}", "api/kernels", "api/sessions"):
        status, _, _ = _get(url + path)
        assert status == 403, (path, status)
        status, _, _ = _get(f"{url}{path}?token={'0' * len(token)}")
        assert status == 403, (path, status)
    status, headers, _ = _get(f"{url}lab")
    assert status == 302 and "/login" in headers["Location"], (status, headers)

    assert proc.poll() is None, "make lab exited while serving"

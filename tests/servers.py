"""Local server processes for tests: a free port, a log's tail, stopping a process group.

Shared by the browser fixtures (``tests/browser/conftest.py``) and ``test_make_lab.py``;
standard library only, so any test can import it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 60) -> str:
    """The last ``n`` lines of a log file (for failure messages)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "<no log>"


def wait_until_answering(
    proc: subprocess.Popen, probe: Callable[[], object], log_path: Path, timeout_s: float
) -> None:
    """Call ``probe`` every 0.2 s until it returns without a connection error; raise
    (with the log's tail) if ``proc`` exits first or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            probe()
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer within {timeout_s:.0f} s:\n{tail(log_path)}")
        time.sleep(0.2)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group ``pgid`` (Linux: read from /proc)."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may contain spaces, so split after ")".
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def stop_process_group(proc: subprocess.Popen, grace_s: float = 15.0) -> list[int]:
    """Stop ``proc`` and everything in its process group (it must have been started with
    ``start_new_session=True``): SIGTERM to the group, up to ``grace_s`` for all of it to
    exit, then SIGKILL for whatever is left.  Returns the pids that had to be killed
    (empty when the group shut down cleanly)."""
    pgid = proc.pid
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    # Children (a server under `make`, kernels under a server) may outlive the leader.
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftovers = group_members(pgid)
    if proc.poll() is None:
        leftovers.append(pgid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    return sorted(set(leftovers))

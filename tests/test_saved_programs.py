"""Compiled loops saved on disk: a new kernel (a new process) loads the program of a
problem seen before instead of tracing and compiling it, and never a stale one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gradmagic.minimize import saved_programs

KERNEL = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
shell = InteractiveShell.instance()
shell.run_cell("%load_ext gradmagic")
import jax
if sys.argv[3] == "new-jax":
    jax.__version__ = "0.0.0"  # as if JAX had been upgraded
from gradmagic.minimize import saved_programs
from gradmagic.program_cache import counting_compilations
shell.run_cell(sys.argv[1])
with counting_compilations() as compiled, capture_output():
    result = shell.run_cell(sys.argv[2])
assert result.error_in_exec is None, result.error_in_exec
value = shell.user_ns["x"]
print(json.dumps({"loads": saved_programs.LOADS, "compiles": len(compiled),
                  "x": [float(v) for v in __import__("numpy").ravel(value)]}))
"""

SETUP = "import jax.numpy as jnp\nk = 3\ndef f(x):\n    return jnp.sum((x - k) ** 2 + jnp.sin(x))\nx = 0.0"
LINE = "%minimize f(x) --wrt x --lr 0.05 --steps 300 --quiet"


def kernel(cache, setup=SETUP, line=LINE, jax_version="same") -> dict:
    """Run ``setup`` then ``line`` in a fresh Python process (a new kernel)."""
    env = {**os.environ, "GRADMAGIC_COMPILATION_CACHE": str(cache), "GRADMAGIC_PROGRESS": "off"}
    out = subprocess.run(
        [sys.executable, "-c", KERNEL, setup, line, jax_version],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def seen(tmp_path):
    """A cache directory where the problem above was solved once (and saved)."""
    first = kernel(tmp_path / "jax")
    assert first["loads"] == 0 and first["compiles"] >= 1
    assert list((tmp_path / "jax-programs").glob("*.pkl"))
    return tmp_path / "jax", first


def test_a_new_kernel_loads_the_program_and_gets_the_same_answer(seen):
    cache, first = seen
    again = kernel(cache)
    assert again["loads"] == 1 and again["compiles"] == 0
    assert again["x"] == first["x"]


@pytest.mark.parametrize(
    ("what", "setup", "line", "jax_version", "expected"),
    [
        (
            "objective source",
            SETUP,
            "%minimize f(x) + 0.5 --wrt x --lr 0.05 --steps 300 --quiet",
            "same",
            None,
        ),
        ("closure value", SETUP.replace("k = 3", "k = 4"), LINE, "same", 4.23),
        ("shapes", SETUP.replace("x = 0.0", "x = jnp.zeros(2)"), LINE, "same", None),
        ("optimizer", SETUP, LINE.replace("--quiet", "--optimizer adam --quiet"), "same", None),
        ("x64", "%gradmagic x64=on\n" + SETUP, LINE, "same", None),
        ("JAX version", SETUP, LINE, "new-jax", None),
    ],
)
def test_a_changed_problem_never_gets_a_stale_program(
    seen, what, setup, line, jax_version, expected
):
    cache, first = seen
    run = kernel(cache, setup, line, jax_version)
    assert run["loads"] == 0, what
    assert run["compiles"] >= 1, what
    if expected is not None:
        assert run["x"][0] == pytest.approx(expected, abs=0.01)


def test_a_damaged_file_is_compiled_over(seen):
    cache, first = seen
    for path in (cache.parent / "jax-programs").glob("*.pkl"):
        path.write_bytes(b"not a program")
    run = kernel(cache)
    assert run["loads"] == 0 and run["x"] == first["x"]


def test_an_unusable_executable_falls_back_to_compiling(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADMAGIC_COMPILATION_CACHE", str(tmp_path / "jax"))
    (tmp_path / "jax-programs").mkdir()
    (tmp_path / "jax-programs" / "k.pkl").write_bytes(b"x")

    def broken(*args):
        raise RuntimeError("Function slice_bitcast_fusion not found")

    loaded = saved_programs.Loaded(broken, lambda *args: "compiled", "k")
    assert loaded(1, 2) == "compiled"  # the result, from the loop compiled here
    assert not (tmp_path / "jax-programs" / "k.pkl").exists()  # never tried again


def test_values_without_a_stable_fingerprint_are_never_saved():
    class Opaque:
        pass

    def reads_an_object(x):
        return Opaque

    assert saved_programs.stable_key(("f", 1), {"obj": Opaque()}) is None
    key = saved_programs.stable_key(("f", 1), {"f": reads_an_object})
    assert key is None  # a class defined in a test function is not importable
    same = saved_programs.stable_key(("g", [1, 2.0, "s"]), {"m": sys})
    assert same == saved_programs.stable_key(("g", [1, 2.0, "s"]), {"m": sys})
    assert same != saved_programs.stable_key(("g", [1, 2.0, "t"]), {"m": sys})


def test_the_key_depends_on_gradmagic_s_own_code(monkeypatch):
    before = saved_programs.stable_key(("same", 1))
    monkeypatch.setattr(saved_programs, "_DIGEST", ["other code"])
    assert saved_programs.stable_key(("same", 1)) != before


def test_with_the_cache_off_nothing_is_fingerprinted_or_saved(nb, tmp_path, monkeypatch):
    """GRADMAGIC_COMPILATION_CACHE=off: a first call spends nothing on keys it cannot use."""
    monkeypatch.setenv("GRADMAGIC_COMPILATION_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # where the default would be

    def fingerprinting(*parts):
        raise AssertionError("fingerprinted a program that is never saved")

    monkeypatch.setattr(saved_programs, "stable_key", fingerprinting)
    nb.run("import jax.numpy as jnp\nx = 0.0\nk = 2.5")
    nb.run("%minimize jnp.sum((x - k) ** 2) --wrt x --lr 0.1 --steps 200 --quiet")
    assert abs(nb.ns["x"] - 2.5) < 1e-4
    assert not list(tmp_path.rglob("*.pkl"))


def test_grids_built_on_a_loaded_program_compute_as_on_a_compiled_one(tmp_path):
    """--tune vectorises the single loop: from a loaded program it must compile its grid
    with the same options as from a freshly compiled one (same numbers to the last bit)."""
    line = (
        "%minimize f(x) --wrt x --lr 0.05 --steps 200 --quiet\nx = 0.0\n"  # saved, loaded
        "%minimize f(x) --wrt x --tune --tune-grid 0.01:0.3:8 --steps 200 --quiet\n"
        "x = float(_min.best['sgd'].loss)"
    )
    first = kernel(tmp_path / "jax", line=line)
    again = kernel(tmp_path / "jax", line=line)
    assert again["loads"] >= 1 and again["x"] == first["x"]

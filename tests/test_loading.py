"""Loading, unloading, %gradmagic, and keeping imports light."""

from __future__ import annotations

import subprocess
import sys

from IPython.core.error import UsageError

from gradmagic.settings import settings


def test_load_twice_is_harmless_and_unload_removes(nb):
    nb.run("%load_ext gradmagic")
    nb.run("%reload_ext gradmagic")
    assert nb.shell.find_cell_magic("tape") is not None
    nb.run("%unload_ext gradmagic")
    for name in ("grad", "hessian", "minimize", "gradmagic"):
        assert nb.shell.find_line_magic(name) is None
    assert nb.shell.find_cell_magic("tape") is None
    nb.run("%load_ext gradmagic")
    assert nb.shell.find_line_magic("grad") is not None


def test_gradmagic_reports_versions_backend_and_settings(nb):
    report = repr(nb.run("%gradmagic"))
    assert "gradmagic 0.1.0" in report
    assert "backend cpu" in report or "backend gpu" in report
    assert "settings: precision=6 x64=off jit=off" in report


def test_settings_are_configurable_traits(nb):
    nb.run("x = 2.0")
    try:
        nb.run("%config GradMagics.precision = 3")
        assert "value" in nb.shown("%%tape\ny = x**0.5")
        assert "1.41" in nb.shown("%%tape\ny = x**0.5") and "1.414" not in nb.shown(
            "%%tape\ny = x**0.5"
        )
        assert "precision=3" in repr(nb.run("%gradmagic"))
        nb.run("%gradmagic precision=5")
        magics = nb.shell.magics_manager.registry["GradMagics"]
        assert magics.precision == 5 and settings.precision == 5
        nb.run("%config GradMagics.precision = 40")  # %config logs the TraitError
        assert magics.precision == 5 and settings.precision == 5
    finally:
        nb.run("%gradmagic precision=6")


def test_gradmagic_settings_change_and_validate(nb):
    try:
        nb.run("%gradmagic precision=4 jit=on")
        assert settings.precision == 4 and settings.jit
        nb.run("x = 2.0")
        tape = nb.run("%%tape\ny = x**3")  # jit=on compiles every tape
        assert float(tape.gradient("y", "x")) == 12.0
        error = nb.error("%gradmagic precison=3")
        assert isinstance(error, UsageError) and "Did you mean precision?" in str(error)
        error = nb.error("%gradmagic precision=zero")
        assert isinstance(error, UsageError) and "whole number" in str(error)
        nb.run("%gradmagic x64=on")
        tape = nb.run("%%tape\ny = x**3")
        assert tape.values["y"] == 8.0 and str(tape.gradient("y", "x").dtype) == "float64"
    finally:
        nb.run("%gradmagic x64=off jit=off precision=6")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_gradmagic_is_light():
    modules = _modules_after("import gradmagic")
    assert "jax" not in modules and "optax" not in modules and "matplotlib" not in modules


def test_core_modules_do_not_import_ipython():
    modules = _modules_after(
        "import gradmagic.cell_program, gradmagic.derivatives, gradmagic.compiled_tape, "
        "gradmagic.tape, gradmagic.tape_cell, gradmagic.expressions, gradmagic.render, "
        "gradmagic.minimize.problem, gradmagic.minimize.driver, gradmagic.minimize.step_size"
    )
    assert "IPython" not in modules
    assert "jax" in modules


def test_load_ext_in_plain_ipython_does_not_import_jax():
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "import sys\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_cell('%load_ext gradmagic')\n"
        "print('jax' in sys.modules, shell.find_cell_magic('tape') is not None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["False", "True"]


def _environment_after_load(extra_env: dict[str, str]) -> list[str]:
    import os

    code = (
        "import os, sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_cell('%load_ext gradmagic')\n"
        "print('jax' in sys.modules)\n"
        "print(os.environ.get('JAX_COMPILATION_CACHE_DIR', 'unset'))\n"
        "print(os.environ.get('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', 'unset'))"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("JAX_") and k != "GRADMAGIC_COMPILATION_CACHE"  # conftest's
    }
    env.update(extra_env)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return out.stdout.split()[-3:]


def test_load_ext_enables_persistent_compilation_cache_without_importing_jax(tmp_path):
    jax_loaded, directory, min_time = _environment_after_load({"XDG_CACHE_HOME": str(tmp_path)})
    assert jax_loaded == "False"
    assert directory == str(tmp_path / "gradmagic" / "jax") and min_time == "0"


def test_compilation_cache_can_be_turned_off_or_moved(tmp_path):
    assert _environment_after_load({"GRADMAGIC_COMPILATION_CACHE": "off"})[1] == "unset"
    chosen = str(tmp_path / "mine")
    assert _environment_after_load({"GRADMAGIC_COMPILATION_CACHE": chosen})[1] == chosen
    own = str(tmp_path / "users-own")
    assert _environment_after_load({"JAX_COMPILATION_CACHE_DIR": own})[1] == own

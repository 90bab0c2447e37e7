"""Several variables stepped as one vector inside the compiled loop (minimize.flat_layout).

The layout exists for speed (XLA:CPU runs one optimizer update on several variables as many
tiny concurrent kernels); these tests pin what it must not change: the run (to float32
rounding: XLA fuses the same arithmetic differently), small problems' results to the bit,
and the variables' shapes wherever a user sees them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradmagic.minimize import loop
from gradmagic.minimize.driver import minimize
from gradmagic.minimize.flat_layout import FlatLayout, layout_for
from gradmagic.minimize.optimizers import resolve_optimizer

START = (
    np.where(np.arange(120) == 40, -0.0, np.linspace(-1.0, 2.0, 120)).astype(np.float32),
    np.float32(0.25),
    np.array([[1.0, 0.5, 0.0], [-0.5, 2.0, 0.3], [0.1, 0.2, 0.4]], np.float32),
)
TARGET = np.linspace(0.0, 3.0, 120, dtype=np.float32)


def model(p, aux):
    w, b, M = p
    return jnp.sum((w - aux["t"]) ** 2) + (b - 1.0) ** 2 * jnp.sum(M**2) + jnp.sum(jnp.sin(M))


def run(optimizer: str, flat: bool, monkeypatch: pytest.MonkeyPatch, **settings):
    """The same run with the layout on or off (a fresh objective: no program shared)."""

    def objective(p, aux):
        return model(p, aux)

    if not flat:
        monkeypatch.setattr(loop, "layout_for", lambda spec, params: None)
    aux = {"t": TARGET}
    result = minimize(objective, START, aux=aux, optimizer=optimizer, **settings)
    monkeypatch.undo()
    return result


@pytest.mark.parametrize(
    "optimizer, settings",
    [
        ("adam", {"lr": 0.05, "steps": 300}),
        ("momentum", {"lr": 0.01, "steps": 300, "momentum": 0.8, "tol": 1e-3}),
        ("rmsprop", {"lr": 0.01, "steps": 40, "bounds": [(-2.0, 2.5), None, (-1.0, 2.5)]}),
    ],
)
def test_one_vector_gives_the_same_run_to_float32_rounding(optimizer, settings, monkeypatch):
    flat = run(optimizer, True, monkeypatch, **settings)
    apart = run(optimizer, False, monkeypatch, **settings)
    assert flat.steps == apart.steps > 0
    close = {"rtol": 2e-5, "atol": 2e-6}
    np.testing.assert_allclose(flat.history, apart.history, **close)
    for mine, theirs, start in zip(flat.path, apart.path, START, strict=True):  # one row
        np.testing.assert_allclose(mine, theirs, **close)
        assert mine[0].tobytes() == np.asarray(start).tobytes()  # the start, -0.0 too
    for mine, theirs, start in zip(flat.jac, apart.jac, START, strict=True):
        np.testing.assert_allclose(mine, theirs, **close)
        assert mine.shape == np.shape(start)
    for mine, theirs, start in zip(flat.values, apart.values, START, strict=True):
        np.testing.assert_allclose(mine, theirs, **close)
        assert np.shape(mine) == np.shape(start)
    np.testing.assert_allclose(flat.grad_norm, apart.grad_norm, **close)


def test_the_loop_carries_one_vector_only_where_no_number_can_change():
    adam, lbfgs = resolve_optimizer("adam"), resolve_optimizer("lbfgs")
    layout = layout_for(adam, START)
    assert layout is not None and layout.sizes == (120, 1, 9)
    program = loop.build_program(model, adam, False, False, START, np.float32)
    assert [p.shape for p in program.blank.params] == [(130,)]
    small = (np.zeros(3, np.float32), np.float32(0.0))
    assert layout_for(adam, small) is None  # toy problems: an array per variable
    assert layout_for(lbfgs, START) is None  # its line search sums over all numbers
    assert layout_for(adam, START[:1]) is None  # 120 numbers: still small
    mixed = (START[0], np.float16(1.0))
    assert layout_for(adam, mixed) is None  # one dtype per vector


def test_one_large_variable_is_stepped_as_one_vector_too(monkeypatch):
    """One variable of more than 128 numbers: its vector is the variable raveled, and the
    fresh step's selects replace a cond whose output copied it every step."""
    start = (np.linspace(-1.0, 1.0, 200, dtype=np.float32).reshape(20, 10),)
    layout = layout_for(resolve_optimizer("adam"), start)
    assert layout is not None and layout.sizes == (200,)

    def runs(flat: bool):
        def objective(p, aux):
            return jnp.sum((p[0] - 0.5) ** 2) + jnp.sum(jnp.cos(p[0]))

        if not flat:
            monkeypatch.setattr(loop, "layout_for", lambda spec, params: None)
        result = minimize(objective, start, lr=0.05, steps=50, optimizer="adam")
        monkeypatch.undo()
        return result

    flat, apart = runs(True), runs(False)
    np.testing.assert_allclose(flat.history, apart.history, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(flat.values[0], apart.values[0], rtol=2e-5, atol=2e-6)
    assert flat.values[0].shape == (20, 10) and flat.jac[0].shape == (20, 10)


def test_join_and_split_round_trip_on_the_host_and_in_a_program_with_a_run_axis():
    layout = FlatLayout(START)
    (vector,) = layout.join(START)
    assert vector.shape == (130,) and vector.dtype == np.float32
    for back, start in zip(layout.split((vector,)), START, strict=True):
        np.testing.assert_array_equal(back, start)
    runs = tuple(np.stack([p, p + 1]) for p in START)  # two runs on a leading axis

    @jax.jit
    def round_trip(runs):
        return layout.split(layout.join(runs, runs=1), runs=1)

    for back, given in zip(round_trip(runs), runs, strict=True):
        np.testing.assert_array_equal(np.asarray(back), given)
    assert layout.join(runs, runs=1)[0].shape == (2, 130)


def test_a_callback_and_the_magic_see_each_variable_as_shaped(nb):
    nb.run(
        "import numpy as np, jax.numpy as jnp\n"
        "w = np.zeros(200, np.float32)\n"
        "b = np.float32(0.25)\n"
        "seen = []\n"
        "def keep(result):\n"
        "    seen.append({k: np.shape(v) for k, v in result.x.items()})\n"
    )
    nb.run("%minimize jnp.sum((w - 1.0) ** 2) + (b - 2.0) ** 2 --wrt w,b --optimizer adam "
           "--lr 0.1 --steps 50 --callback keep --quiet")  # fmt: skip
    assert nb.ns["seen"] and nb.ns["seen"][-1] == {"w": (200,), "b": ()}
    assert np.shape(nb.ns["w"]) == (200,) and isinstance(nb.ns["b"], np.float32)
    assert abs(float(nb.ns["b"]) - 2.0) < 0.2

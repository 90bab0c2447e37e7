"""Pytrees through a real IPython shell: dicts, lists, NamedTuples, registered dataclasses
and equinox modules as inputs of %%tape, %grad, %hessian and variables of %minimize."""

from __future__ import annotations

import jax
import numpy as np
import pytest

SETUP = """
import dataclasses
from typing import NamedTuple
import numpy as np, jax, jax.numpy as jnp

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3)).astype(np.float32)
y = X @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3
params = {"w": np.zeros(3, np.float32), "b": np.float32(0.0), "tag": "linear", "n": 3}

def loss(p):
    return jnp.mean((X @ p["w"] + p["b"] - y) ** 2)

class Pair(NamedTuple):
    a: jax.Array
    k: int

@jax.tree_util.register_dataclass
@dataclasses.dataclass
class Line:
    slope: float
    intercept: np.ndarray
"""


@pytest.fixture
def model(nb):
    nb.run(SETUP)
    return nb


def test_grad_of_a_dict_has_its_structure_and_holds_other_leaves_as_none(model):
    grad = model.run("%grad loss(params) --wrt params")
    assert list(grad) == ["w", "b", "tag", "n"]  # the notebook's key order
    assert grad["tag"] is None and grad["n"] is None
    expected = jax.grad(lambda p: model.ns["loss"](p))(
        {"w": model.ns["params"]["w"], "b": model.ns["params"]["b"]}
    )
    assert np.allclose(grad["w"], expected["w"]) and np.isclose(grad["b"], expected["b"])


def test_grad_of_a_list_of_layer_dicts_and_of_a_namedtuple(model):
    model.run(
        "layers = [{'w': np.ones((2, 2), np.float32), 'b': np.zeros(2, np.float32)}, "
        "{'w': np.full(2, 3.0, np.float32)}]\npair = Pair(jnp.array(3.0), 2)"
    )
    grad = model.run("%grad jnp.sum(layers[0]['w']) + jnp.sum(layers[1]['w'] ** 2) --wrt layers")
    assert isinstance(grad, list) and len(grad) == 2
    assert np.allclose(grad[0]["w"], np.ones((2, 2))) and np.allclose(grad[1]["w"], [6.0, 6.0])
    pair = model.run("%grad pair.a ** 2 * pair.k --wrt pair")
    assert type(pair).__name__ == "Pair" and float(pair.a) == 12.0 and pair.k is None


def test_hessian_of_a_dict_is_nested_like_jax_hessian(model):
    hessian = model.run("%hessian loss(params) --wrt params")
    exact = jax.hessian(lambda w, b: model.ns["loss"]({"w": w, "b": b}), argnums=(0, 1))(
        model.ns["params"]["w"], model.ns["params"]["b"]
    )
    assert np.allclose(hessian["w"]["w"], exact[0][0], atol=1e-5)
    assert np.allclose(hessian["w"]["b"], exact[0][1], atol=1e-5)
    assert np.isclose(hessian["b"]["b"], exact[1][1])


def test_tape_shows_one_row_per_leaf_path_and_gradient_by_structure(model):
    shown = model.shown("%%tape --wrt params\nL = loss(params)")
    assert "params: dict of 2 floating leaves, 4 numbers" in shown
    rows = [line.split()[0] for line in shown.splitlines() if line.startswith("params[")]
    assert rows == ["params['b']", "params['w']"]
    tape = model.ns["_tape"]
    assert tape.inputs == ("params['b']", "params['w']")
    grad = tape.gradient("L", "params")
    assert set(grad) == {"w", "b", "tag", "n"} and grad["tag"] is None
    assert np.allclose(tape.gradient("L", "params['w']"), grad["w"])


def test_tape_reads_a_pytree_by_default_and_summarises_big_leaves(model):
    model.run("big = {'v': np.linspace(-1, 1, 50).astype(np.float32), 'scale': 2.0}")
    shown = model.shown("%%tape\nz = big['scale'] * jnp.sum(big['v'] ** 2)")
    row = next(line for line in shown.splitlines() if line.startswith("big['v']"))
    assert "(50,) ‖·‖" in row and "min -1, max 1" in row and "…" in row
    assert len(row) < 200  # never the fifty numbers


def test_registered_dataclass_and_equinox_module(model):
    model.run("line = Line(0.5, np.array(1.0, np.float32))")
    grad = model.run("%grad (line.slope * 2.0 + line.intercept - 4.0) ** 2 --wrt line")
    assert type(grad).__name__ == "Line" and np.isclose(grad.slope, -8.0)
    pytest.importorskip("equinox")
    model.run(
        "import equinox as eqx\nmlp = eqx.nn.MLP(2, 1, 4, 1, key=jax.random.PRNGKey(0))\n"
        "points = jnp.ones((5, 2))"
    )
    model.run(
        "%minimize jnp.mean(jax.vmap(mlp)(points) ** 2) --wrt mlp --optimizer adam "
        "--lr 0.05 --steps 200 --quiet"
    )
    assert type(model.ns["mlp"]).__name__ == "MLP"
    out = model.run("jnp.mean(jax.vmap(mlp)(points) ** 2)")
    assert float(out) < 1e-3


def test_minimize_writes_back_the_structure_with_each_leaf_type(model):
    model.run("params['w'] = jnp.zeros(3)")  # a JAX leaf beside a NumPy scalar leaf
    result = model.run("%minimize loss(params) --wrt params --optimizer adam --lr 0.1 --steps 600")
    params = model.ns["params"]
    assert list(params) == ["w", "b", "tag", "n"]
    assert isinstance(params["w"], jax.Array) and isinstance(params["b"], np.float32)
    assert params["tag"] == "linear" and params["n"] == 3
    assert np.allclose(params["w"], [1.0, -2.0, 0.5], atol=1e-3)
    assert np.isclose(params["b"], 0.3, atol=1e-3)
    assert result.x["tag"] == "linear" and np.allclose(result.x["w"], params["w"])
    assert result.jac["tag"] is None
    shown = repr(result)
    assert "params['b']" in shown and "params['w']" in shown


def test_minimize_namedtuple_and_compare_leave_types(model):
    model.run("pair = Pair(jnp.array(3.0), 2)")
    model.run("%minimize (pair.a - pair.k) ** 2 --wrt pair --lr 0.1 --steps 200 --quiet")
    pair = model.ns["pair"]
    assert type(pair).__name__ == "Pair" and pair.k == 2 and np.isclose(pair.a, 2.0, atol=1e-4)
    before = {
        k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in model.ns["params"].items()
    }
    comparison = model.run("%minimize loss(params) --wrt params --steps 50 --compare sgd,adam")
    assert set(comparison.results) == {"sgd", "adam"}
    assert np.array_equal(model.ns["params"]["w"], before["w"])  # --compare changes nothing


def test_minimize_finds_a_lone_pytree_without_wrt(model):
    model.run(
        "%minimize (params['b'] - 1.0) ** 2 + jnp.sum((params['w'] - 2.0) ** 2) --lr 0.1 --quiet"
    )
    assert np.allclose(model.ns["params"]["w"], 2.0) and np.isclose(model.ns["params"]["b"], 1.0)


def test_bfloat16_and_float16_are_floating(nb):
    nb.run("import jax.numpy as jnp\nh = jnp.array([1.0, 2.0], dtype=jnp.bfloat16)")
    shown = nb.shown("%%tape --wrt h\nz = jnp.sum(h * h)")
    assert "(2,) [2, 4]" in shown
    nb.run("import numpy as np\nq = np.float16(3.0)")
    assert float(nb.run("%grad q ** 2 --wrt q")) == 6.0


@pytest.mark.parametrize(
    ("setup", "line", "message"),
    [
        (
            "counts = {'a': 1, 's': 'x'}",
            "%grad counts['a'] * 2.0 --wrt counts",
            "counts is a dict with no floating leaf (it holds int, str)",
        ),
        (
            "odd = {'a': np.array([1.0, None])}",
            "%grad 1.0 --wrt odd",
            "odd['a'] is an array of Python objects",
        ),
        (
            "counts = {'a': 1}",
            "%minimize counts['a'] ** 2.0 --wrt counts",
            "counts is a dict with no floating leaf",
        ),
        (
            "odd = [np.array(['x'], dtype=object)]",
            "%%tape --wrt odd\nz = 1.0",
            "odd[0] is an array of Python objects",
        ),
    ],
)
def test_bad_pytrees_get_one_message_and_change_nothing(model, setup, line, message):
    model.run(setup)
    assert message in model.usage_error(line)


def test_panel_on_a_model_starts_from_the_current_values_and_writes_the_pytree_back(model):
    panel = model.run("%minimize loss(params) --wrt params --widgets --lr 0.1 --steps 100")
    assert panel.message.value == ""
    assert not panel.start.fields  # no field per number
    start_text = panel.start.children[0].value
    assert "start: the current values of params (4 numbers)" in start_text
    assert panel.path_view.layout.display == "none" and panel.plot.value  # loss curve only
    assert panel.line_text.startswith("%minimize loss(params) --wrt params --optimizer sgd")
    assert "params['w'] = (3,)" in panel.text_summary()
    panel.set_lr(0.2)
    panel._on_use()
    params = model.ns["params"]
    assert list(params) == ["w", "b", "tag", "n"] and isinstance(params["b"], np.float32)
    assert np.allclose(params["w"], [1.0, -2.0, 0.5], atol=1e-2)


def test_panel_with_data_offers_batch_size_and_epochs_and_its_line_reproduces_the_run(model):
    model.run("def data_loss(p, X, y):\n    return jnp.mean((X @ p['w'] + p['b'] - y) ** 2)")
    panel = model.run(
        "%minimize data_loss(params, X, y) --wrt params --data X,y --batch 8 --epochs 5 "
        "--optimizer adam --lr 0.1 --widgets"
    )
    assert panel.message.value == ""
    sizes = [value for _, value in panel.training.batch.options]
    assert sizes == [1, 2, 4, 8, 16, 32, None]  # powers of two below 40 examples, then all
    assert panel.training.batch.value == 8 and panel.training.epochs.value == 5
    assert panel.result.steps == 25  # 5 epochs of 40 // 8 batches
    assert "--data X,y --batch 8 --epochs 5 --seed 0" in panel.line_text
    assert ", 5 epochs)" in panel.text_summary()
    panel.training.epochs.value = 2
    assert panel.result.steps == 10 and "--epochs 2" in panel.line_text
    panel.training.batch.value = None  # the whole data set each step
    assert panel.result.steps == 2 and "--batch" not in panel.line_text
    line = panel.line_text
    before = model.run("float(data_loss(params, X, y))")
    model.run(line)  # the line reproduces the panel's run
    assert np.isclose(model.ns["_min"].loss, panel.result.loss)
    assert float(model.run("float(data_loss(params, X, y))")) < before

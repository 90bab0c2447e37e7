"""``%minimize ... --data X,y --batch B --epochs E --seed S``: training on minibatches."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradmagic.minimize.driver import minimize
from gradmagic.program_cache import counting_compilations

SETUP = """
import numpy as np, jax.numpy as jnp
rng = np.random.default_rng(0)
X = rng.normal(size=(100, 3)).astype(np.float32)
y = (X @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3).astype(np.float32)
w = np.zeros(3, np.float32)
b = np.float32(0.0)
def loss(w, b, X, y):
    return jnp.mean((X @ w + b - y) ** 2)
"""
LINE = "%minimize loss(w, b, X, y) --wrt w,b --data X,y"


def data(n=100):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3).astype(np.float32)
    return X, y


def linear(p, aux):
    w, b = p
    return jnp.mean((aux["X"] @ w + b - aux["y"]) ** 2)


START = (np.zeros(3, np.float32), np.float32(0.0))


def train(**settings):
    X, y = data()
    return minimize(linear, START, aux={}, data={"X": X, "y": y}, **settings)


# --------------------------------------------------------------------------- the engine


def test_batches_are_each_epochs_permutation_in_order_as_hand_written():
    """SGD on the batches a user would cut: epoch e's permutation from fold_in(key(seed), e),
    consecutive slices of 16, the last 4 of 100 examples dropped."""
    X, y = data()
    run = train(batch=16, epochs=3, seed=7, lr=0.05)
    w, b = START
    losses = []
    for epoch in range(3):
        order = jax.random.permutation(jax.random.fold_in(jax.random.key(7), epoch), 100)
        for j in range(100 // 16):
            rows = order[j * 16 : (j + 1) * 16]
            value, (gw, gb) = jax.value_and_grad(linear)((w, b), {"X": X[rows], "y": y[rows]})
            losses.append(value)
            w, b = w - 0.05 * gw, b - 0.05 * gb
    assert run.steps == 18 and run.batching.dropped == 4
    np.testing.assert_allclose(run.history[:18], losses, rtol=1e-5)
    np.testing.assert_allclose(run.values[0], w, rtol=1e-5)
    np.testing.assert_allclose(run.epoch_loss[-1], linear((w, b), {"X": X, "y": y}), rtol=1e-5)


def test_epoch_loss_is_the_objective_on_all_the_data_after_each_epoch():
    X, y = data()
    run = train(batch=25, epochs=4, optimizer="adam", lr=0.1)
    assert list(run.recorded_epochs) == [1, 2, 3, 4] and run.steps == 16
    final = linear(run.values, {"X": X, "y": y})
    np.testing.assert_allclose(run.epoch_loss[-1], final, rtol=1e-6)
    assert run.epoch_loss[-1] < run.epoch_loss[0] < linear(START, {"X": X, "y": y})


def test_without_a_batch_every_step_sees_all_the_data():
    run = train(epochs=5, lr=0.1)
    assert run.steps == 5 and run.batching.full and run.batching.dropped == 0
    np.testing.assert_array_equal(run.epoch_loss, run.history[1:])


def test_same_seed_same_run_bit_for_bit_and_another_seed_another_run():
    first, again = train(batch=10, epochs=3, seed=3), train(batch=10, epochs=3, seed=3)
    other = train(batch=10, epochs=3, seed=4)
    np.testing.assert_array_equal(first.history, again.history)
    np.testing.assert_array_equal(first.epoch_loss, again.epoch_loss)
    for mine, theirs in zip(first.values, again.values, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert not np.array_equal(first.history, other.history)


def test_lr_momentum_and_seed_reuse_the_program_and_a_new_batch_compiles_once():
    train(batch=10, epochs=2, optimizer="momentum", lr=0.01, momentum=0.9, seed=0)
    with counting_compilations() as compiled:
        train(batch=10, epochs=3, optimizer="momentum", lr=0.02, momentum=0.5, seed=9)
    assert compiled == []
    with counting_compilations() as compiled:
        train(batch=20, epochs=2, optimizer="momentum", lr=0.01, momentum=0.9)
    assert len(compiled) == 1
    with counting_compilations() as compiled:
        train(batch=20, epochs=2, optimizer="momentum", lr=0.05, momentum=0.9, seed=1)
    assert compiled == []


def test_many_epochs_keep_a_bounded_record_with_the_last():
    run = train(batch=50, epochs=12_345, lr=0.01)
    assert run.steps == 24_690 and len(run.history) <= 10_002
    assert len(run.epoch_loss) <= 10_002 and run.recorded_epochs[-1] == 12_345
    assert run.recorded_epochs[0] == 2 and np.all(np.diff(run.recorded_epochs)[:-1] == 2)


def test_a_pytree_of_arrays_is_data():
    X, y = data()

    def tree_loss(p, aux):
        return linear(p, {"X": aux["D"]["inputs"], "y": aux["D"]["targets"]})

    run = minimize(
        tree_loss, START, aux={}, data={"D": {"inputs": X, "targets": y}}, batch=20, epochs=2
    )
    assert run.steps == 10 and len(run.epoch_loss) == 2


def test_a_divergence_keeps_the_start():
    run = train(batch=10, epochs=50, lr=10.0)
    assert run.diverged_at is not None and run.diverged_at < 500
    np.testing.assert_array_equal(run.values[0], START[0])


# --------------------------------------------------------------------------- the magic


def test_the_magic_trains_on_minibatches_and_says_what_it_left_out(nb):
    nb.run(SETUP)
    shown = nb.shown(f"{LINE} --batch 16 --epochs 20 --optimizer adam --lr 0.05")
    result = nb.ns["_min"]
    assert result.epochs == 20 and result.steps == 120 and result.batch_size == 16
    assert "epochs: 20 of 20 (batch 16, 6 batches per epoch, seed 0)" in shown
    assert "the last partial batch leaves out 4 of the 100 examples each epoch" in shown
    assert "objective (minibatch)" in shown
    np.testing.assert_allclose(nb.ns["w"], [1.0, -2.0, 0.5], atol=0.05)
    assert len(result.epoch_loss) == 20 and result.epoch_loss[-1] < 0.01
    assert nb.ns["X"].shape == (100, 3)  # data is never written


def test_the_seed_is_an_option_and_decides_the_run(nb):
    nb.run(SETUP)
    histories = []
    for seed in (0, 0, 1):
        nb.run("w = np.zeros(3, np.float32); b = np.float32(0.0)")
        nb.run(f"{LINE} --batch 10 --epochs 2 --seed {seed} --quiet")
        histories.append(nb.ns["_min"].history)
    np.testing.assert_array_equal(histories[0], histories[1])
    assert not np.array_equal(histories[0], histories[2])


def test_a_rerun_reuses_the_data_on_the_device_and_sees_data_edited_in_place(nb):
    """The device copy of the data is kept by content: the same arrays are not put on the
    device again, and an array edited in place trains on its new values."""
    from gradmagic.minimize import minibatch

    nb.run(SETUP)
    nb.run(f"{LINE} --batch 10 --epochs 2 --quiet")
    kept = dict(minibatch.DEVICE_COPIES)
    nb.run("w = np.zeros(3, np.float32); b = np.float32(0.0)")
    nb.run(f"{LINE} --batch 10 --epochs 2 --quiet")
    first = nb.ns["_min"].history
    assert dict(minibatch.DEVICE_COPIES) == kept  # same objects, nothing put again
    nb.run("y[:] = 2 * y; w = np.zeros(3, np.float32); b = np.float32(0.0)")
    nb.run(f"{LINE} --batch 10 --epochs 2 --quiet")
    np.testing.assert_allclose(nb.ns["_min"].history[0], 4 * first[0], rtol=1e-5)
    assert len(minibatch.DEVICE_COPIES) == len(kept) + 1  # the edited y, put once


def test_integer_labels_are_data_not_constants(nb):
    """Labels of another run reuse the compiled loop (passed as arguments, not baked in)."""
    nb.run(SETUP)
    nb.run("labels = (y > 0).astype(np.int32)")
    nb.run(
        "def logistic(w, b, X, labels):\n    z = X @ w + b\n    return jnp.mean(jnp.logaddexp(0.0, z) - labels * z)"
    )
    line = "%minimize logistic(w, b, X, labels) --wrt w,b --data X,labels --batch 20 --epochs 2 --quiet"
    nb.run(line)
    nb.run("labels = 1 - labels")
    with counting_compilations() as compiled:
        nb.run(line)
    assert compiled == [] and nb.ns["_min"].epoch_loss[-1] < np.log(2)


def test_compare_sees_the_same_batches(nb):
    nb.run(SETUP)
    shown = nb.shown(f"{LINE} --batch 20 --epochs 3 --seed 5 --compare sgd,adam --lr 0.05")
    assert "epoch loss (all data)" in shown
    assert "Every optimizer saw the same minibatches (the same seed)." in shown
    compared = nb.ns["_min"].results
    nb.run(f"{LINE} --batch 20 --epochs 3 --seed 5 --optimizer adam --lr 0.05 --quiet")
    np.testing.assert_array_equal(compared["adam"].history, nb.ns["_min"].history)
    assert float(nb.ns["b"]) != 0.0


def test_the_progress_bar_counts_epochs(nb, monkeypatch):
    from gradmagic.minimize import progress

    bars = []
    real = progress.ProgressBar.__call__

    def shown_at_once(self, steps_done, loss):
        self.delay = 0.0
        real(self, steps_done, loss)
        bars.append(self)

    monkeypatch.setattr(progress.ProgressBar, "__call__", shown_at_once)
    nb.run(SETUP)
    nb.run(f"{LINE} --batch 25 --epochs 30 --quiet")
    bar = bars[-1].bar
    assert bar.total == 30 and bar.n == 30 and bar.unit == "epoch"


def test_an_interrupt_keeps_the_start_and_the_epochs_so_far(nb, monkeypatch):
    from gradmagic.minimize import progress

    calls = []

    def interrupt(self, steps_done, loss):
        calls.append(steps_done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(progress.ProgressBar, "__call__", interrupt)
    nb.run(SETUP)
    nb.run(f"{LINE} --batch 10 --epochs 100000 --lr 1e-4 --quiet")
    result = nb.ns["_min"]
    assert result.interrupted and result.steps == calls[-1] < 1_000_000
    assert result.epochs == result.steps // 10 == result.recorded_epochs[-1] > 0
    np.testing.assert_array_equal(nb.ns["w"], np.zeros(3, np.float32))


def test_the_loss_curve_shows_epoch_losses(nb):
    nb.run(SETUP)
    nb.run(f"{LINE} --batch 25 --epochs 5 --quiet")
    figure = nb.ns["_min"].plot().figure
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert labels == ["sgd: epoch loss (all data)", "sgd (minibatch)"]
    epochs = figure.axes[0].lines[0]
    np.testing.assert_array_equal(epochs.get_xdata(), [4, 8, 12, 16, 20])


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (
            f"{LINE.replace('X,y', 'X,short')}",
            "--data: the arrays must share their leading axis (one row per example), but X "
            "has 100, short has 99",
        ),
        (f"{LINE} --batch 101", "--batch 101: a batch holds from 1 to 100 examples"),
        (f"{LINE} --batch 0", "--batch 0: a batch holds from 1 to 100 examples"),
        (
            "%minimize loss(w, b, X, y) --wrt w,b --data X,y,w",
            "--data w and --wrt w: w cannot be both data and a variable",
        ),
        (f"{LINE.replace('X,y', 'X,loss')}", "--data loss: loss is a function, not an array"),
        (f"{LINE.replace('X,y', 'X,scale')}", "--data scale: scale is a single number"),
        (f"{LINE.replace('X,y', 'X,names')}", "--data names: names holds object values"),
        (f"{LINE.replace('X,y', 'X,nothing')}", "--data nothing: nothing is not defined"),
        ("%minimize loss(w, b, X, y) --wrt w,b --batch 10", "--batch needs data"),
        ("%minimize loss(w, b, X, y) --wrt w,b --epochs 3", "--epochs needs data"),
        ("%minimize loss(w, b, X, y) --wrt w,b --seed 3", "--seed needs data"),
        (f"{LINE} --steps 10 --epochs 3", "--steps and --epochs both set the run's length"),
        (f"{LINE} --epochs 0", "--epochs must be a whole number >= 1"),
        (f"{LINE} --seed -1", "--seed must be a whole number from 0 to 2**32 - 1"),
        (f"{LINE} --batch 10 --optimizer lbfgs", "L-BFGS's line search needs the same objective"),
    ],
)
def test_bad_data_input_is_one_clear_message(nb, line, says):
    nb.run(SETUP)
    nb.run("short = y[:99]; scale = np.float32(2.0); names = np.array(['a'] * 100, dtype=object)")
    message = nb.usage_error(line)
    assert says in message

"""Training an MLP on minibatches: %minimize against a hand-written jit + lax.scan + optax loop.

The issue's model: 2 → 64 → 64 → 1 (tanh), logistic loss, 2 048 examples of a two-class
NumPy data set (two interleaved spirals, fixed seed), batch 128, 20 epochs, Adam (lr 0.01).
The reference is what a JAX user would write for the same training and the same outputs:
one ``jax.jit`` of a ``lax.scan`` over epochs (a ``jax.random.permutation`` per epoch) of a
``lax.scan`` over its batches, returning the loss of every step and the loss on all the
data after every epoch.  Both are measured in this one process: first call (tracing and
compiling included) and re-run, each as a ratio to the reference's.

Then a per-step time: one variable of 1 000 000 numbers, SGD on a quadratic, against a
jitted ``lax.scan`` of optax SGD updates recording the loss of every step.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from IPython.core.interactiveshell import InteractiveShell

from bench.timing import in_fresh_process, report, run_quietly, shell

EXAMPLES, BATCH, EPOCHS, LR = 2048, 128, 20, 0.01
NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")
MODEL = """
import jax.numpy as jnp
def loss(W1, b1, W2, b2, W3, b3, X, y):
    h = jnp.tanh(X @ W1 + b1)
    h = jnp.tanh(h @ W2 + b2)
    z = (h @ W3 + b3)[:, 0]
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z)
"""
LINE = (
    "%minimize loss(W1, b1, W2, b2, W3, b3, X, y) --wrt W1,b1,W2,b2,W3,b3 --data X,y "
    f"--batch {BATCH} --epochs {EPOCHS} --optimizer adam --lr {LR} --quiet"
)


def spirals(n: int = EXAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals with a little noise: a two-class set an MLP needs to bend for."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    t = rng.uniform(0.25, 1.0, n) * 3 * np.pi
    sign = np.where(labels == 1, 1.0, -1.0)
    X = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], 1) / (3 * np.pi)
    X += rng.normal(scale=0.03, size=X.shape)
    return X.astype(np.float32), labels.astype(np.float32)


def initial_params(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def layer(m: int, k: int) -> np.ndarray:
        return (rng.normal(size=(m, k)) / np.sqrt(m)).astype(np.float32)

    return {
        "W1": layer(2, 64), "b1": np.zeros(64, np.float32),
        "W2": layer(64, 64), "b2": np.zeros(64, np.float32),
        "W3": layer(64, 1), "b3": np.zeros(1, np.float32),
    }  # fmt: skip


def model_loss(params: tuple, X: jax.Array, y: jax.Array) -> jax.Array:
    W1, b1, W2, b2, W3, b3 = params
    h = jnp.tanh(X @ W1 + b1)
    h = jnp.tanh(h @ W2 + b2)
    z = (h @ W3 + b3)[:, 0]
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z)


def epoch_order(key: jax.Array, epoch: jax.Array) -> jax.Array:
    """The examples' order in ``epoch``: a fresh permutation per epoch, as the loop draws it."""
    return jax.random.permutation(jax.random.fold_in(key, epoch), EXAMPLES)


def hand_written():
    """The strongest loop a user would write: everything in one jitted program."""
    optimizer = optax.adam(LR)
    per_epoch = EXAMPLES // BATCH

    @jax.jit
    def train(params, X, y, seed):
        key = jax.random.key(seed)

        def epoch(carry, e):
            params, state = carry
            order = epoch_order(key, e)

            def step(carry, j):
                params, state = carry
                rows = jax.lax.dynamic_slice_in_dim(order, j * BATCH, BATCH)
                value, grad = jax.value_and_grad(model_loss)(params, X[rows], y[rows])
                updates, state = optimizer.update(grad, state, params)
                return (optax.apply_updates(params, updates), state), value

            (params, state), losses = jax.lax.scan(step, (params, state), jnp.arange(per_epoch))
            return (params, state), (losses, model_loss(params, X, y))

        carry = (params, optimizer.init(params))
        (params, _), (losses, epoch_loss) = jax.lax.scan(epoch, carry, jnp.arange(EPOCHS))
        return params, losses.reshape(-1), epoch_loss

    return train


def evaluated_after_update():
    """The reference's training in gradmagic's loop order: each step updates with the
    gradient carried from the previous step, then evaluates the objective (and gradient)
    at the new values on the next minibatch, and an epoch's last step the objective on
    all the data; the same outputs as the reference.  That order is what lets one
    compiled loop record the objective at every step, stop at tol and catch a non-finite
    step where it happens.  Measured beside the reference, it shows what the order itself
    costs, apart from anything else %minimize does: nothing on one core, 10-20 % on two,
    where XLA:CPU hands the update's many small independent kernels (now at the top of the
    loop body) to other threads; %minimize steps one vector instead
    (:mod:`gradmagic.minimize.flat_layout`)."""
    optimizer = optax.adam(LR)
    per_epoch, steps = EXAMPLES // BATCH, EPOCHS * (EXAMPLES // BATCH)

    @jax.jit
    def train(params, X, y, seed):
        key = jax.random.key(seed)
        first = epoch_order(key, 0)[:BATCH]
        _, grad = jax.value_and_grad(model_loss)(params, X[first], y[first])

        def step(carry, k):
            params, state, grad, rows_of, ends = carry
            updates, state = optimizer.update(grad, state, params)
            params = optax.apply_updates(params, updates)
            nxt = k + 1
            rows_of = jax.lax.cond(
                nxt % per_epoch == 0, lambda: epoch_order(key, nxt // per_epoch), lambda: rows_of
            )
            rows = jax.lax.dynamic_slice_in_dim(rows_of, (nxt % per_epoch) * BATCH, BATCH)
            value, grad = jax.value_and_grad(model_loss)(params, X[rows], y[rows])
            ends = jax.lax.cond(
                nxt % per_epoch == 0,
                lambda: ends.at[nxt // per_epoch - 1].set(model_loss(params, X, y)),
                lambda: ends,
            )
            return (params, state, grad, rows_of, ends), value

        carry = (params, optimizer.init(params), grad, epoch_order(key, 0), jnp.zeros(EPOCHS))
        (params, *_, ends), losses = jax.lax.scan(step, carry, jnp.arange(steps))
        return params, losses, ends

    return train


def interleaved(
    ours: Callable[[], None], reference: Callable[[], None], rounds: int
) -> tuple[float, float]:
    """Median seconds of each, measured in alternating rounds after a warm-up of each, so
    that both see the same load on a shared machine."""
    ours(), reference()
    mine, theirs = [], []
    for _ in range(rounds):
        for function, times in ((ours, mine), (reference, theirs)):
            began = time.perf_counter()
            function()
            times.append(time.perf_counter() - began)
    return statistics.median(mine), statistics.median(theirs)


def notebook(
    start: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray
) -> tuple[InteractiveShell, Callable[[], None]]:
    """A shell with the model defined, and the training cell (from ``start``) to time."""
    ip = shell()
    run_quietly(ip, MODEL)

    def ours() -> None:
        ip.user_ns.update(start)
        ip.user_ns.update({"X": X, "y": y})
        run_quietly(ip, LINE)

    return ip, ours


def first_call(which: str) -> float:
    """Seconds of ``which``'s first call ("ours": the %minimize cell, else the reference)
    in this fresh process: each pays JAX's one-time work (its first traces of a loop, of
    ``jax.random``, of optax) as a user's fresh kernel does."""
    jax.jit(lambda v: v + 1)(1.0).block_until_ready()  # backend start-up, paid by neither
    X, y = spirals()
    start = initial_params()
    params = tuple(start[n] for n in NAMES)
    _, ours = notebook(start, X, y)

    def reference() -> None:
        jax.block_until_ready(hand_written()(params, X, y, 0))

    began = time.perf_counter()
    (ours if which == "ours" else reference)()
    return time.perf_counter() - began


def fresh_first_calls(pairs: int = 8) -> list[str]:
    """:func:`first_call` of each in its own fresh process, ``pairs`` times, which runs
    first alternated (in one process, whichever runs second finds JAX's one-time work
    done, so that split favours one or the other): the ratio of the medians, and the
    median and range of the pairs' ratios.  XLA's compile time alone varies by ±20 % from
    one process to the next, so fewer pairs give ratios that wander by ±0.1."""
    seconds: dict[str, list[float]] = {"ours": [], "reference": []}
    for k in range(pairs):
        for which in ("ours", "reference")[:: 1 if k % 2 == 0 else -1]:
            code = f"import bench.mlp_bench as b; print(b.first_call({which!r}))"
            seconds[which].append(float(in_fresh_process(code)))
    mine, theirs = seconds["ours"], seconds["reference"]
    ratio = statistics.median(mine) / statistics.median(theirs)
    pairwise = [a / b for a, b in zip(mine, theirs, strict=True)]
    return [
        f"{'MLP first call, each alone in a fresh process':<58} ours "
        f"{min(mine):.2f}-{max(mine):.2f} s  reference {min(theirs):.2f}-{max(theirs):.2f} s  "
        f"ratio of medians {ratio:.2f}x (pairs: median {statistics.median(pairwise):.2f}x, "
        f"{min(pairwise):.2f}-{max(pairwise):.2f}x)  "
        "(goal ≤ 1.1x)"
    ]


def mlp() -> list[str]:
    jax.jit(lambda v: v + 1)(1.0).block_until_ready()  # backend start-up, paid by neither
    X, y = spirals()
    start = initial_params()
    params = tuple(start[n] for n in NAMES)
    train = hand_written()

    def reference() -> None:
        jax.block_until_ready(train(params, X, y, 0))

    began = time.perf_counter()
    reference()
    reference_first = time.perf_counter() - began

    ip, ours = notebook(start, X, y)

    began = time.perf_counter()
    ours()
    ours_first = time.perf_counter() - began
    result = ip.user_ns["_min"]
    _, _, epoch_loss = train(params, X, y, 0)
    assert result.steps == EPOCHS * (EXAMPLES // BATCH)
    agreement = float(np.max(np.abs(result.epoch_loss - np.asarray(epoch_loss))))
    ours_warm, reference_warm = interleaved(ours, reference, rounds=21)
    carried = evaluated_after_update()
    order_cost, order_reference = interleaved(
        lambda: jax.block_until_ready(carried(params, X, y, 0)), reference, rounds=11
    )
    return [
        report("MLP %minimize first call vs hand-written first call", ours_first,
               reference_first, "≤ 1.1x"),
        report("MLP %minimize re-run vs hand-written re-run", ours_warm, reference_warm,
               "≤ 1.1x"),
        f"{'  the reference in gradmagic loop order (update, evaluate)':<58} "
        f"{order_cost * 1e3:9.3f} ms, {order_cost / order_reference:.2f}x the reference",
        f"{'MLP epoch losses, largest difference from the reference':<58} {agreement:.2e} "
        f"(final epoch loss {float(result.epoch_loss[-1]):.4f})",
    ]  # fmt: skip


SIZE, STEPS = 1_000_000, 200


def big_reference():
    optimizer = optax.sgd(0.1)

    def objective(x, target):
        return jnp.sum((x - target) ** 2) / SIZE + jnp.mean(jnp.cos(x)) * 0.01

    @jax.jit
    def train(x, target):
        def step(carry, _):
            x, state = carry
            value, grad = jax.value_and_grad(objective)(x, target)
            updates, state = optimizer.update(grad, state, x)
            return (optax.apply_updates(x, updates), state), value

        (x, _), losses = jax.lax.scan(step, (x, optimizer.init(x)), None, length=STEPS)
        return x, losses

    return train


def big_variable() -> list[str]:
    target = np.linspace(-1, 1, SIZE, dtype=np.float32)
    start = np.zeros(SIZE, np.float32)
    train = big_reference()
    ip = shell()
    run_quietly(ip, "import jax.numpy as jnp")
    ip.user_ns.update({"target": target, "SIZE": SIZE})
    line = (
        "%minimize jnp.sum((x - target)**2) / SIZE + jnp.mean(jnp.cos(x)) * 0.01 --wrt x "
        f"--lr 0.1 --steps {STEPS} --quiet"
    )

    def ours() -> None:
        ip.user_ns["x"] = start
        run_quietly(ip, line)

    warm, reference = interleaved(
        ours, lambda: jax.block_until_ready(train(start, target)), rounds=7
    )
    return [
        report(f"1e6-number variable, sgd: time per step ({STEPS} steps)", warm / STEPS,
               reference / STEPS, "≤ 1.1x"),
    ]  # fmt: skip


def main() -> list[str]:
    return mlp() + fresh_first_calls() + big_variable()

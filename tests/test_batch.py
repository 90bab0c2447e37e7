"""The batched engine: N runs in one vmapped program equal N single runs, never recompile
for a new grid of the same bucket, and split over several devices with the same results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradmagic.errors import GradmagicError
from gradmagic.minimize import problem_builder
from gradmagic.minimize.batch import bucket, run_batch
from gradmagic.program_cache import counting_compilations

ROOT = Path(__file__).resolve().parents[1]


def _quadratic(x: float = 1.5, y: float = -1.0):
    return problem_builder.problem_from_line("x**2 + 10*y**2", {"x": x, "y": y}, ["x", "y"])


def _same_as_single(problem, batch, i, **settings):
    single = problem.run(steps=batch.requested_steps, tol=batch.tol, **settings)
    assert batch.steps[i] == single.steps
    assert batch.converged[i] == single.converged
    assert batch.diverged_at[i] == (-1 if single.diverged_at is None else single.diverged_at)
    np.testing.assert_allclose(batch.final[i], single.loss, rtol=1e-5, atol=1e-12)
    ends = np.concatenate([np.ravel(v) for v in single.values])
    np.testing.assert_allclose(batch.ends[i], ends, rtol=1e-5, atol=1e-12)
    history = np.asarray(single.history, dtype=float)
    at = np.minimum(batch.recorded_steps, len(history) - 1)  # a stopped run keeps its last
    finite = np.isfinite(history[at])
    scale = 1e-6 * abs(history[0])  # float32 rounding, accumulated over an oscillating run
    np.testing.assert_allclose(batch.history[i][finite], history[at][finite], rtol=1e-5, atol=scale)
    if batch.path is not None:
        path = np.stack([np.asarray(p, dtype=float) for p in single.path], axis=1)[at]
        rows = np.isfinite(path).all(axis=1)
        reach = 1e-6 * np.abs(path[0]).max()
        np.testing.assert_allclose(batch.path[i][rows], path[rows], rtol=1e-5, atol=reach)


def test_sgd_grid_equals_single_runs_including_converged_and_diverged():
    problem = _quadratic()
    lrs = [0.001, 0.01, 0.05, 0.09, 0.1, 0.2]
    batch = run_batch(problem, optimizer="sgd", lrs=lrs, momenta=[None] * 6, steps=300, tol=1e-6)
    assert list(batch.converged) == [False, False, True, True, False, False]
    assert list(batch.diverged_at) == [-1, -1, -1, -1, -1, 40]  # 0.2 > 2/λmax = 0.1
    assert batch.history.shape == (6, 151) and batch.recorded_steps[-1] == 300
    for i, lr in enumerate(lrs):
        _same_as_single(problem, batch, i, optimizer="sgd", lr=lr)
    # a diverged run reports its start, as %minimize does
    assert list(batch.ends[5]) == [1.5, -1.0] and batch.final[5] == pytest.approx(12.25)


def test_momenta_and_starts_equal_single_runs():
    problem = _quadratic()
    momenta = [0.0, 0.5, 0.9, 0.99]
    starts = (np.array([1.0, -2.0, 0.5, 3.0]), np.array([0.5, 0.25, -1.0, 0.0]))
    batch = run_batch(
        problem, optimizer="momentum", lrs=[0.02] * 4, momenta=momenta, starts=starts, steps=200
    )
    assert batch.starts.tolist() == np.stack(starts, axis=1).tolist()
    for i, m in enumerate(momenta):
        start = (float(starts[0][i]), float(starts[1][i]))
        _same_as_single(problem, batch, i, optimizer="momentum", lr=0.02, momentum=m, start=start)
    adam = run_batch(problem, optimizer="adam", lrs=[0.1, 0.3], momenta=[0.9, None], steps=150)
    assert adam.momenta == (0.9, 0.9)  # None: the optimizer's default, as a single run
    for i, lr in enumerate([0.1, 0.3]):
        _same_as_single(problem, adam, i, optimizer="adam", lr=lr)


def test_every_run_of_a_grid_is_its_single_run_bit_for_bit():
    """Rosenbrock with momentum: some runs diverge early, others oscillate for hundreds of
    steps, where float32 rounding differences would grow and show."""
    problem = problem_builder.problem_from_line(
        "(1 - x)**2 + 100*(y - x**2)**2", {"x": -1.0, "y": 1.5}, ["x", "y"]
    )
    lrs = list(np.geomspace(1e-4, 0.01, 8)) * 2
    momenta = [0.9] * 8 + [0.99] * 8
    batch = run_batch(problem, optimizer="momentum", lrs=lrs, momenta=momenta, steps=400)
    assert 0 < batch.diverged.sum() < 16
    for i in range(16):
        single = problem.run(optimizer="momentum", lr=lrs[i], momentum=momenta[i], steps=400)
        at = np.minimum(batch.recorded_steps, len(single.history) - 1)
        assert batch.steps[i] == single.steps
        assert batch.final[i] == np.float32(single.loss)
        assert batch.history[i].tobytes() == np.asarray(single.history)[at].tobytes()
        path = np.stack([np.asarray(p) for p in single.path], axis=1)[at]
        assert batch.path[i].tobytes() == path.astype(batch.path.dtype).tobytes()


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_starts_sharing_their_settings_are_their_single_runs_bit_for_bit(optimizer):
    """One learning rate for all runs (``--starts``): the settings, Adam's step counts and
    hyperparameters are kept once for all runs, and nothing changes in any run.  (L-BFGS's
    line search, a while loop, rounds differently under vmap: to about 1e-6, as before.)"""
    problem = problem_builder.problem_from_line(
        "(x**2 + y - 11)**2 + (x + y**2 - 7)**2", {"x": 0.0, "y": 0.0}, ["x", "y"]
    )
    xs, ys = np.linspace(-4.0, 4.0, 6), np.array([3.0, -3.0, 0.5, -0.5, 2.0, -2.0])
    kw = {"optimizer": optimizer, "lr": 0.01, "tol": 1e-4}
    batch = run_batch(problem, lrs=[0.01] * 6, momenta=[None] * 6, starts=(xs, ys), steps=300,
                      **{k: v for k, v in kw.items() if k != "lr"})  # fmt: skip
    for i in range(6):
        single = problem.run(steps=300, start=(float(xs[i]), float(ys[i])), **kw)
        at = np.minimum(batch.recorded_steps, len(single.history) - 1)
        assert (batch.steps[i], batch.converged[i]) == (single.steps, single.converged)
        assert batch.final[i] == np.float32(single.loss)
        assert batch.history[i].tobytes() == np.asarray(single.history)[at].tobytes()


def test_a_new_grid_of_the_same_bucket_compiles_nothing():
    problem = _quadratic()
    run_batch(
        problem, optimizer="sgd", lrs=np.geomspace(1e-3, 0.1, 7), momenta=[None] * 7, steps=50
    )
    with counting_compilations() as compiled:
        again = run_batch(
            problem, optimizer="sgd", lrs=np.geomspace(2e-3, 0.05, 8), momenta=[None] * 8, steps=80
        )
        run_batch(problem, optimizer="sgd", lrs=[0.01, 0.02], momenta=[None] * 2, steps=20)
    assert compiled == [] and len(again) == 8
    assert bucket(7) == bucket(8) == 8 and bucket(9) == 16 and bucket(3, devices=4) == 8


def test_bad_batches_are_usage_errors():
    problem = _quadratic()
    with pytest.raises(GradmagicError, match="lr must be a positive number"):
        run_batch(problem, optimizer="sgd", lrs=[0.1, -1.0], momenta=[None] * 2, steps=10)
    with pytest.raises(GradmagicError, match="expected shape"):
        run_batch(problem, optimizer="sgd", lrs=[0.1], momenta=[None], starts=([1.0], []), steps=10)


SHARDED = """
import json, numpy as np, jax
from gradmagic.minimize import problem_builder
from gradmagic.minimize.batch import run_batch
problem = problem_builder.problem_from_line("x**2 + 10*y**2", {"x": 1.5, "y": -1.0}, ["x", "y"])
lrs = list(np.geomspace(1e-3, 0.3, 10))
b = run_batch(problem, optimizer="momentum", lrs=lrs, momenta=[0.5] * 10, steps=120, tol=1e-5)
print(json.dumps({"devices": jax.device_count(), "final": b.final.tolist(),
    "steps": b.steps.tolist(), "diverged": b.diverged_at.tolist(), "ends": b.ends.tolist(),
    "history": b.history.tolist()}))
"""


def _sharded_run(devices: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    done = subprocess.run(
        [sys.executable, "-c", SHARDED], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_split_over_four_devices_gives_the_same_runs():
    one, four = _sharded_run(1), _sharded_run(4)
    assert (one["devices"], four["devices"]) == (1, 4)
    assert one["steps"] == four["steps"] and one["diverged"] == four["diverged"]
    assert any(d >= 0 for d in four["diverged"]) and min(four["steps"]) < 120  # both kinds
    np.testing.assert_allclose(four["final"], one["final"], rtol=1e-6)
    np.testing.assert_allclose(four["ends"], one["ends"], rtol=1e-6)
    np.testing.assert_allclose(four["history"], one["history"], rtol=1e-6)

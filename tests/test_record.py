"""A run's record stays bounded: at most about 10 000 points whatever ``steps`` is."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from gradmagic.minimize import driver
from gradmagic.minimize.driver import minimize
from gradmagic.minimize.record import RECORD_LIMIT
from gradmagic.program_cache import counting_compilations


def slope(p, aux):
    return (p[0] - 3.0) ** 2


def pair(p, aux):
    return (p[0] - 3.0) ** 2 + 2.0 * (p[1] + 1.0) ** 2


def test_a_million_steps_record_every_hundredth_with_the_first_and_last():
    run = minimize(slope, (0.0,), lr=1e-6, steps=1_000_000)
    assert run.steps == 1_000_000
    assert len(run.history) == len(run.path[0]) == len(run.recorded_steps) == RECORD_LIMIT + 1
    assert run.recorded_steps[0] == 0 and run.recorded_steps[-1] == 1_000_000
    assert np.all(np.diff(run.recorded_steps) == 100)
    assert run.history[-1] == np.float32(run.loss)
    assert run.path[0][-1] == np.float32(run.values[0])


def test_recorded_values_are_those_of_a_short_run_at_the_same_steps():
    short = minimize(pair, (0.0, 0.0), lr=1e-5, steps=3000)
    long = minimize(pair, (0.0, 0.0), lr=1e-5, steps=3_000_000)
    assert list(long.recorded_steps[:11]) == list(range(0, 3001, 300))  # stride 300
    np.testing.assert_allclose(long.history[:11], short.history[::300], rtol=1e-6)
    for mine, theirs in zip(long.path, short.path, strict=True):
        np.testing.assert_allclose(mine[:11], theirs[::300], rtol=1e-6)


def test_a_last_step_between_two_strides_is_kept_from_the_final_state():
    run = minimize(slope, (0.0,), lr=1e-6, steps=1_000_003)
    assert len(run.history) <= RECORD_LIMIT + 2
    assert run.recorded_steps[-2] % 101 == 0 and run.recorded_steps[-1] == 1_000_003
    assert run.history[-1] == np.float32(run.loss)
    assert run.path[0][-1] == np.float32(run.values[0])


def test_the_schedule_is_recorded_at_the_same_steps():
    run = minimize(slope, (0.0,), lr=0.01, steps=40_000, schedule="linear")
    assert len(run.lr_history) == len(run.recorded_steps) - 1 == RECORD_LIMIT
    # a linear decay from lr to 0: step k's lr is lr * (1 - k / steps)
    np.testing.assert_allclose(
        run.lr_history, 0.01 * (1 - (run.recorded_steps[1:] - 1) / 40_000), atol=1e-6
    )


def test_a_divergence_between_two_strides_ends_the_record():
    run = minimize(slope, (0.0,), lr=1.5, steps=200_000)
    assert run.diverged_at is not None and run.diverged_at < 200
    assert run.recorded_steps[-1] == run.diverged_at and not np.isfinite(run.history[-1])


def test_an_interrupt_keeps_a_consistent_record(monkeypatch):
    real = driver.next_chunk
    seen = []

    def flaky(program, done, *rest):
        seen.append(done.status[0])
        if len(seen) == 4:
            raise KeyboardInterrupt
        return real(program, done, *rest)

    monkeypatch.setattr(driver, "next_chunk", flaky)
    run = minimize(slope, (0.0,), lr=1e-7, steps=50_000_000)
    assert run.interrupted and run.steps == seen[-1] == run.recorded_steps[-1]
    assert np.all(np.diff(run.recorded_steps)[:-1] == 5000)
    assert len(run.history) == len(run.path[0]) == len(run.recorded_steps)


def test_long_and_short_runs_share_one_compiled_program():
    minimize(pair, (1.0, 1.0), lr=1e-4, steps=1000)
    with counting_compilations() as compiled:
        run = minimize(pair, (1.0, 1.0), lr=1e-4, steps=1_000_000)
    assert run.steps == 1_000_000 and compiled == []


@pytest.mark.parametrize("steps", [1, 2, 9_999, 10_000, 10_001, 20_001])
def test_any_step_count_keeps_the_first_and_last_within_the_limit(steps):
    run = minimize(slope, (0.0,), lr=1e-6, steps=steps)
    assert run.recorded_steps[0] == 0 and run.recorded_steps[-1] == steps
    assert len(run.history) <= RECORD_LIMIT + 2
    assert len(np.unique(run.recorded_steps)) == len(run.recorded_steps)


def test_the_magic_says_when_points_were_decimated(nb):
    nb.run("x = 0.0")
    shown = nb.shown("%minimize (x - 3)**2 --wrt x --lr 1e-6 --steps 30000")
    assert "History and path recorded every 3rd step (10 001 points)." in shown
    result = nb.ns["_min"]
    assert result.recorded_steps[-1] == 30000 and len(result.history) == 10_001
    nb.run("x = 0.0")
    assert "recorded every" not in nb.shown("%minimize (x - 3)**2 --wrt x --steps 1000")


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # lr 1e39 in float32
def test_a_variable_that_overflows_under_a_finite_objective_is_a_divergence():
    """-tanh(x) stays finite (-1) when x overflows to inf: the run still stops and keeps
    the start.  A small problem checks its variables every step (the very step), a large
    one once per chunk (by the end of the first chunk); the objective every step."""

    def bounded(p, aux):
        return -jnp.sum(jnp.tanh(p[0]))

    run = minimize(bounded, (0.0,), lr=1e39, steps=100)
    assert run.diverged_at is not None and run.values == (0.0,)
    assert not np.isfinite(run.path[0][-1])
    assert (run.diverged_at, run.steps) == (1, 1)
    large = minimize(bounded, (np.zeros(3000, np.float32),), lr=1e39, steps=100)
    assert 1 <= large.diverged_at <= driver.FIRST_CHUNK and large.loss == 0.0
    assert np.all(large.values[0] == 0.0)


def test_narrow_rows_run_in_long_chunks_and_wide_paths_in_short_ones(monkeypatch):
    """Every chunk call costs a dispatch and a transfer: a run recording a loss and two
    numbers a step goes thousands of steps per call (without a callback), one with a
    1000-number path (rows of 1001 numbers) keeps the buffer at 256 rows.  Either records
    every step."""
    calls = []
    real = driver.next_chunk

    def counted(program, done, inputs, steps, record):
        calls.append(program.rows)
        return real(program, done, inputs, steps, record)

    monkeypatch.setattr(driver, "next_chunk", counted)
    monkeypatch.setattr(driver, "CHUNK_SECONDS", 1e9)  # chunks as long as their buffers
    target = np.linspace(0, 1, 1000, dtype=np.float32)

    def narrow(p, aux):  # new functions: new programs, whose first two chunks (one
        # compiles, one is timed) are FIRST_CHUNK steps each
        return (p[0] - 3.0) ** 2 + 2.0 * (p[1] + 1.0) ** 2

    def wide(p, aux):
        return jnp.sum((p[0] - target) ** 2)

    run = minimize(narrow, (0.0, 0.0), lr=1e-3, steps=3000)
    assert calls == [4096] * 3 and run.steps == 3000  # 8, 8, then 2984 steps
    assert list(run.recorded_steps) == list(range(3001))
    seen = []  # a callback still sees the run every 256 steps, as the tutorials show
    minimize(narrow, (0.0, 0.0), lr=1e-3, steps=3000, callback=lambda r: seen.append(r.nit))
    assert seen == [*range(256, 3000, 256), 3000]
    calls.clear()
    run = minimize(wide, (np.zeros(1000, np.float32),), lr=1e-3, steps=3000)
    assert calls == [256] * 14 and run.steps == 3000  # 8, 8, then 11 x 256 and 168
    assert list(run.recorded_steps) == list(range(3001)) and run.path[0].shape == (3001, 1000)

"""The pure parts of --tune and --starts: grids, the fair winner, boxes, starts, basins."""

from __future__ import annotations

import numpy as np
import pytest

from gradmagic.errors import GradmagicError
from gradmagic.minimize import grids


def test_tune_grid_is_log_spaced_with_both_ends():
    lrs = grids.tune_grid(None)
    assert len(lrs) == 24 and lrs[0] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(10)
    assert np.allclose(np.diff(np.log10(lrs)), 5 / 23)
    assert list(grids.tune_grid("0.1:1:2")) == pytest.approx([0.1, 1.0])


@pytest.mark.parametrize("text", ["1e-4:10", "a:b:3", "1:0.1:5", "0:1:5", "1e-3:1:1"])
def test_bad_tune_grids_say_the_form(text):
    with pytest.raises(GradmagicError, match="LOW:HIGH:COUNT"):
        grids.tune_grid(text)


def test_grid_has_momenta_only_for_optimizers_with_one():
    lrs = grids.tune_grid("0.01:1:3")
    assert grids.grid_for(True, lrs).shape() == (4, 3)
    assert grids.grid_for(False, lrs).settings == [(0.01, None), (0.1, None), (1.0, None)]


def test_the_fair_winner():
    # converged runs win by fewest steps; diverged never win; else the lowest objective
    assert grids.best_run([1e-9, 1e-12, 0.0], [50, 20, 5], [True, True, False], [False] * 3) == 1
    assert grids.best_run([3.0, 0.5, -np.inf], [9, 9, 9], [False] * 3, [False, False, True]) == 1
    assert grids.best_run([np.nan, 2.0], [9, 9], [False, False], [False, False]) == 1
    assert grids.best_run([1.0, 2.0], [9, 9], [False, False], [True, True]) is None


def test_box_and_starts():
    box = grids.parse_box("y=0:1", ["x", "y"], [(-2.0, 2.0), (-5.0, 5.0)])
    assert box == [(-2.0, 2.0), (0.0, 1.0)]
    for text, says in [("z=0:1", "not a variable"), ("x=1:0", "LOW < HIGH"), ("x=a:1", "LOW:HIGH")]:
        with pytest.raises(GradmagicError, match=says):
            grids.parse_box(text, ["x", "y"], box)
    assert grids.parse_starts("64") == ("random", 64)
    assert grids.parse_starts("grid:8") == ("grid", 8)
    for text in ("0", "grid:1", "many", "grid:200"):
        with pytest.raises(GradmagicError, match="--starts"):
            grids.parse_starts(text)
    random = grids.start_points("random", 64, box, seed=0)
    assert random.shape == (64, 2) and (random[:, 1] >= 0).all() and (random[:, 1] <= 1).all()
    assert np.array_equal(random, grids.start_points("random", 64, box, seed=0))
    grid = grids.start_points("grid", 3, box, seed=0)
    assert grid.shape == (9, 2) and {tuple(p) for p in grid} >= {(-2.0, 0.0), (2.0, 1.0)}


def test_basins_group_end_points_and_skip_diverged_runs():
    ends = np.array([[3.0, 2.0], [3.0001, 2.0], [-2.805, 3.131], [0.0, 0.0]])
    finals = np.array([1e-9, 2e-9, 3e-9, np.inf])
    found = grids.basins(ends, finals, np.isfinite(finals), scale=12.0)
    assert list(found.labels) == [0, 0, 1, -1] and list(found.counts) == [2, 1]
    assert np.allclose(found.minima[0], [3.00005, 2.0]) and found.values[0] == 1e-9

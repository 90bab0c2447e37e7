"""``%minimize … --tune`` and ``--starts`` through a real shell: the known best settings on a
quadratic, Himmelblau's four minima, the tables a user reads, the namespace untouched, no
recompiles on a re-run, and every misuse a one-line UsageError."""

from __future__ import annotations

import numpy as np
import pytest

from gradmagic.minimize.step_size import lr_text
from gradmagic.program_cache import counting_compilations


@pytest.fixture
def quad(nb):
    nb.run("x = 1.5\ny = -1.0")
    return nb


def test_tuned_sgd_picks_the_grid_value_nearest_two_over_the_eigenvalue_sum(quad):
    # from x=1, y=0.1 both gradient components start at 2: the fewest steps then go to the
    # fastest contraction, max(|1 - 2 lr|, |1 - 20 lr|), smallest at lr = 2/22
    shown = quad.shown(
        "%minimize x**2 + 10*y**2 --wrt x,y --tune --tune-grid 0.05:0.15:12 --steps 2000 "
        "--tol 1e-6 --start x=1,y=0.1"
    )
    tuned = quad.ns["_min"].tuned["sgd"]
    grid = np.geomspace(0.05, 0.15, 12)
    nearest = grid[np.argmin(np.abs(np.log(grid) - np.log(2 / 22)))]  # 2/(λmin+λmax)
    assert tuned.best_lr == pytest.approx(nearest)
    above = grid > 0.1  # above 2/λmax the y direction grows: overflows, or ends far up
    runs = tuned.runs
    assert (runs.diverged[above] | (runs.final[above] > 1e3)).all() and runs.diverged.any()
    assert not runs.diverged[~above].any()
    row = next(line for line in shown.splitlines() if line.startswith("sgd"))
    assert lr_text(nearest) in row and "converged" in row
    assert f"{tuned.diverged_count} of 12" in row
    assert "Best: the fewest steps to a gradient norm below 1e-06" in shown
    assert "The notebook's variables are unchanged." in shown
    assert (quad.ns["x"], quad.ns["y"]) == (1.5, -1.0)


def test_tuned_comparison_table_heat_maps_and_no_recompiles(quad):
    line = "%minimize x**2 + 10*y**2 --wrt x,y --compare sgd,momentum,adam --tune --tol 1e-6"
    before = quad.user_names()
    shown = quad.shown(line)
    result = quad.ns["_min"]
    assert list(result.tuned) == ["sgd", "momentum", "adam"]
    assert [len(t.runs) for t in result.tuned.values()] == [24, 96, 96]
    assert result.tuned["momentum"].best_momentum >= 0.5  # theory: 0.27, between 0 and 0.5
    for t in result.tuned.values():
        assert f"{t.diverged_count} of {len(t.runs)}" in shown
        assert t.result.lr == t.best_lr and not t.result.diverged  # the best run alone
    assert "momentum 0.5" in shown or "momentum 0.9" in shown
    assert "24 learning rates from 0.0001 to 10 (log-spaced)" in shown
    assert quad.user_names() == before
    plot = result.plot()
    assert repr(plot) == "[plot: tuned heat maps, best loss curves and paths of x**2 + 10*y**2]"
    assert "image/png" in plot._repr_mimebundle_()
    with counting_compilations() as compiled:
        again = quad.shown(line)
    assert compiled == [] and again == shown  # deterministic, nothing compiled


def test_an_ill_conditioned_quadratic_tunes_to_high_momentum(quad):
    quad.run(
        "%minimize x**2 + 1000*y**2 --wrt x,y --optimizer momentum --tune --steps 3000 --tol 1e-6 --quiet"
    )
    tuned = quad.ns["_min"].tuned["momentum"]
    assert tuned.best_momentum == 0.9  # theory: ((√κ-1)/(√κ+1))² ≈ 0.88 for κ = 1000


def test_starts_on_himmelblau_find_all_four_minima(nb):
    nb.run("from gradmagic.functions import himmelblau\na = 0.0\nb = 0.0")
    line = (
        "%minimize himmelblau(a, b) --wrt a,b --starts grid:8 --optimizer adam --lr 0.05 --tol 1e-4"
    )
    before = nb.user_names()
    shown = nb.shown(line)
    many = nb.ns["_min"]
    assert len(many.runs) == 64 and len(many.found.counts) == 4
    assert many.found.counts.sum() == 64
    named = {many.named(m) for m in many.found.minima}
    assert named == {"(3, 2)", "(-2.805, 3.131)", "(-3.779, -3.283)", "(3.584, -1.848)"}
    for text in named:
        assert text in shown
    assert "Starts: a grid of 8 per variable in --box a=-5:5, b=-5:5" in shown
    assert "0 of 64 diverged" in shown
    assert nb.user_names() == before and (nb.ns["a"], nb.ns["b"]) == (0.0, 0.0)
    plot = many.plot()
    assert repr(plot) == "[plot: loss curves and paths of 64 starts on himmelblau(a, b)]"
    with counting_compilations() as compiled:
        assert nb.shown(line) == shown
    assert compiled == []


def test_starts_that_all_diverge_report_no_minimum(nb):
    nb.run("from gradmagic.functions import himmelblau\na = 0.0\nb = 0.0")
    shown = nb.shown("%minimize himmelblau(a, b) --wrt a,b --starts 8 --lr 10 --steps 50")
    many = nb.ns["_min"]
    assert len(many.found.counts) == 0 and list(many.found.labels) == [-1] * 8
    assert many.found.minima.shape == (0, 2)
    assert "8 of 8 diverged; 50 steps at most each." in shown
    assert (nb.ns["a"], nb.ns["b"]) == (0.0, 0.0)


def test_random_starts_are_seeded_in_a_box_around_the_start(nb):
    nb.run("x = 0.0\ny = 0.0")
    line = "%minimize (x - 1)**2 + (y + 2)**2 --wrt x,y --starts 16 --lr 0.1 --steps 300"
    shown = nb.shown(line + " --seed 3")
    first = nb.ns["_min"]
    assert "seeded uniform (seed 3) in --box x=-2:2, y=-2:2" in shown  # ±2 around the start
    assert len(first.found.counts) == 1 and first.found.counts[0] == 16
    assert np.allclose(first.found.minima[0], [1, -2], atol=1e-4)
    assert "—" in shown  # no documented minimum for a notebook expression
    nb.run(line + " --seed 3 --quiet")
    assert np.array_equal(nb.ns["_min"].runs.starts, first.runs.starts)
    nb.run(line + " --seed 4 --box x=5:6 --quiet")
    starts = nb.ns["_min"].runs.starts
    assert not np.array_equal(starts, first.runs.starts)
    assert (starts[:, 0] >= 5).all() and (starts[:, 0] <= 6).all()
    assert (nb.ns["x"], nb.ns["y"]) == (0.0, 0.0)


def test_the_test_function_box_is_found_through_a_notebook_function(nb):
    nb.run(
        "from gradmagic.functions import himmelblau\na = 0.0\nb = 0.0\n"
        "def f():\n    return himmelblau(a, b)"
    )
    shown = nb.shown("%minimize f --wrt a,b --starts 9 --optimizer adam --lr 0.05 --steps 200")
    assert "--box a=-5:5, b=-5:5" in shown


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--tune-grid 1e-3:1:5", "--tune-grid sets the learning rates --tune tries; add --tune."),
        ("--box x=0:1", "--box is where --starts draws its starting points; add --starts."),
        ("--tune --starts 8", "--tune and --starts are separate experiments"),
        ("--tune --momentum 0.9 --optimizer momentum", "drop --momentum"),
        ("--tune --compare sgd,lbfgs", "lbfgs has no learning rate to tune"),
        ("--tune --animate", "--tune does not take --animate"),
        ("--starts 8 --compare sgd,adam", "--starts does not take --compare"),
        ("--starts 8 --bounds x=0:1", "--starts does not take --bounds"),
        ("--tune --tune-grid 1:0.1:5", "LOW:HIGH:COUNT"),
        ("--starts many", "--starts many: give a number of random starts"),
        ("--starts 8 --box z=0:1", "--box z: z is not a variable being optimised"),
        ("--tune --widgets", "--widgets does not take --tune"),
        ("--tune --compare sgd,adamx", "adamx"),
    ],
)
def test_misuse_is_one_usage_error_and_changes_nothing(quad, line, says):
    message = quad.usage_error(f"%minimize x**2 + 10*y**2 --wrt x,y {line}")
    assert says in message


def test_starts_refuse_arrays_and_grids_over_three_variables(nb):
    nb.run("import numpy as np\nw = np.ones(3, np.float32)\nx = 1.0\ny = 1.0\nz = 1.0")
    assert "scalar starting values" in nb.usage_error("%minimize sum(w**2) --wrt w --starts 8")
    message = nb.usage_error("%minimize x**2 + y**2 + z**2 --wrt x,y,z --starts grid:3")
    assert "one or two variables, not 3" in message
    nb.run("%minimize x**2 + y**2 + z**2 --wrt x,y,z --starts 8 --lr 0.1 --quiet")
    assert nb.ns["_min"].runs.starts.shape == (8, 3) and nb.ns["x"] == 1.0

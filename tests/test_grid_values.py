"""A problem's objective on a plot's grid: one compiled program, reused by every redraw."""

from __future__ import annotations

import numpy as np

from gradmagic.minimize import problem_builder
from gradmagic.minimize.grid_values import GRID_PROGRAMS
from gradmagic.program_cache import counting_compilations


def _problem(namespace: dict):
    return problem_builder.problem_from_line(
        "a * (x - 1)**2 + 10 * (y - x**2)**2", namespace, ["x", "y"]
    )


def test_the_grid_agrees_with_the_objective_point_by_point():
    problem = _problem({"x": -1.0, "y": 1.5, "a": 2.0})
    objective = problem.pointwise()
    xs, ys = np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-1, 3, 5))
    grid = objective.on_grid(xs.ravel(), ys.ravel())
    one_by_one = [float(objective(x, y)) for x, y in zip(xs.ravel(), ys.ravel(), strict=True)]
    assert grid.shape == (35,)
    np.testing.assert_allclose(grid, one_by_one, rtol=1e-6)


def test_a_redraw_compiles_nothing_and_sees_the_notebooks_new_values():
    """The panel redraws its contours at every new start: the grid program is kept per
    problem and grid shape, and the other names the objective reads are arguments (a new
    value of ``a`` gives new contours, not a stale program, and no compilation)."""
    namespace = {"x": -1.0, "y": 1.5, "a": 2.0}
    first = _problem(namespace).pointwise()
    xs, ys = np.linspace(-2, 2, 40), np.linspace(-1, 3, 40)
    before = first.on_grid(xs, ys)
    namespace["a"] = 5.0
    again = _problem(namespace).pointwise()  # the panel builds its objective anew
    with counting_compilations() as compiled:
        after = again.on_grid(xs + 0.5, ys)
        unchanged = first.on_grid(xs, ys)
    assert compiled == []
    np.testing.assert_array_equal(unchanged, before)
    expected = 5.0 * (xs + 0.5 - 1) ** 2 + 10 * (ys - (xs + 0.5) ** 2) ** 2
    np.testing.assert_allclose(after, expected, rtol=1e-5)


def test_a_path_plot_draws_its_contours_in_one_compiled_program(nb):
    """The first ``--plot`` of a problem compiles its grid once (an eager ``vmap``
    compiled every primitive on its own: 0.6 s before the first picture); drawing the
    same problem again compiles nothing."""
    nb.run("from gradmagic.functions import rosenbrock")
    nb.run("x = -1.0; y = 1.5")
    line = "%minimize rosenbrock(x, y) --wrt x,y --optimizer adam --lr 0.05 --steps 50 --plot"
    GRID_PROGRAMS.clear()
    _, captured = nb.capture(line)
    assert "image/png" in captured.outputs[-1].data
    assert len(GRID_PROGRAMS) == 1  # the contours' grid, one program
    nb.run("x = -1.0; y = 1.5")
    with counting_compilations() as compiled:
        _, again = nb.capture(line)
    assert compiled == []
    assert again.outputs[-1].data["image/png"] == captured.outputs[-1].data["image/png"]

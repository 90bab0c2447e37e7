"""gradmagic.functions: the documented minima are minima, and %minimize finds them."""

from __future__ import annotations

import subprocess
import sys

import jax
import numpy as np
import pytest

from gradmagic import functions

TWO_D = [
    functions.rosenbrock,
    functions.beale,
    functions.himmelblau,
    functions.rastrigin,
    functions.booth,
    functions.styblinski_tang,
    functions.three_hump_camel,
    functions.ill_conditioned(100.0),
    functions.ill_conditioned(10.0, angle=30.0),
]
CASES = [
    pytest.param(f, point, id=f"{f.__name__}{point}")
    for f in TWO_D
    for point in f.minima  # every documented minimum: all four of Himmelblau's
]


@pytest.mark.parametrize(("function", "point"), CASES)
def test_value_and_gradient_at_each_documented_minimum(function, point):
    with jax.enable_x64(True):
        x, y = np.float64(point[0]), np.float64(point[1])
        value = float(function(x, y))
        gradient = np.array([float(g) for g in jax.grad(function, argnums=(0, 1))(x, y)])
        hessian = np.array(jax.hessian(lambda p: function(p[0], p[1]))(np.array(point)))
    assert value == pytest.approx(function.minimum_value, abs=1e-9)
    assert np.abs(gradient).max() < 1e-7
    assert np.linalg.eigvalsh(hessian).min() > 0  # a minimum, not a saddle


def test_himmelblau_has_four_minima_and_every_function_a_box():
    assert len(functions.himmelblau.minima) == 4
    for function in [*TWO_D, functions.saddle]:
        (xlo, xhi), (ylo, yhi) = function.box
        assert xlo < xhi and ylo < yhi
        for x, y in function.minima:
            assert xlo <= x <= xhi and ylo <= y <= yhi
        assert "Minimum" in function.__doc__ or "minimum" in function.__doc__


def test_saddle_has_no_minimum_and_a_stationary_origin():
    assert functions.saddle.minima == () and functions.saddle.minimum_value is None
    assert [float(g) for g in jax.grad(functions.saddle, argnums=(0, 1))(0.0, 0.0)] == [0, 0]
    assert float(functions.saddle(0.0, 1.0)) == -1.0


@pytest.mark.parametrize(
    ("function", "point", "value"),
    [
        (functions.rosenbrock, [1.0, 1.0, 1.0, 1.0], 0.0),
        (functions.rosenbrock, [0.0, 0.0, 0.0], 2.0),
        (functions.rastrigin, [0.0, 0.0, 0.0], 0.0),
        (functions.rastrigin, [1.0], 1.0),
        (functions.styblinski_tang, [functions.STYBLINSKI_TANG_X] * 5, -39.16616570377 * 5),
    ],
)
def test_n_dimensional_array_form(function, point, value):
    with jax.enable_x64(True):
        v = np.array(point)
        assert float(function(v)) == pytest.approx(value, abs=1e-9)
        assert float(function(*v)) == pytest.approx(value, abs=1e-9)  # scalars form agrees
        assert np.abs(np.asarray(jax.grad(function)(v))).max() < (1e-7 if value <= 0 else 10)


def test_array_form_broadcasts_over_a_grid():
    xs, ys = np.meshgrid(np.linspace(-2, 2, 5), np.linspace(-1, 3, 4))
    stacked = functions.rosenbrock(np.stack([xs, ys]))
    pairwise = functions.rosenbrock(xs, ys)
    assert stacked.shape == (4, 5)
    np.testing.assert_allclose(stacked, 100 * (ys - xs**2) ** 2 + (1 - xs) ** 2, rtol=1e-6)
    np.testing.assert_allclose(stacked, pairwise)


def test_ill_conditioned_has_the_chosen_eigenvalues():
    quadratic = functions.ill_conditioned(50.0, angle=30.0)
    hessian = np.array(jax.hessian(lambda p: quadratic(p[0], p[1]))(np.zeros(2)))
    np.testing.assert_allclose(np.linalg.eigvalsh(hessian), [1.0, 50.0], rtol=1e-5)
    assert quadratic.eigenvalues == (1.0, 50.0) and quadratic.condition == 50.0
    assert "condition number 50" in quadratic.__doc__
    with pytest.raises(ValueError, match="condition must be"):
        functions.ill_conditioned(0.5)


def test_importing_functions_is_light():
    code = "import sys, gradmagic.functions\nprint('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_minimize_finds_a_documented_minimum_through_the_shell(nb):
    nb.run("from gradmagic.functions import himmelblau, rosenbrock\nx = 1.0; y = 1.0")
    shown = nb.shown("%minimize himmelblau(x, y) --wrt x,y --optimizer adam --lr 0.05 --steps 2000")
    assert "Minimised himmelblau(x, y) with adam (lr 0.05, b1 0.9)" in shown
    assert (round(nb.ns["x"], 3), round(nb.ns["y"], 3)) == (3.0, 2.0)
    assert type(nb.ns["x"]) is float and nb.ns["_min"].loss < 1e-6
    nb.run("x = -1.0; y = 1.5")
    nb.run("%minimize rosenbrock(x, y) --wrt x,y --optimizer lbfgs --steps 200 --quiet")
    assert abs(nb.ns["x"] - 1.0) < 1e-3 and abs(nb.ns["y"] - 1.0) < 2e-3

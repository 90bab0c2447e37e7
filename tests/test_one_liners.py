"""%grad and %hessian through a real IPython shell."""

from __future__ import annotations

import numpy as np
import pytest


def test_grad_of_quadratic_with_one_name_returns_the_value(nb):
    nb.run("x = 0.0; a = 1.0; b = -2.0; c = 1.0")
    value = nb.run("%grad a*x**2 + b*x + c --wrt x")
    assert float(value) == -2.0


def test_grad_sees_jax_numpy_names_the_notebook_lacks(nb):
    nb.run("w = 2.0")
    assert np.isclose(float(nb.run("g = %grad exp(w) --wrt w\ng")), 7.389056)
    assert np.isclose(float(nb.run("%grad 4**w --wrt w")), 22.18071, rtol=1e-6)


def test_grad_with_several_names_is_a_tuple_and_without_is_a_dict(nb):
    nb.run("a = 2.0; b = 3.0")
    both = nb.run("%grad 2*a**2 + 3*b**3 --wrt a,b")
    assert isinstance(both, tuple) and [float(v) for v in both] == [8.0, 81.0]
    by_name = nb.run("%grad 2*a**2 + 3*b**3")
    assert list(by_name) == ["a", "b"] and float(by_name["b"]) == 81.0


def test_hessian_of_two_scalars_is_a_matrix(nb):
    nb.run("x1 = 2.0; x2 = 3.0")
    matrix = nb.run("H = %hessian (x1 + 5) * x2**2 --wrt x1,x2\nH")
    assert np.allclose(np.asarray(matrix), [[0, 6], [6, 14]])


def test_hessian_of_array_and_scalar_is_blocks(nb):
    nb.run("import jax.numpy as jnp\nv = jnp.array([1.0, 2.0]); s = 3.0")
    blocks = nb.run("%hessian s * sum(v**2) --wrt v,s")
    assert isinstance(blocks, tuple) and len(blocks) == 2
    assert np.allclose(np.asarray(blocks[0][0]), 2 * 3.0 * np.eye(2))
    assert np.allclose(np.asarray(blocks[0][1]), [2.0, 4.0])


def test_hessian_of_array_input_is_square(nb):
    nb.run("import jax.numpy as jnp\nv = jnp.array([1.0, 2.0, 3.0])")
    matrix = nb.run("%hessian sum(v**3) --wrt v")
    assert np.allclose(np.asarray(matrix), np.diag([6.0, 12.0, 18.0]))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%grad x**2 --wrtt x", "unknown option --wrtt. Did you mean --wrt?"),
        ("%grad x**2 --wrt q", "--wrt q: q is not defined"),
        ("%grad x*n --wrt n", "n is an int"),
        ("%grad x * ones(3) --wrt x", "has shape (3,); a gradient or Hessian needs a scalar"),
        ("%grad --wrt x", "Give an expression"),
        ("%grad y = x --wrt x", "Expected one expression, got 'y = x'. For statements use %%tape"),
        ("%grad x + nope --wrt x", "nope is not defined"),
        ("%hessian x*n --wrt n", "n is an int"),
    ],
)
def test_bad_one_liners(nb, line, message):
    nb.run("x = 2.0; n = 3")
    assert message in nb.usage_error(line)

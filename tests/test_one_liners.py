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


# --------------------------------------------------------------------------- compiled re-use


def test_rerunning_a_one_liner_never_compiles_again(nb):
    from gradmagic.program_cache import counting_compilations

    nb.run("import jax.numpy as jnp\nv = jnp.linspace(-1.0, 1.0, 8)\na = 2.0")
    nb.run("def rosen(v):\n    return jnp.sum(100*(v[1:] - v[:-1]**2)**2 + (1 - v[:-1])**2)")
    first = nb.run("%hessian a * rosen(v) --wrt v")
    nb.run("%grad a * rosen(v) --wrt v")
    nb.run("moved = v + 0.5")
    with counting_compilations() as compiled:
        again = nb.run("%hessian a * rosen(v) --wrt v")
        nb.run("%grad a * rosen(v) --wrt v")
        nb.run("v = moved; a = 3.0")  # new values of the same shapes: same programs
        moved = nb.run("%hessian a * rosen(v) --wrt v")
    assert compiled == []
    assert (again == first).all()
    import jax

    expected = 3.0 * jax.hessian(nb.ns["rosen"])(nb.ns["v"])
    assert abs(moved - expected).max() < 1e-3 * abs(expected).max()


def test_a_rerun_line_is_parsed_once_and_errors_are_never_remembered(nb, monkeypatch):
    """Re-running a one-liner reads its options once per line text (argparse alone is a
    fifth of a millisecond); values still come from the notebook each time, a bad line
    says so every time."""
    from gradmagic import magics

    parses = []
    real_parse = magics._parse
    monkeypatch.setattr(magics, "_parse", lambda *a: parses.append(a) or real_parse(*a))
    nb.run("x = 2.0")
    assert float(nb.run("%grad x**3 --wrt x")) == 12.0
    nb.run("x = 1.0")
    assert float(nb.run("%grad x**3 --wrt x")) == 3.0
    assert len(parses) == 1
    for _ in range(2):
        assert "unknown option --wrtt" in nb.usage_error("%grad x**3 --wrtt x")
    assert len(parses) == 3
    line = "%grad sum(v**2) --wrt v --at v=[3.0,4.0]"
    assert [float(g) for g in nb.run(line)] == [6.0, 8.0]
    assert [float(g) for g in nb.run(line)] == [6.0, 8.0]
    assert "v" not in nb.ns


def test_a_rerun_line_sees_every_change_to_the_names_it_reads(nb):
    """A re-run reuses the last analysis only while every name it read holds the same
    object: a redefined function, a jax.numpy name the notebook now defines, a new value
    and an array changed in place are all seen."""
    nb.run("import numpy as np\nx = 2.0\ndef f(v):\n    return v**3")
    assert float(nb.run("%grad f(x) + exp(x) --wrt x")) == pytest.approx(12.0 + np.exp(2.0))
    nb.run("def f(v):\n    return v**2")
    assert float(nb.run("%grad f(x) + exp(x) --wrt x")) == pytest.approx(4.0 + np.exp(2.0))
    nb.run("def exp(v):\n    return 5*v")
    assert float(nb.run("%grad f(x) + exp(x) --wrt x")) == pytest.approx(9.0)
    nb.run("x = 3.0")
    assert float(nb.run("%grad f(x) + exp(x) --wrt x")) == pytest.approx(11.0)
    nb.run("w = np.array([1.0, 2.0], np.float32)")
    assert nb.run("%grad sum(w**2) --wrt w").tolist() == [2.0, 4.0]
    nb.run("w[0] = 5.0")
    assert nb.run("%grad sum(w**2) --wrt w").tolist() == [10.0, 4.0]


def test_compiled_one_liners_never_serve_stale_values(nb):
    """Values baked into a program (a list, a notebook function's globals) count in its key."""
    nb.run("coefficients = [1.0, 2.0]\nx = 3.0\nscale = 2.0")
    nb.run("def f():\n    return scale * x**2")
    assert float(nb.run("%grad coefficients[0]*x + coefficients[1]*x**2 --wrt x")) == 13.0
    nb.run("coefficients[1] = 0.0")  # changed in place
    assert float(nb.run("%grad coefficients[0]*x + coefficients[1]*x**2 --wrt x")) == 1.0
    assert float(nb.run("%grad f() --wrt x")) == 12.0
    nb.run("scale = 5.0")  # read through the function: an argument of the program
    assert float(nb.run("%grad f() --wrt x")) == 30.0


def test_rerunning_an_unchanged_tape_cell_never_traces_again(nb):
    from gradmagic.program_cache import counting_compilations

    nb.run("x = 2.0; a = 1.5")
    cell = "%%tape --quiet\ny = a * x**3"
    nb.run(cell)
    with counting_compilations() as compiled:
        nb.run(cell)
        nb.run("x = 3.0")
        nb.run(cell)
    assert compiled == []
    assert float(nb.ns["_tape"].gradient("y", "x")) == 40.5


def test_a_tape_cell_branching_on_values_still_works_without_a_message(nb):
    nb.run("x = 2.0")
    shown = nb.shown("%%tape\nif x > 1:\n    y = x**2\nelse:\n    y = -x")
    assert "Derivatives at x = 2" in shown and "4" in shown and "jit" not in shown
    nb.run("x = -1.0")
    assert nb.run("%%tape --quiet\nif x > 1:\n    y = x**2\nelse:\n    y = -x") is None
    assert float(nb.ns["_tape"].gradient("y", "x")) == -1.0

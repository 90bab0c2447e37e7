"""%%tape through a real IPython shell: the reference tutorials' values, options, display."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from IPython.core.error import UsageError

from gradmagic.program_cache import counting_compilations


def approx(value, expected, tol=1e-5):
    return np.allclose(np.asarray(value, dtype=float), expected, rtol=tol, atol=tol)


# ----------------------------------------------------------------------------- reference values


def test_quadratic_gradient_and_watched_constants(nb):
    nb.run("x = 0.0; a = 1.0; b = -2.0; c = 1.0")
    tape = nb.run("%%tape\ny = a*x**2 + b*x + c")
    assert tape.targets == ("y",)
    assert set(tape.inputs) == {"x", "a", "b", "c"}
    assert approx(tape.gradient("y", "x"), -2.0)
    assert [float(v) for v in tape.gradient("y", ["x", "a", "b", "c"])] == [-2.0, 0.0, 0.0, 1.0]
    assert "∂/∂x" in repr(tape) and "-2" in repr(tape)
    assert nb.ns["y"] == 1.0 and isinstance(nb.ns["y"], float)


def test_tape_at_other_points_without_rerunning(nb):
    nb.run("x = 0.0; a = 1.0; b = -2.0; c = 1.0; runs = []")
    tape = nb.run("%%tape --wrt x,a,b,c\nruns.append(1)\ny = a*x**2 + b*x + c")
    assert nb.ns["runs"] == [1]
    at_one = tape.at(x=1.0)
    assert [float(v) for v in at_one.gradient("y", ["x", "a", "b", "c"])] == [0, 1, 1, 1]
    at_ten = tape.at(x=10.0)
    assert [float(v) for v in at_ten.gradient("y", ["x", "a", "b", "c"])] == [18, 100, 10, 1]
    assert nb.ns["runs"] == [1], "at() must not run the cell in the notebook"
    assert nb.ns["x"] == 0.0


def test_second_derivative_of_quadratic(nb):
    nb.run("x = 0.0; a = 1.0; b = -2.0; c = 1.0")
    tape = nb.run("%%tape --wrt x --order 2\ny = a*x**2 + b*x + c")
    assert approx(tape.derivative("y", "x", order=2), 2.0)
    assert "n = 2" in repr(tape)


@pytest.mark.parametrize(("x", "expected"), [(3.0, (4, 4)), (1.0, (0, 0)), (2.0, (2, 1))])
def test_compiled_gradient_and_value(nb, x, expected):
    nb.run(f"x = {x}; a = 1.0; b = -2.0; c = 1.0")
    tape = nb.run("%%tape --jit --wrt x\ny = a*x**2 + b*x + c")
    assert approx(tape.gradient("y", "x"), expected[0])
    assert approx(tape.values["y"], expected[1])


def test_two_variable_partials_and_hessian(nb):
    nb.run("x1 = 2.0; x2 = 3.0")
    tape = nb.run("%%tape --hessian\ng = (x1 + 5) * x2**2")
    assert [float(v) for v in tape.gradient("g", ["x1", "x2"])] == [9.0, 42.0]
    assert approx(tape.hessian("g", ("x1", "x1"))[0][0], 0.0)
    hessian = np.array([[float(v) for v in row] for row in tape.hessian("g", ("x1", "x2"))])
    assert approx(hessian, [[0, 6], [6, 14]])
    text = repr(tape)
    assert "Hessian of g with respect to x1, x2" in text
    assert "indefinite: the surface curves up in some directions and down in others" in text
    assert "eigenvalues: -2.21954, 16.2195" in text


def test_gradient_of_a_list_of_targets_adds_up(nb):
    nb.run("x = 5.0")
    tape = nb.run("%%tape\nz1 = 3*x\nz2 = x**2")
    assert approx(tape.gradient(["z1", "z2"], "x"), 13.0)
    assert approx(tape.gradient([nb.ns["z1"], nb.ns["z2"]], "x"), 13.0)


def test_sum_squared_and_intermediate(nb):
    nb.run("import jax.numpy as jnp\nx = jnp.ones((2, 2))")
    tape = nb.run("%%tape --wrt x,y\ny = jnp.sum(x)\nz = y * y")
    assert approx(tape.values["z"], 16.0)
    assert approx(tape.gradient("z", "x"), np.full((2, 2), 8.0))
    assert approx(tape.gradient("z", "y"), 8.0)
    text = repr(tape)
    assert "(2, 2) [[8, 8], [8, 8]]" in text
    assert "y = 4 (intermediate)" in text
    # an intermediate that was not in --wrt can still be asked for
    plain = nb.run("%%tape\ny = jnp.sum(x)\nz = y * y")
    assert approx(plain.gradient("z", "y"), 8.0)


def test_persistent_reuse(nb):
    nb.run("x = 3.0")
    tape = nb.run("%%tape\ny = x * x\nz = y * y")
    for _ in range(3):  # reusable any number of times
        assert approx(tape.gradient("z", "x"), 108.0)
        assert approx(tape.gradient("y", "x"), 6.0)


@pytest.mark.parametrize(("n", "expected"), [(6, 12.0), (5, 12.0), (4, 4.0)])
def test_python_control_flow(nb, n, expected):
    nb.run(
        "def f(x, n):\n"
        "    output = 1.0\n"
        "    for i in range(n):\n"
        "        if 1 < i < 5:\n"
        "            output = output * x\n"
        "    return output\n"
        "x = 2.0"
    )
    tape = nb.run(f"%%tape\nout = f(x, {n})")
    assert approx(tape.gradient("out", "x"), expected)


def test_control_flow_on_values_without_jit(nb):
    nb.run("x = 2.0")
    tape = nb.run("%%tape\nif x > 1:\n    y = x**2\nelse:\n    y = -x")
    assert approx(tape.gradient("y", "x"), 4.0)


def test_higher_orders_of_cube(nb):
    nb.run("x = 1.0")
    tape = nb.run("%%tape --order 3\ny = x * x * x")
    assert [float(tape.derivative("y", "x", k)) for k in (1, 2, 3)] == [3.0, 6.0, 6.0]
    assert "dⁿy/dxⁿ  3      6      6" in repr(tape)


def test_two_term_loss(nb):
    nb.run("a = 2.0; b = 3.0")
    tape = nb.run("%%tape\nloss = 2*a**2 + 3*b**3")
    assert [float(v) for v in tape.gradient("loss", ["a", "b"])] == [8.0, 81.0]


def test_watching_a_constant(nb):
    nb.run("w = 2.0")
    tape = nb.run("%%tape --wrt w\nw * w")
    assert tape.targets == ("w * w",)
    assert approx(tape.gradient("w * w", "w"), 4.0)


# ----------------------------------------------------------------------------- options


def test_default_inputs_skip_ints_bools_strings_functions_modules(nb):
    nb.run("import math\nx = 2.0; n = 3; flag = True; s = 'a'\ndef f(v): return v")
    tape = nb.run("%%tape\ny = f(x) * n * flag * math.pi + len(s)")
    assert tape.inputs == ("x",)


def test_last_expression_is_a_labelled_target(nb):
    nb.run("x = 2.0")
    tape = nb.run("%%tape\ny = x**2\ny + 3*x")
    assert tape.targets == ("y", "y + 3*x")
    assert approx(tape.gradient("y + 3*x", "x"), 7.0)


def test_of_selects_targets(nb):
    nb.run("x = 2.0")
    tape = nb.run("%%tape --of z\ny = x**2\nz = 3*x")
    assert tape.targets == ("z",)


def test_unconnected_zero_and_none(nb):
    nb.run("x = 5.0; a = 1.0")
    tape = nb.run("%%tape --wrt x --of z,k\nz = 3*x\nk = a * 2")
    assert approx(tape.gradient("k", "x"), 0.0)
    assert "0*" in repr(tape) and "not connected" in repr(tape)
    none_tape = nb.run("%%tape --wrt x --of z,k --unconnected none\nz = 3*x\nk = a * 2")
    assert none_tape.gradient("k", "x") is None
    assert "None" in repr(none_tape)


def test_x_minus_x_is_connected_with_zero(nb):
    nb.run("x = 5.0")
    tape = nb.run("%%tape --unconnected none\ny = x - x")
    assert approx(tape.gradient("y", "x"), 0.0)
    assert "*" not in repr(tape)


def test_check_agrees_and_warns(nb):
    nb.run("import jax.numpy as jnp\nx = 1.5")
    tape = nb.run("%%tape --check\ny = jnp.sin(x) * x**2")
    assert "Finite-difference check" in repr(tape) and "DISAGREES" not in repr(tape)
    assert all(check.agrees for check in tape.check())
    nb.run("x = 0.0")
    kinked = nb.run("%%tape --check\ny = jnp.abs(x)")
    assert "DISAGREES" in repr(kinked) and "Warning" in repr(kinked)


def test_show_tape_lists_operations_with_cell_names(nb):
    nb.run("x = 0.0; a = 1.0; b = -2.0; c = 1.0")
    tape = nb.run("%%tape --show-tape\ny = a*x**2 + b*x + c")
    text = repr(tape)
    assert "line 1: y = a*x**2 + b*x + c" in text
    assert "t1 = integer_pow[y=2](x)" in text
    assert "y = add(t4, c)" in text


def test_jit_reuses_compiled_program(nb):
    nb.run("x = 2.0; a = 1.0")
    cell = "%%tape --jit --hessian\ny = a*x**3"
    nb.run(cell)
    with counting_compilations() as compiled:
        nb.run("x = 3.0")
        tape = nb.run(cell)
    assert compiled == [], "re-running an unchanged --jit cell must not recompile"
    assert approx(tape.gradient("y", "x"), 27.0)


def test_jit_with_python_branch_on_value_names_line_and_fix(nb):
    nb.run("x = 2.0")
    before = nb.user_names()
    error = nb.error("%%tape --jit\ny = x * 2\nif x > 1:\n    y = y * x")
    assert isinstance(error, UsageError)
    assert "Line 2: `if x > 1:`" in str(error)
    assert "drop --jit" in str(error) and "jnp.where" in str(error)
    assert "ConcretizationTypeError" not in str(error)
    assert nb.user_names() == before


def test_cell_runs_once_prints_once_values_are_concrete(nb):
    nb.run("x = 2.0")
    result, captured = nb.capture("%%tape\nprint('hello')\ny = x**2")
    assert captured.stdout.count("hello") == 1
    assert nb.ns["y"] == 4.0 and type(nb.ns["y"]) is float


def test_failing_cell_shows_usual_traceback(nb):
    nb.run("x = 2.0")
    result, captured = nb.capture("%%tape\ny = x**2\nz = y / undefined_name")
    assert isinstance(result.error_in_exec, NameError)
    shown = captured.stdout + captured.stderr
    assert "During handling" not in shown and "gradmagic/derivatives.py" not in shown
    assert "z = y / undefined_name" in shown


def test_show_tape_names_constants_of_the_linearised_program(nb):
    nb.run("x = 2.0")
    tape = nb.run("%%tape --show-tape\nif x > 1:\n    piece = x**2\nelse:\n    piece = -x")
    text = repr(tape)
    assert "linearised operations" in text
    assert "piece = mul(x, 4)" in text


def test_name_quiet_and_underscore_tape(nb):
    nb.run("x = 2.0")
    assert nb.run("%%tape --quiet --name t\ny = x**2") is None
    assert nb.ns["t"] is nb.ns["_tape"]
    assert approx(nb.ns["t"].gradient("y", "x"), 4.0)


def test_plot_one_and_two_inputs_display_png(nb):
    nb.run("x = 1.0; y0 = 2.0")
    _, captured = nb.capture("%%tape --plot --hessian\ny = x**3")
    assert any("image/png" in output.data for output in captured.outputs)
    _, captured = nb.capture("%%tape --plot\nz = x**2 + 3*y0**2")
    assert any("image/png" in output.data for output in captured.outputs)
    assert any("contours of z" in output.data.get("text/plain", "") for output in captured.outputs)


def test_function_works_with_jit_vmap_grad(nb):
    nb.run("x = 2.0; a = 3.0")
    tape = nb.run("%%tape --wrt x\ny = a * x**2")
    f = tape.function
    assert approx(f(2.0), 12.0)
    assert approx(jax.jit(f)(1.0), 3.0)
    assert approx(jax.vmap(f)(np.array([1.0, 2.0])), [3.0, 12.0])
    assert approx(jax.grad(f)(2.0), 12.0)


def test_display_is_deterministic_html_and_text(nb):
    nb.run("x1 = 2.0; x2 = 3.0")
    first = nb.run("%%tape --hessian --check --show-tape\ng = (x1 + 5) * x2**2")
    second = nb.run("%%tape --hessian --check --show-tape\ng = (x1 + 5) * x2**2")
    assert first._repr_html_() == second._repr_html_()
    assert repr(first) == repr(second)
    assert "0x" not in first._repr_html_() and "<table" in first._repr_html_()


def test_precision_setting_rounds_display(nb):
    nb.run("w = 2.0\nimport jax.numpy as jnp")
    assert "7.38906" in repr(nb.run("%%tape\nv = jnp.exp(w)"))
    nb.run("%gradmagic precision=3")
    assert "7.39" in repr(nb.run("%%tape\nv = jnp.exp(w)"))


def test_help_lists_every_option_with_an_example(nb):
    doc = nb.shell.find_cell_magic("tape").__doc__
    for option in [
        "--wrt",
        "--of",
        "--hessian",
        "--order",
        "--check",
        "--jit",
        "--plot",
        "--show-tape",
        "--unconnected",
        "--name",
        "--quiet",
    ]:
        assert option in doc
    assert "Example" in doc


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%tape --hesian\ny = x**2", "unknown option --hesian. Did you mean --hessian?"),
        ("%%tape --wrt q\ny = x**2", "--wrt q: q is not defined"),
        (
            "%%tape --wrt n\ny = x * n",
            "--wrt n: n is an int, not a floating value. Make it a float (e.g. n = 3.0)",
        ),
        ("%%tape --of w\ny = x**2", "--of w: the cell does not assign w"),
        ("%%tape --order 0\ny = x**2", "--order must be 1 or more"),
        (
            "%%tape --hessian --of v\nv = x * jnp.ones(3)",
            "--hessian needs scalar targets; v has shape (3,)",
        ),
        ("%%tape\ny = n * 2", "reads no floating value"),
        ("%%tape --wrt x\nn2 = n * 2", "No floating value the cell computes depends on x"),
        ("%%tape --unconnected maybe\ny = x", "invalid choice"),
        ("%%tape\ny = np.exp(x)", "use jax.numpy"),
    ],
)
def test_bad_input_one_message_namespace_unchanged(nb, cell, message):
    nb.run("import numpy as np\nimport jax.numpy as jnp\nx = 2.0; n = 3")
    assert message in nb.usage_error(cell)
    assert "y" not in nb.ns

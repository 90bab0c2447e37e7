"""``--at`` (``%grad``, ``%hessian``, ``%%tape``) and ``%minimize --start`` for names the
notebook lacks, through a real IPython shell: values, the namespace afterwards, compile
counts, and one clear message for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from gradmagic.program_cache import counting_compilations

# --------------------------------------------------------------------------- %grad / %hessian


def test_grad_at_a_point_leaves_the_notebooks_value_alone(nb):
    nb.run("x = 2.0")
    before = nb.ns["x"]
    assert float(nb.run("%grad 3*x + x**2 --wrt x --at x=5")) == 13.0
    assert nb.ns["x"] is before
    assert float(nb.run("%grad 3*x + x**2 --wrt x")) == 7.0  # the notebook's point again


def test_grad_at_a_name_the_notebook_lacks_makes_it_an_input_and_creates_nothing(nb):
    before = nb.user_names()
    gradients = nb.run("%grad 3*x + x**2 --at x=5")
    assert list(gradients) == ["x"] and float(gradients["x"]) == 13.0
    assert gradients["x"].dtype == np.float32  # the session's float width
    assert nb.user_names() == before and "x" not in nb.ns


def test_at_names_are_added_to_the_default_inputs(nb):
    nb.run("a = 2.0")
    gradients = nb.run("%grad a * x**2 --at x=3")
    assert list(gradients) == ["a", "x"]
    assert [float(v) for v in gradients.values()] == [9.0, 12.0]
    # read only inside a notebook function: still an input, and still read
    nb.run("def f():\n    return q**2")
    assert float(nb.run("%grad f() --at q=3")["q"]) == 6.0
    assert "q" not in nb.ns


def test_at_sets_other_values_too_without_assigning_them(nb):
    nb.run("x = 1.0; a = 1.0")
    assert float(nb.run("%grad a * x**2 --wrt x --at x=3,a=2")) == 12.0
    assert nb.ns["x"] == 1.0 and nb.ns["a"] == 1.0


def test_at_takes_lists_as_arrays_and_replaces_an_int(nb):
    slopes = nb.run("%grad sum(v**2) --at v=[1.0, -2.0] --wrt v")
    assert np.allclose(np.asarray(slopes), [2.0, -4.0]) and slopes.dtype == np.float32
    nb.run("n = 3")
    assert float(nb.run("%grad n**2 --at n=2")["n"]) == 4.0  # the point is floating
    assert nb.ns["n"] == 3 and isinstance(nb.ns["n"], int)


def test_at_values_follow_the_session_float_width_and_the_notebooks_dtype(nb):
    try:
        nb.run("%gradmagic x64=on")
        slopes = nb.run("%grad sum(v**2) --at v=[1.0, 2.0] --wrt v")
        assert slopes.dtype == np.float64
        nb.run("import numpy as np\nw = np.float32(1.0)")
        assert nb.run("%grad w**3 --at w=2 --wrt w").dtype == np.float32  # w's own dtype
        assert nb.ns["w"] == np.float32(1.0)
    finally:
        nb.run("%gradmagic x64=off")


def test_help_explains_at_and_start(nb):
    for magic in ("grad", "hessian"):
        text = " ".join(nb.shell.find_magic(magic).__doc__.split())
        assert "[--at NAME=VALUE,...]" in text and "the --at names" in text
        assert "Nothing is assigned: the notebook's values are unchanged afterwards." in text
    tape_help = " ".join(nb.shell.find_cell_magic("tape").__doc__.split())
    assert "The cell runs for real with them, and what it assigns is kept" in tape_help
    assert "a name the notebook lacks is created by that write" in " ".join(
        nb.shell.find_magic("minimize").__doc__.split()
    )


def test_hessian_at_a_point(nb):
    matrix = nb.run("%hessian (x1 + 5) * x2**2 --at x1=2,x2=3")
    assert np.allclose(np.asarray(matrix), [[0, 6], [6, 14]])
    assert "x1" not in nb.ns and "x2" not in nb.ns
    nb.run("x = 0.0")
    assert float(nb.run("%hessian x**3 --wrt x --at x=-1.5")) == -9.0


def test_at_keeps_working_with_pytree_inputs(nb):
    nb.run("params = {'w': 2.0, 'b': 1.0}")
    gradients = nb.run("%grad params['w'] * x + params['b'] --at x=3")
    assert float(gradients["x"]) == 2.0
    assert {k: float(v) for k, v in gradients["params"].items()} == {"w": 3.0, "b": 1.0}
    assert nb.ns["params"] == {"w": 2.0, "b": 1.0} and "x" not in nb.ns


def test_one_liners_at_other_points_never_compile_again(nb):
    nb.run("a = 1.0; b = -2.0; x = 0.0")
    nb.run("%grad a*x**2 + b*x --wrt x")
    nb.run("%hessian a*x**3 + b*x --wrt x")
    with counting_compilations() as compiled:
        moved = nb.run("%grad a*x**2 + b*x --wrt x --at x=5")
        both = nb.run("%grad a*x**2 + b*x --wrt x --at x=-1,a=3")
        curvature = nb.run("%hessian a*x**3 + b*x --wrt x --at x=2")
    assert compiled == []
    assert [float(moved), float(both), float(curvature)] == [8.0, -8.0, 12.0]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%grad x**2 --at y=3", "--at y: the expression does not read y (its inputs are x); drop y"),
        ("%grad x**2 --at x=abc", "--at x=abc: 'abc' is not a finite number or a list of them"),
        ("%grad x**2 --at x=nan", "'nan' is not a finite number"),
        ("%grad x**2 --at x=1e999", "'1e999' is not a finite number"),
        ("%grad x**2 --at x=[1.0,[2.0]]", "is not a finite number or a list of them"),
        ("%grad x**2 --at x=True", "'True' is not a finite number"),
        ("%grad x**2 --at x=1,x=2", "--at sets x more than once"),
        ("%grad x**2 --at 2x=1", "--at takes NAME=VALUE pairs, comma-separated"),
        ("%grad x**2 --at x", "--at takes NAME=VALUE pairs"),
        ("%grad x**2 --at x={'w':1.0}", "--at takes numbers and lists of numbers, not pytrees"),
        ("%grad params['w'] * x --at params=1.0", "--at params: params holds a pytree"),
        ("%grad f(x) --at f=1.0", "--at f: f is a function in the notebook, not a number"),
        ("%grad x**2 --wrt q --at x=1", "--wrt q: q is not defined in the notebook"),
        ("%grad x**2 + z --at x=1", "z is not defined in the notebook nor a jax.numpy function. "
         "Define it first (e.g. z = 1.0) or give it a value with --at z=1.0."),
        ("%hessian x**2 --at x='a'", "--at x='a': \"'a'\" is not a finite number"),
        ("%grad x**2 --at", "%grad: argument --at: expected one argument"),
    ],
)  # fmt: skip
def test_bad_at(nb, line, message):
    nb.run("x = 2.0; params = {'w': 1.0}\ndef f(v):\n    return v")
    assert message in nb.usage_error(line)
    assert nb.ns["x"] == 2.0


# --------------------------------------------------------------------------- %%tape --at


def test_tape_at_runs_the_cell_there_keeps_its_results_and_restores_the_point(nb):
    nb.run("x = 0.0")
    shown = nb.shown('%%tape --at x=5\ny = x**2 + 1\nprint(f"x is {x}")')
    assert "x is 5.0" in shown and "Derivatives at x = 5" in shown
    assert nb.ns["x"] == 0.0 and nb.ns["y"] == 26.0
    tape = nb.ns["_tape"]
    assert tape.values["x"] == 5.0 and float(tape.gradient("y", "x")) == 10.0
    assert float(tape.at(x=1.0).gradient("y", "x")) == 2.0


def test_tape_at_a_name_the_notebook_lacks_creates_only_what_the_cell_assigns(nb):
    shown = nb.shown("%%tape --order 2 --at t=2\ns = t**3")
    assert "Derivatives at t = 2" in shown
    assert "t" not in nb.ns and nb.ns["s"] == 8.0
    tape = nb.ns["_tape"]
    assert [float(tape.derivative("s", "t", order=n)) for n in (1, 2)] == [12.0, 12.0]
    assert float(tape.function(3.0)) == 27.0


def test_tape_at_a_name_the_cell_assigns_after_reading_it_keeps_the_cells_value(nb):
    nb.run("x = 0.0")
    nb.run("%%tape --quiet --at x=5 --of y\ny = x**2\nx = x + 1")
    assert nb.ns["x"] == 6.0 and nb.ns["y"] == 25.0  # plain cell semantics, run at x = 5
    assert float(nb.ns["_tape"].gradient("y", "x")) == 10.0


def test_tape_at_several_points_as_an_array_with_constants(nb):
    nb.run("%%tape --quiet --at x=[1.0, 10.0],a=1.0,b=-2.0,c=1.0\ny = a * x**2 + b * x + c")
    tape = nb.ns["_tape"]
    assert tape.inputs == ("a", "x", "b", "c")
    assert np.allclose(np.diag(np.asarray(tape.jacobian("y", "x"))), [0.0, 18.0])
    assert np.allclose(np.asarray(tape.jacobian("y", "a")), [1.0, 100.0])
    assert np.allclose(np.asarray(nb.ns["y"]), [0.0, 81.0])
    assert not {"x", "a", "b", "c"} & set(nb.ns)


def test_tape_at_with_wrt_and_an_intermediate(nb):
    nb.run("import jax.numpy as jnp")
    nb.run("%%tape --quiet --wrt x,y --at x=[[1.0, 1.0], [1.0, 1.0]]\ny = jnp.sum(x)\nz = y**2")
    gx, gy = nb.ns["_tape"].gradient("z", ["x", "y"])
    assert np.allclose(np.asarray(gx), 8.0) and float(gy) == 8.0
    assert "x" not in nb.ns and float(nb.ns["z"]) == 16.0


def test_tape_at_other_points_never_compiles_again(nb):
    nb.run("a = 1.0")
    nb.run("%%tape --jit --quiet --at x=1\ny = a * x**3")
    nb.run("%%tape --quiet --at x=1\ny = a * x**3")
    with counting_compilations() as compiled:
        nb.run("%%tape --jit --quiet --at x=2\ny = a * x**3")
        jitted = float(nb.ns["_tape"].gradient("y", "x"))
        nb.run("%%tape --quiet --at x=3,a=2\ny = a * x**3")
        eager = float(nb.ns["_tape"].gradient("y", "x"))
    assert compiled == []
    assert (jitted, eager) == (12.0, 54.0)


def test_tape_at_plot_draws_at_the_point(nb):
    nb.run("%%tape --plot --quiet --at x=2\ny = x**2")
    plot = nb.ns["_tape"].plot()
    assert plot is not None and "x" not in nb.ns


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%tape --at x=1\nx = 2.0\ny = x**2",
         "--at x: the cell assigns x before reading it, so a value given in the line would "
         "never be used; drop x from --at."),
        ("%%tape --at q=1\ny = w**2", "--at q: the cell does not read q (its inputs are w)"),
        ("%%tape --at w=[1.0,\ny = w**2", "--at w=[1.0,: '[1.0,' is not a finite number"),
        ("%%tape --at w=1 --order 0\ny = w**2", "--order must be 1 or more"),
    ],
)  # fmt: skip
def test_bad_tape_at(nb, cell, message):
    nb.run("w = 2.0")
    assert message in nb.usage_error(cell)


def test_a_failing_cell_at_a_point_leaves_the_point_out_of_the_notebook(nb):
    error = nb.error("%%tape --at x=5\ny = x**2\nraise ValueError('boom')")
    assert "boom" in str(error)
    assert "x" not in nb.ns


# --------------------------------------------------------------------------- %minimize --start


def test_start_creates_a_variable_the_notebook_lacks(nb):
    result = nb.run("%minimize (z - 3)**2 --start z=0 --lr 0.1 --steps 100 --quiet\n_min")
    assert float(result.x) == pytest.approx(3.0, abs=1e-5)
    assert isinstance(nb.ns["z"], float) and nb.ns["z"] == pytest.approx(3.0, abs=1e-5)


def test_start_new_names_with_wrt_and_the_cell_form(nb):
    nb.run("a = 1.0")
    nb.run("%minimize (u - 1)**2 + 2*(v + a)**2 --wrt u,v --start u=0,v=0 --lr 0.1 --quiet")
    assert nb.ns["u"] == pytest.approx(1.0, abs=1e-5)
    assert nb.ns["v"] == pytest.approx(-1.0, abs=1e-5)
    nb.run("%%minimize --start s=2 --lr 0.1 --quiet\nloss = (s - 5)**2\nloss")
    assert nb.ns["s"] == pytest.approx(5.0, abs=1e-4) and float(nb.ns["loss"]) < 1e-6
    nb.run("def f():\n    return (r + 2)**2")  # read only as a global of a notebook function
    nb.run("%minimize f --start r=1 --lr 0.1 --quiet")
    assert nb.ns["r"] == pytest.approx(-2.0, abs=1e-4)


def test_start_new_names_leave_no_trace_when_nothing_is_written_back(nb):
    before = nb.user_names()
    nb.run("%minimize (w - 3)**2 --start w=0 --lr 0.1 --steps 50 --compare sgd,adam --quiet")
    assert nb.user_names() == before
    nb.run("%minimize 10*w**2 --start w=1 --lr 0.5 --steps 20 --quiet")  # diverges
    assert nb.ns["_min"].diverged_at is not None
    assert nb.user_names() == before


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%minimize (w - 3)**2 --start w=0,u=1",
         "--start u=…: u is not a variable being optimised (--wrt w); start only those."),
        ("%minimize (w - 3)**2 --start u=1",
         "w is not defined in the notebook nor a jax.numpy function. Define it first "
         "(e.g. w = 1.0) or give it a value with --start w=1.0."),
        ("%minimize (w - 3)**2 --start w=abc", "--start w=abc: 'abc' is not a number"),
        ("%minimize (w - 3)**2 --start w=inf", "--start w=inf: give a finite number."),
        ("%minimize (w - 3)**2 --start 1w=0", "--start takes name=value pairs"),
        ("%minimize (w - 3)**2 --wrt q --start w=0",
         "--wrt q: q is not defined in the notebook. Define it first"),
    ],
)  # fmt: skip
def test_bad_start_for_new_names(nb, line, message):
    assert message in nb.usage_error(line)
    assert "w" not in nb.ns and "u" not in nb.ns


def test_start_new_name_in_the_panel_is_created_by_use_these_values(nb):
    panel = nb.run("%minimize (z - 3)**2 --start z=0 --lr 0.1 --steps 100 --widgets")
    assert "z" not in nb.ns
    panel.use.click()
    assert isinstance(nb.ns["z"], float) and nb.ns["z"] == pytest.approx(3.0, abs=1e-5)

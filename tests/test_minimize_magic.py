"""%minimize / %%minimize through a real IPython shell."""

from __future__ import annotations

import numpy as np
import pytest

from gradmagic.program_cache import counting_compilations


def setup_quadratic(nb):
    nb.run("x = 0.0; a = 1.0; b = -2.0; c = 1.0")


def test_expression_reference_value(nb):
    setup_quadratic(nb)
    result, captured = nb.capture("%minimize a*x**2 + b*x + c --wrt x --lr 0.01 --steps 1000")
    shown = "\n".join(output.data.get("text/plain", "") for output in captured.outputs)
    assert abs(nb.ns["x"] - 0.9999986) < 2e-6 and type(nb.ns["x"]) is float
    minimum = nb.ns["_min"]
    assert minimum.steps == 1000 and minimum.optimizer == "sgd" and minimum.lr == 0.01
    assert abs(minimum.loss) < 1e-10 and len(minimum.history) == 1001
    assert "Minimised a*x**2 + b*x + c with sgd (lr 0.01)" in shown
    assert "Finished all 1000 steps." in shown
    assert any("image/png" in output.data for output in captured.outputs)


def test_zero_argument_function_reading_globals(nb):
    setup_quadratic(nb)
    nb.run("def f():\n    return a*x**2 + b*x + c")
    nb.run("%minimize f --wrt x --quiet")
    assert abs(nb.ns["x"] - 0.9999986) < 2e-6
    assert callable(nb.ns["f"])


def test_call_and_wrt_omitted_with_one_candidate(nb):
    nb.run("x = 0.0\ndef f(v):\n    return (v - 1.0)**2")
    nb.run("%minimize f(x) --quiet")
    assert abs(nb.ns["x"] - 1.0) < 1e-5


def test_cell_form(nb):
    setup_quadratic(nb)
    nb.run("%%minimize --wrt x --quiet\ny = a*x**2 + b*x + c\ny")
    assert abs(nb.ns["x"] - 0.9999986) < 2e-6
    nb.run("x = 1.0")
    nb.run("%%minimize --wrt x --of y --lr 0.1 --quiet\ny = 2*x**2 + x + 3")
    assert abs(nb.ns["x"] + 0.25) < 1e-5 and abs(nb.ns["_min"].loss - 2.875) < 1e-5


def test_hand_written_descent_reference(nb):
    nb.run("x = 0.0")
    nb.run("%minimize 3*x**2 + 2*x - 1 --lr 0.1 --steps 100 --quiet")
    assert abs(nb.ns["x"] + 1 / 3) < 1e-5


def test_two_variables(nb):
    nb.run("a = 1.0; b = 1.0")
    nb.run("%minimize a**2 + 2*b**2 --wrt a,b --lr 0.1 --steps 1000 --quiet")
    assert abs(nb.ns["a"]) < 1e-6 and abs(nb.ns["b"]) < 1e-6
    assert set(nb.ns["_min"].values) == {"a", "b"} and set(nb.ns["_min"].path) == {"a", "b"}


def test_target_of_last_tape(nb):
    setup_quadratic(nb)
    nb.run("%%tape --quiet\ny = a*x**2 + b*x + c")
    nb.run("%minimize y --wrt x --quiet")
    assert abs(nb.ns["x"] - 0.9999986) < 2e-6


def test_tol_stops_early(nb):
    setup_quadratic(nb)
    nb.run("%minimize a*x**2 + b*x + c --wrt x --lr 0.1 --tol 1e-3 --quiet")
    result = nb.ns["_min"]
    assert result.converged and result.steps < 1000
    assert "Converged after" in repr(result)


def test_divergence_restores_and_suggests(nb):
    nb.run("x = 1.0; y = 1.0")
    nb.run("%minimize x**2 + 10*y**2 --wrt x,y --lr 0.5 --quiet")
    result = nb.ns["_min"]
    assert result.diverged_at is not None and not result.converged
    assert nb.ns["x"] == 1.0 and nb.ns["y"] == 1.0
    text = repr(result)
    assert "Diverged at step" in text and "2/λmax = 0.1" in text and "try --lr 0.05" in text


@pytest.mark.parametrize(
    ("line", "says", "never"),
    [
        ("--lr 0.5", "SGD is stable for lr < 2/λmax = 0.1 here", "β"),
        ("--optimizer momentum --momentum 0.5 --lr 0.5",
         "momentum (β = 0.5) is stable for lr < 2(1+β)/λmax = 0.15 here", "2/λmax ="),
        ("--optimizer nesterov --momentum 0.5 --lr 0.5",
         "nesterov (β = 0.5) is stable for lr < 2(1+β)/((1+2β)λmax) = 0.075 here", "2/λmax ="),
        ("--optimizer adagrad --lr 1e30", "try a smaller learning rate, e.g. --lr 1e+29", "λmax"),
    ],
)  # fmt: skip
def test_divergence_advice_follows_the_optimizer(nb, line, says, never):
    nb.run("x = 1.0; y = 1.0")
    result = nb.run(f"%minimize x**2 + 10*y**2 --wrt x,y {line} --steps 200")
    assert result.diverged, repr(result)
    text = repr(result)
    assert says in text and never not in text


def test_lbfgs_divergence_never_suggests_a_learning_rate(nb):
    nb.run("x = 1.0")
    result = nb.run("%minimize -exp(x) --wrt x --optimizer lbfgs --steps 50")
    assert result.diverged
    text = repr(result)
    assert "line search" in text and "--lr" not in text and "lr <" not in text


def test_result_is_returned_displayed_and_kept(nb):
    nb.run("x = 0.0")
    nb.run("r = %minimize (x - 2)**2 --wrt x --lr 0.1 --steps 100")
    assert nb.ns["r"] is nb.ns["_min"] and nb.ns["r"].values["x"] == pytest.approx(2.0)
    _, captured = nb.capture("%minimize (x - 3)**2 --wrt x --lr 0.1 --steps 100")
    texts = [output.data.get("text/plain", "") for output in captured.outputs]
    assert texts[0].startswith("Minimised (x - 3)**2 with sgd (lr 0.1)")
    assert texts[1] == "[plot: loss curve of (x - 3)**2]"
    assert "image/png" in captured.outputs[1].data
    _, quiet = nb.capture("%minimize (x - 1)**2 --wrt x --lr 0.1 --steps 100 --quiet")
    assert quiet.outputs == [] and quiet.stdout == ""


def test_plot_option_adds_the_path(nb):
    nb.run("x = 0.0; y = 1.0")
    _, captured = nb.capture("%minimize x**2 + y**2 --wrt x,y --lr 0.1 --steps 50 --plot")
    texts = [output.data.get("text/plain", "") for output in captured.outputs]
    assert texts[1] == "[plot: loss curve and path of x**2 + y**2]"
    assert nb.ns["_min"].show_path


def test_an_objective_that_is_not_a_number_gets_a_clear_error(nb):
    nb.run("x = 1.0; s = 'text'")
    message = nb.usage_error("%minimize s --wrt x")
    assert "The objective must be a real number" in message and "str" in message


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("%minimize x**2 --wrt x --name for", "--name takes a variable name"),
        ("%minimize x**2 --wrt x --name 2x", "--name takes a variable name"),
        ("%minimize x**2 + y**2 --wrt x,x", "--wrt names x more than once"),
        ("%grad x**2 --wrt x,x", "--wrt names x more than once"),
    ],
)
def test_bad_names_are_refused(nb, line, says):
    nb.run("x = 1.0; y = 2.0")
    assert says in nb.usage_error(line)


def test_interrupt_keeps_start_and_stores_partial(nb, monkeypatch):
    from gradmagic.minimize import progress

    def interrupt(self, steps_done, loss):
        raise KeyboardInterrupt

    monkeypatch.setattr(progress.ProgressBar, "__call__", interrupt)
    nb.run("x = 3.0")
    nb.run("%minimize x**2 --steps 5000 --quiet")
    result = nb.ns["_min"]
    assert result.interrupted and result.steps < 5000
    assert nb.ns["x"] == 3.0
    assert "Interrupted after" in repr(result)


def test_compare_leaves_variables(nb):
    nb.run("a = 1.0; b = 1.0")
    shown = nb.shown("%minimize a**2 + 2*b**2 --wrt a,b --lr 0.1 --compare sgd,adam,rmsprop")
    assert nb.ns["a"] == 1.0 and nb.ns["b"] == 1.0
    comparison = nb.ns["_min"]
    assert list(comparison.results) == ["sgd", "adam", "rmsprop"]
    assert "The notebook's variables are unchanged." in shown


def test_no_recompilation_on_rerun_or_new_lr(nb):
    setup_quadratic(nb)
    nb.run("%minimize a*x**2 + b*x + c --wrt x --quiet")
    with counting_compilations() as compiled:
        nb.run("x = 0.0")
        nb.run("%minimize a*x**2 + b*x + c --wrt x --quiet")
        nb.run("x = 0.0")
        nb.run("%minimize a*x**2 + b*x + c --wrt x --lr 0.02 --steps 500 --quiet")
        nb.run("a = 2.0")  # a constant is passed as an argument, not baked in
        nb.run("%minimize a*x**2 + b*x + c --wrt x --quiet")
    assert compiled == []
    assert abs(nb.ns["x"] - 0.5) < 1e-4  # minimum of 2x² - 2x + 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%minimize x**2 --optimizer adamm", "Did you mean adam?"),
        ("%minimize x**2 --lr 0", "lr must be a positive number"),
        ("%minimize x**2 --steps 0", "steps"),
        ("%minimize x * ones(3) --wrt x", "shape (3,)"),
        ("%minimize a**2 --wrt x", "does not depend on"),
        ("%minimize x**2 * n --wrt n", "Make it a float (e.g. n = 3.0)"),
        ("%minimize x**2 + y**2", "name them with --wrt"),
        ("%minimize x**2 --wrt q", "--wrt q: q is not defined"),
        (
            "%minimize x**2 --optimiser adam",
            "unknown option --optimiser. Did you mean --optimizer?",
        ),
        ("%minimize --wrt x", "Give an objective"),
    ],
)
def test_bad_input(nb, line, message):
    nb.run("x = 1.0; y = 2.0; a = 3.0; n = 3")
    assert message in nb.usage_error(line)


def test_help_has_every_option(nb):
    doc = nb.shell.find_line_magic("minimize").__doc__
    for option in [
        "--wrt",
        "--optimizer",
        "--lr",
        "--steps",
        "--momentum",
        "--tol",
        "--compare",
        "--plot",
        "--widgets",
        "--name",
        "--quiet",
    ]:
        assert option in doc
    assert "Example" in doc


def test_display_is_deterministic(nb):
    for _ in range(2):
        nb.run("x = 0.0; a = 1.0; b = -2.0; c = 1.0")
        nb.run("%minimize a*x**2 + b*x + c --wrt x --quiet")
    first = nb.ns["_min"]._repr_html_()
    nb.run("x = 0.0")
    nb.run("%minimize a*x**2 + b*x + c --wrt x --quiet")
    assert nb.ns["_min"]._repr_html_() == first
    assert np.isfinite(nb.ns["_min"].history).all()


def test_name_stores_the_result_too(nb):
    nb.run("x = 3.0")
    nb.run("%minimize x**2 --lr 0.1 --name best --quiet")
    assert nb.ns["best"] is nb.ns["_min"] and abs(nb.ns["x"]) < 1e-6


def test_progress_bar_counts_steps_and_closes():
    from gradmagic.minimize.progress import ProgressBar

    quick = ProgressBar(total=1000, label="sgd", delay=60.0)
    quick(256, 0.5)
    assert quick.bar is None  # a run shorter than the delay shows (and imports) nothing
    bar = ProgressBar(total=1000, label="sgd", delay=0.0)
    bar(256, 0.5)
    bar(512, 0.25)
    assert bar.bar.n == 512 and bar.bar.total == 1000
    assert "objective=0.25" in str(bar.bar)
    bar.close()
    assert bar.bar.disable  # tqdm marks a closed bar disabled


def test_cell_form_runs_the_cell_once_at_the_result(nb):
    setup_quadratic(nb)
    shown = nb.shown("%%minimize --wrt x --quiet\nprint('evaluated')\ny = a*x**2 + b*x + c\ny")
    assert shown.count("evaluated") == 1
    assert abs(nb.ns["y"]) < 1e-10 and abs(nb.ns["x"] - 1) < 1e-5


def test_settings_use_each_optimizers_own_names(nb):
    nb.run("x = 1.0; y = 1.0")
    nb.run("%minimize x**2 + y**2 --wrt x,y --optimizer adam --quiet")
    assert "with adam (lr 0.01, b1 0.9)" in repr(nb.ns["_min"])
    nb.run(
        "%minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer lbfgs --steps 100 --quiet"
    )
    assert "with lbfgs (step lengths by line search)" in repr(nb.ns["_min"])


def test_diverged_result_says_values_were_kept(nb):
    nb.run("x = 1.0")
    nb.run("%minimize x**2 --lr 1.5 --quiet")
    text = repr(nb.ns["_min"])
    assert "kept (the start)" in text and "final" not in text.splitlines()[1]


def test_progress_can_be_turned_off_for_saved_notebooks(nb, monkeypatch):
    from gradmagic.minimize import progress

    def interrupt(self, steps_done, loss):
        raise KeyboardInterrupt

    monkeypatch.setattr(progress.ProgressBar, "__call__", interrupt)
    monkeypatch.setenv("GRADMAGIC_PROGRESS", "off")
    nb.run("x = 3.0")
    result = nb.run("%minimize x**2 --steps 500 --lr 0.1")
    assert not result.interrupted and nb.ns["x"] != 3.0  # no bar was ever called


def test_start_option_starts_elsewhere_and_writes_back(nb):
    nb.run("x = 1.0; y = 1.0")
    result = nb.run("%minimize x**2 + 10*y**2 --wrt x,y --lr 0.05 --steps 300 --start x=4,y=0.5")
    assert result.start == {"x": 4.0, "y": 0.5}
    assert abs(nb.ns["x"]) < 1e-3 and nb.ns["x"] == result.values["x"]
    compared = nb.run("%minimize x**2 + 10*y**2 --wrt x,y --compare sgd,adam --start x=3")
    assert compared.results["adam"].start["x"] == 3.0
    panel = nb.run("%minimize x**2 + 10*y**2 --wrt x,y --start y=2 --widgets")
    assert panel.start.fields["y"].value == 2.0 and "--start y=2.0" in panel.line_text


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("--start z=1", "z is not a variable being optimised"),
        ("--start x=abc", "'abc' is not a number"),
        ("--start x", "name=value pairs"),
        ("--start x=1,x=2", "more than once"),
        ("--start x=nan", "finite number"),
    ],
)
def test_start_option_errors_leave_the_namespace(nb, option, says):
    nb.run("x = 1.0; y = 1.0")
    message = nb.usage_error(f"%minimize x**2 + y**2 --wrt x,y {option}")
    assert says in message


# The jnp.where NaN trap: the objective is finite, its gradient is not, so the next step is
# non-finite whatever the learning rate. The result says so and gives the fix instead of
# learning-rate advice, wherever the run meets it (the start, a later step, a large variable
# whose path is not recorded).
SQRT_TRAP = "jnp.where(x > 0, jnp.sqrt(x), 0.0) + (x + 1)**2"


@pytest.mark.parametrize(
    ("start", "objective", "where"),
    [
        ("x = -2.0", SQRT_TRAP, "Stopped at step 1: at the start (x = -2) the objective is finite (1)"),
        ("x = 2.0", SQRT_TRAP, "Stopped at step 6: at step 5 (x = -0.348371) the objective is finite (0.42462)"),
        ("x = 0.0", "jnp.where(x > 0, jnp.log(x), 0.0) + (x + 1)**2", "at the start (x = 0) the objective is finite (1)"),
        ("v = jnp.full(2000, 2.0)", "jnp.sum(jnp.where(v > 0, jnp.sqrt(v), 0.0) + (v + 1)**2)",
         "Stopped at step 6: at step 5 the objective is finite (849.24)"),
    ],
)  # fmt: skip
def test_nan_gradient_of_a_finite_objective_is_explained_not_called_divergence(
    nb, start, objective, where
):
    nb.run(f"import jax.numpy as jnp\n{start}")
    before = {name: nb.ns[name] for name in ("x", "v") if name in nb.ns}
    text = nb.shown(f"%minimize {objective} --lr 0.1 --steps 100")
    result = nb.ns["_min"]
    assert where in text and "but its gradient is NaN" in text
    assert "a smaller learning rate will not help" in text
    assert "jnp.where(x > 0, jnp.sqrt(jnp.where(x > 0, x, 1.0)), 0.0)" in text
    assert "Diverged" not in text and "--lr" not in text and "λmax" not in text
    assert result.status == 2 and not result.success and result.message in text
    for name, value in before.items():  # the starting values are kept
        assert nb.ns[name] is value


def test_the_fix_the_message_gives_converges(nb):
    nb.run("import jax.numpy as jnp\nx = -2.0")
    nb.run(
        "%minimize jnp.where(x > 0, jnp.sqrt(jnp.where(x > 0, x, 1.0)), 0.0) + (x + 1)**2 --lr 0.1 --steps 100 --quiet"
    )
    assert nb.ns["_min"].succeeded and nb.ns["x"] == pytest.approx(-1.0, abs=1e-5)


def test_infinite_slope_is_explained_too(nb):
    nb.run("import jax.numpy as jnp\nx = 0.0")
    text = nb.shown("%minimize jnp.sqrt(x) + x**2 --lr 0.1 --steps 100")
    assert "at the start (x = 0) the objective is finite (0) but its gradient is infinite" in text
    assert "infinite slope" in text and "will not help" in text and "--lr" not in text
    assert nb.ns["x"] == 0.0


def test_nan_gradient_compare_and_rerun_compile_nothing_new(nb):
    nb.run(f"import jax.numpy as jnp\nx = 2.0\n_ = %minimize {SQRT_TRAP} --lr 0.1 --steps 100")
    with counting_compilations() as compiled:  # the replay to step 5 reuses the loop's program
        nb.run("x = 2.0")
        again = nb.run(f"%minimize {SQRT_TRAP} --lr 0.1 --steps 100")
    assert compiled == [] and again.run.nonfinite_gradient.step == 5
    comparison = nb.shown(f"%minimize {SQRT_TRAP} --compare sgd,adam --lr 0.1 --steps 100")
    assert "NaN gradient, stopped at 6" in comparison


def test_real_divergence_still_gets_learning_rate_advice(nb):
    nb.run("x = 1.0")
    result = nb.run("%minimize x**2 --lr 1.5 --steps 100")
    assert result.run.nonfinite_gradient is None
    assert "Diverged at step 64" in result.message and "try --lr 0.5" in result.message

"""SciPy's shape for %minimize: OptimizeResult fields, bounds, schedules, L-BFGS's stop at
convergence and the callback, checked against scipy.optimize.minimize where it applies."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from gradmagic.minimize import driver
from gradmagic.minimize.driver import minimize
from gradmagic.minimize.schedules import learning_rates
from gradmagic.program_cache import counting_compilations

scipy_optimize = pytest.importorskip("scipy.optimize")


def rosenbrock_np(v):
    x, y = v
    value = (1 - x) ** 2 + 100 * (y - x**2) ** 2
    grad = np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])
    return value, grad


def test_every_optimize_result_field_matches_scipy(nb):
    nb.run("x = -1.2; y = 1.0")
    result = nb.run("%minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --optimizer lbfgs")
    ref = scipy_optimize.minimize(
        rosenbrock_np, [-1.2, 1.0], jac=True, method="L-BFGS-B", options={"gtol": 1e-5}
    )
    assert result.success and ref.success and result.status == ref.status == 0
    assert set(ref.keys()) >= {"x", "fun", "jac", "nit", "nfev", "njev", "success", "status"}
    assert [result.x["x"], result.x["y"]] == pytest.approx(list(ref.x), abs=1e-3)
    assert result.fun == pytest.approx(ref.fun, abs=1e-6)
    jac = np.array([result.jac["x"], result.jac["y"]])
    assert np.abs(jac).max() < 1e-3 and result.jac == {"x": jac[0], "y": jac[1]}
    assert 0 < result.nit < 100 and result.nfev >= result.nit + 1 and result.njev == result.nfev
    # float32: SciPy's ftol (the objective stopped decreasing) or its gtol, as SciPy's own
    assert "Converged after" in result.message
    assert ("stopped decreasing" in result.message) == result.run.stalled
    assert f"steps: {result.nit} of 1000" in repr(result)
    # mapping access, as SciPy's OptimizeResult (a dict with attribute access)
    assert result["x"] == result.x and result["fun"] == result.fun and "fun" in result
    assert list(result.keys()) == ["x", "fun", "jac", "nit", "nfev", "njev", "success",
                                   "status", "message"]  # fmt: skip
    plain = result.optimize_result()
    assert isinstance(plain, dict) and plain.nit == result.nit and plain["status"] == 0
    assert result.status() == result.message  # the older status() method still answers
    assert nb.ns["x"] == pytest.approx(1.0, abs=1e-3)


def test_one_variable_gives_its_value_and_first_order_counts(nb):
    nb.run("x = 0.0")
    result = nb.run("%minimize (x - 1)**2 --wrt x --lr 0.1 --steps 50")
    ref = scipy_optimize.minimize(lambda v: (v[0] - 1) ** 2, [0.0])
    assert result.x == pytest.approx(ref.x[0], abs=1e-4) and result.fun == pytest.approx(
        0, abs=1e-8
    )
    assert result.jac == pytest.approx(2 * (result.x - 1), abs=1e-6) and np.shape(result.jac) == ()
    assert (result.nit, result.nfev, result.njev) == (50, 51, 51)  # the start + one per step
    assert result.status == 1 and not result.success  # step limit, as SciPy's maxiter
    result = nb.run("%minimize (x - 1)**2 --wrt x --lr 0.1 --tol 1e-3")
    assert result.status == 0 and result.success and result.nit < 1000


def test_array_jac_is_shaped_like_the_variable(nb):
    nb.run("import numpy as np\nv = np.array([3.0, -2.0, 0.5])")
    nb.run("%minimize sum((v - 1)**2) --wrt v --optimizer lbfgs --quiet")
    result = nb.ns["_min"]
    assert result.x.shape == result.jac.shape == (3,)
    np.testing.assert_allclose(result.x, 1.0, atol=1e-5)


def test_diverged_and_interrupted_status():
    run_result = minimize(lambda p, a: -jax.numpy.exp(p[0]), (1.0,), optimizer="lbfgs", steps=50)
    assert run_result.diverged_at is not None
    assert run_result.jac[0] == pytest.approx(-np.exp(1.0), rel=1e-5)  # at the start kept

    def stop(steps, loss):
        if steps > 0:
            raise KeyboardInterrupt

    run_result = minimize(lambda p, a: p[0] ** 2, (1.0,), steps=10_000, on_progress=stop)
    assert run_result.interrupted


def test_status_codes_through_the_shell(nb):
    nb.run("x = 1.0")
    nb.run("%minimize -exp(x) --wrt x --optimizer lbfgs --steps 50 --quiet")
    assert nb.ns["_min"].status == 2 and "Diverged" in nb.ns["_min"].message


def test_lbfgs_stops_at_convergence_by_default(nb):
    nb.run("x = 3.0")
    result = nb.run("%minimize (x - 1)**2 --wrt x --optimizer lbfgs")
    assert result.converged and result.nit < 10 and result.tol == 1e-5
    assert "Finished all" not in repr(result) and "L-BFGS's default tol" in result.message
    assert f"steps: {result.nit} of 1000" in repr(result)


@pytest.mark.parametrize(
    ("optimizer", "lr"), [("sgd", 0.002), ("momentum", 0.001), ("adam", 0.05), ("lbfgs", 1.0)]
)
def test_bounds_keep_every_step_in_the_box(nb, optimizer, lr):
    nb.run("x = -1.2; y = 1.0")
    result = nb.run(
        "%minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --bounds x=:0.5,y=0:2 "
        f"--optimizer {optimizer} --lr {lr} --steps 3000 --plot"
    )
    assert result.path["x"].max() <= 0.5 and result.path["y"].min() >= 0.0
    assert result.path["y"].max() <= 2.0
    assert "projected onto bounds: x ≤ 0.5, y in [0, 2]" in repr(result)
    ref = scipy_optimize.minimize(
        rosenbrock_np, [-1.2, 1.0], jac=True, method="L-BFGS-B", bounds=[(None, 0.5), (0, 2)]
    )
    if optimizer in ("lbfgs", "adam"):
        assert [nb.ns["x"], nb.ns["y"]] == pytest.approx(list(ref.x), abs=2e-2)
    if optimizer == "lbfgs":
        assert result.success and result.fun == pytest.approx(ref.fun, abs=1e-5)
        assert "projected gradient norm" in result.message


def test_bounds_on_arrays_apply_to_every_element(nb):
    nb.run("import numpy as np\nv = np.array([0.5, 0.2])")
    nb.run("%minimize sum((v - 3)**2) --wrt v --bounds v=0:1 --lr 0.1 --quiet")
    result = nb.ns["_min"]
    np.testing.assert_allclose(nb.ns["v"], 1.0)
    assert result.path["v"].max() <= 1.0


@pytest.mark.parametrize(("optimizer", "lr"), [("sgd", 0.05), ("adam", 0.05), ("lbfgs", 1.0)])
def test_per_element_bounds_keep_each_element_in_its_interval(nb, optimizer, lr):
    nb.run("import numpy as np\nv = np.array([0.5, 0.5, 0.0])")
    result = nb.run(
        "%minimize sum((v - 3)**2) + v[0]*v[2] --wrt v --bounds v=[0, 0, -1]:[1,2,1] "
        f"--optimizer {optimizer} --lr {lr} --steps 400"
    )
    path = np.asarray(result.path["v"])
    assert (path >= [0, 0, -1]).all() and (path <= [1, 2, 1]).all()
    ref = scipy_optimize.minimize(
        lambda v: (np.sum((v - 3) ** 2) + v[0] * v[2], 2 * (v - 3) + [v[2], 0, v[0]]),
        [0.5, 0.5, 0.0], jac=True, method="L-BFGS-B", bounds=[(0, 1), (0, 2), (-1, 1)],
    )  # fmt: skip
    np.testing.assert_allclose(nb.ns["v"], ref.x, atol=1e-3)  # [1, 2, 1]: each at its corner
    assert "projected onto bounds: [0, 0, -1] ≤ v ≤ [1, 2, 1]" in repr(result)


def test_per_element_bounds_broadcast_and_scalars_bound_every_leaf(nb):
    nb.run("import numpy as np\nm = np.zeros((2, 3))")
    nb.run("%minimize ((m - 5)**2).sum() --wrt m --bounds m=:[1,2,3] --lr 0.1 --quiet")
    np.testing.assert_allclose(nb.ns["m"], [[1, 2, 3], [1, 2, 3]], atol=1e-6)
    nb.run("params = {'w': np.array([0.2, 0.4]), 'b': 0.5, 'n': 3}")
    nb.run("%minimize (params['w'][0] - 4)**2 + (params['w'][1] + 4)**2 + (params['b'] - 9)**2 "
           "--wrt params --bounds params=0:1 --optimizer lbfgs --quiet")  # fmt: skip
    np.testing.assert_allclose(nb.ns["params"]["w"], [1.0, 0.0], atol=1e-6)
    assert nb.ns["params"]["b"] == pytest.approx(1.0) and nb.ns["params"]["n"] == 3


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--bounds v=[0,0,0]:[1,2]", "lower bound's shape (3,) and the upper bound's (2,)"),
        ("--bounds v=[0,0]:[1,2]", "shape (2,), which does not broadcast to v's shape (3,)"),
        ("--bounds v=[0,0,0]:[1,-1,1]", "for v[1] the lower bound 0 is above the upper one -1"),
        ("--bounds v=[0,'a',0]:1", "is not a list of finite numbers"),
        ("--bounds v=[0,0,0]:[1,__import__('os')]", "is not a list of finite numbers"),
        (
            "--bounds v=[0,0,0]:[1,1,0.1]",
            "start of v[2] (0.5) is outside its bounds "
            "v=[0, 0, 0]:[1, 1, 0.1], which puts v[2] in [0, 0.1]",
        ),  # fmt: skip
        ("--bounds v=0:0.4", "start of v[1] (0.5) is outside its bounds v=0:0.4"),
    ],
)
def test_array_bound_mistakes_are_explained_and_change_nothing(nb, line, says):
    nb.run("import numpy as np\nv = np.array([0.2, 0.5, 0.5])")
    message = nb.usage_error(f"%minimize sum((v - 1)**2) --wrt v {line}")
    assert says in message, message
    np.testing.assert_array_equal(nb.ns["v"], [0.2, 0.5, 0.5])
    assert "_min" not in nb.ns


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--bounds z=0:1", "z is not a variable being optimised"),
        ("--bounds x=1:0", "lower bound is above the upper one"),
        ("--bounds x=a:1", "'a' is not a number"),
        ("--bounds x", "NAME=LOWER:UPPER"),
        ("--bounds x=2:3", "outside its bounds x=2:3"),
        ("--schedule cosin", "Did you mean cosine?"),
        ("--schedule cosine --optimizer lbfgs", "does not use"),
        ("--callback nothing", "nothing is not defined"),
        ("--callback x", "x is not a function"),
    ],
)
def test_mistakes_are_explained_and_change_nothing(nb, line, says):
    nb.run("x = 0.5")
    message = nb.usage_error(f"%minimize (x - 1)**2 --wrt x {line}")
    assert says in message, message
    assert nb.ns["x"] == 0.5 and "_min" not in nb.ns


def test_bounds_never_recompile_for_new_values():
    def f(p, a):
        return (p[0] - 3.0) ** 2

    minimize(f, (0.0,), lr=0.1, steps=20, bounds=[(0.0, 1.0)])
    with counting_compilations() as compiled:
        run_result = minimize(f, (0.0,), lr=0.1, steps=20, bounds=[(-1.0, 2.0)])
        other = minimize(f, (0.0,), lr=0.1, steps=20, bounds=[(None, 0.5)])
    assert compiled == [] and run_result.values[0] == pytest.approx(2.0)
    assert other.values[0] == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["constant", "cosine", "linear", "exponential", "warmup_cosine"])
def test_schedules_set_each_steps_learning_rate(nb, name):
    nb.run("x = 0.0")
    result = nb.run(f"%minimize (x - 1)**2 --wrt x --lr 0.1 --steps 200 --schedule {name} --plot")
    rates = result.lr_history
    assert rates.shape == (200,) and rates.max() == pytest.approx(0.1, rel=1e-3)
    np.testing.assert_allclose(rates, learning_rates(name, 0.1, 200), rtol=1e-5, atol=1e-9)
    assert f"lr 0.1, {name} schedule" in repr(result)
    path = result.path["x"]  # SGD: x_{k+1} = x_k - lr_k * 2 (x_k - 1)
    np.testing.assert_allclose(path[1:], path[:-1] - rates * 2 * (path[:-1] - 1), rtol=1e-5)
    if name != "constant":
        assert rates[-1] < 0.05
    figure = result.plot().figure
    assert [ax.get_ylabel() for ax in figure.axes][:2] == ["objective", "lr"]


def test_schedule_and_peak_changes_do_not_recompile():
    def f(p, a):
        return (p[0] - 1.0) ** 2

    minimize(f, (0.0,), lr=0.1, steps=100, schedule="cosine")
    with counting_compilations() as compiled:
        for name in ("linear", "warmup_cosine", "exponential", "constant"):
            minimize(f, (0.0,), lr=0.3, steps=77, schedule=name)
    assert compiled == []


def test_callback_sees_the_result_so_far_and_can_stop(nb):
    nb.run(
        "x = 0.0\nseen = []\n"
        "def report(r):\n"
        "    seen.append((r.nit, float(r.fun), float(r.x)))\n"
        "    if r.nit >= 20:\n"
        "        raise StopIteration\n"
    )
    result = nb.run("%minimize (x - 1)**2 --wrt x --lr 0.001 --steps 100000 --callback report")
    seen = nb.ns["seen"]
    assert seen and seen[-1][0] == result.nit < 100000 and result.nit >= 20
    assert nb.ns["x"] == result.x == pytest.approx(seen[-1][2])  # written back
    assert result.status == 99 and not result.success
    assert "Stopped by the callback" in repr(result)


def test_callback_errors_are_the_users_and_change_nothing(nb):
    nb.run("x = 0.0\ndef broken(r):\n    raise ValueError('mine')")
    error = nb.error("%minimize (x - 1)**2 --wrt x --steps 5000 --callback broken")
    assert isinstance(error, ValueError) and str(error) == "mine"
    assert nb.ns["x"] == 0.0 and "_min" not in nb.ns


def test_callback_runs_after_every_chunk_from_the_first():
    seen = []

    def fresh(p, a):  # a new function: a new program, whose first chunk is FIRST_CHUNK steps
        return (p[0] - 2.0) ** 2

    run_result = minimize(fresh, (0.0,), lr=0.01, steps=20, callback=lambda r: seen.append(r.nit))
    assert seen[0] == driver.FIRST_CHUNK and seen[-1] == run_result.steps == 20
    assert seen == sorted(set(seen))


def test_compare_results_have_the_fields_and_honour_bounds_and_schedule(nb):
    nb.run("x = -1.2; y = 1.0")
    comparison = nb.run(
        "%minimize (1 - x)**2 + 100*(y - x**2)**2 --wrt x,y --compare adam,lbfgs "
        "--lr 0.05 --steps 500 --bounds x=:0.5 --schedule cosine"
    )
    adam, lbfgs = comparison.results["adam"], comparison.results["lbfgs"]
    assert nb.ns["x"] == -1.2  # --compare changes nothing
    assert adam.lr_history.shape == (500,) and lbfgs.lr_history is None
    assert adam.path["x"].max() <= 0.5 and lbfgs.path["x"].max() <= 0.5
    assert lbfgs["status"] == 0 and lbfgs.x["x"] == pytest.approx(0.5)
    assert adam["nfev"] == 501 and set(adam.jac) == {"x", "y"}
    comparison.plot()  # the box and the lr panel draw


def test_x64_bounds_schedule_and_lbfgs_match_scipy_closely():
    def rosen(p, a):
        x, y = p
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    with jax.enable_x64(True):
        run_result = minimize(rosen, (-1.2, 1.0), optimizer="lbfgs", bounds=[(None, 0.5), None])
        scheduled = minimize(rosen, (-1.2, 1.0), optimizer="adam", lr=0.05, schedule="linear")
    ref = scipy_optimize.minimize(
        rosenbrock_np, [-1.2, 1.0], jac=True, method="L-BFGS-B", bounds=[(None, 0.5), (None, None)]
    )
    assert run_result.converged and run_result.values == pytest.approx(tuple(ref.x), abs=1e-6)
    assert run_result.loss == pytest.approx(ref.fun, abs=1e-10)
    assert scheduled.lr_history.dtype == np.float64 and scheduled.lr_history[0] == 0.05


def test_lbfgs_also_stops_when_the_objective_stalls_as_scipys_ftol():
    def rosen(p, a):
        v = p[0]
        return jax.numpy.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)

    start = np.ones(100, np.float32)
    start[::2] = -1.2
    run_result = minimize(rosen, (start,), optimizer="lbfgs", steps=1000)
    assert run_result.converged and run_result.stalled and run_result.steps < 1000
    assert run_result.grad_norm > 1e-5  # float32 cannot reach gtol here; ftol stops it
    np.testing.assert_allclose(run_result.values[0], 1.0, atol=1e-3)


def test_an_explicit_tol_alone_decides_when_lbfgs_stops():
    def rosen(p, a):
        v = p[0]
        return jax.numpy.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)

    start = np.ones(100, np.float32)
    start[::2] = -1.2
    default = minimize(rosen, (start,), optimizer="lbfgs", steps=600)
    with counting_compilations() as compiled:  # the same program: ftol's switch is traced
        explicit = minimize(rosen, (start,), optimizer="lbfgs", steps=600, tol=1e-9)
    assert compiled == [] and default.stalled and default.steps < 600
    # Only the explicit tol decides: either the gradient norm went below it (some JAX
    # versions reach x = 1 exactly) or every step ran; never SciPy's ftol stall.
    assert not explicit.stalled
    assert explicit.grad_norm < 1e-9 if explicit.converged else explicit.steps == 600


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--compare sgd,adam --callback report", "--compare does not take --callback"),
        ("--widgets --bounds x=0:1 --schedule cosine", "--widgets does not take --bounds;"),
        ("--widgets --static --schedule cosine", "--widgets --static does not take --schedule"),
        ("--widgets --schedule cosin", "Did you mean cosine?"),
    ],
)
def test_options_a_mode_cannot_honour_are_refused_not_ignored(nb, line, says):
    nb.run("x = 0.5\ndef report(r):\n    pass")
    assert says in nb.usage_error(f"%minimize (x - 1)**2 --wrt x {line}")
    assert nb.ns["x"] == 0.5 and "_min" not in nb.ns

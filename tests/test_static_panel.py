"""%minimize --widgets --static through a real IPython shell: the embedded runs are the
runs %minimize makes, the page is self-contained, small and deterministic, the notebook
is untouched, and bad combinations are refused with one message."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from gradmagic.lab.static_data import decode
from gradmagic.program_cache import counting_compilations

LINE = "%minimize x**2 + 10*y**2 --wrt x,y --lr 0.01 --steps 200 --widgets --static"


def shown(nb, line):
    """Run ``line``; return the static panel's (text/html, text/plain) as displayed."""
    result, captured = nb.capture(line)
    if result.error_in_exec is not None:
        raise result.error_in_exec
    bundle = result.result._repr_mimebundle_()
    return bundle["text/html"], bundle["text/plain"]


def page_data(html):
    """The data the page's script receives, read back from the HTML."""
    call = re.search(r"gmStaticPanel\(document\.currentScript\.parentNode,(\{.*\})\);", html)
    assert call is not None
    return json.loads(call.group(1).replace("<\\/", "</"))


def optimizer(data, name):
    return next(o for o in data["optimizers"] if o["name"] == name)


@pytest.fixture
def quadratic(nb):
    nb.run("x = 1.0; y = 1.0")
    return shown(nb, LINE)


def test_embedded_runs_match_minimize_at_the_same_settings(nb, quadratic):
    html, _ = quadratic
    data = page_data(html)
    assert [o["name"] for o in data["optimizers"]] == ["sgd", "momentum", "adam"]
    assert len(data["lrs"]) == 48 and data["lrText"][data["chosen"]["lr"]] == "0.01"
    steps = np.array(data["steps"])
    assert steps[0] == 0 and steps[-1] == 200
    for name, lr_text, momentum in (("momentum", "0.03162", "0.9"), ("adam", "0.1", "0.9")):
        k = data["lrText"].index(lr_text)
        run = optimizer(data, name)["runs"][k]
        nb.run("x = 1.0; y = 1.0")
        nb.run(
            f"%minimize x**2 + 10*y**2 --wrt x,y --optimizer {name} --lr {lr_text} "
            f"--steps 200 --momentum {momentum} --quiet"
        )
        expected = nb.ns["_min"]
        at = np.searchsorted(expected.recorded_steps, steps)
        history = np.asarray(expected.history, dtype=float)[at]
        np.testing.assert_allclose(decode(run["h"]), history, rtol=2e-3)
        for i, variable in enumerate("xy"):
            column = np.asarray(expected.path[variable], dtype=float)[at]
            step = (run["p"][i]["hi"] - run["p"][i]["lo"]) / 65534
            np.testing.assert_allclose(decode(run["p"][i]), column, atol=step)
        assert run["d"] == -1
        assert run["l"] == (
            f"%minimize x**2 + 10*y**2 --wrt x,y --optimizer {name} --lr {lr_text} "
            f"--steps 200 --momentum {momentum}"
        )
    # past 2/λmax = 0.1, plain gradient descent diverges, as %minimize says
    k = data["lrText"].index("0.1212")
    run = optimizer(data, "sgd")["runs"][k]
    nb.run("x = 1.0; y = 1.0")
    nb.run("%minimize x**2 + 10*y**2 --wrt x,y --lr 0.1212 --steps 200 --quiet")
    assert run["d"] == nb.ns["_min"].diverged_at > 0
    assert np.isnan(decode(run["h"])[-1])
    assert run["s"].startswith(f"Diverged at step {run['d']}.")
    assert "move the slider below 0.1" in run["s"] and run["w"]


def test_stability_marker_is_each_optimizers_bound(quadratic):
    data = page_data(quadratic[0])
    grid = np.array(data["lrs"])
    sgd, momentum, adam = (optimizer(data, n) for n in ("sgd", "momentum", "adam"))
    assert sgd["marker"]["label"] == "2/λmax = 0.1"
    index = int(np.flatnonzero(grid == 0.1)[0])
    assert sgd["marker"]["fraction"] == pytest.approx(index / 47, abs=1e-6)
    assert momentum["marker"]["label"] == "2(1+β)/λmax = 0.19"
    assert momentum["label"] == "momentum (β = 0.9)" and adam["label"] == "adam (b1 = 0.9)"
    assert adam["marker"] is None  # adaptive: no bound from the curvature
    chosen = sgd["runs"][data["chosen"]["lr"]]
    assert chosen["b"].startswith("lr = 0.01 < 2/λmax = 0.1") and not chosen["w"]


def test_page_is_self_contained_small_and_says_what_it_shows(quadratic):
    html, text = quadratic
    assert len(html.encode()) <= 1_000_000
    assert not re.search(r"https?://|<link|\bsrc=\"(?!data:)", html)  # nothing fetched
    assert text.startswith(
        "[static panel of x**2 + 10*y**2: 48 learning rates from 3.831e-05 to 0.3162 × sgd, "
        "momentum, adam, 200 steps each; showing sgd, lr 0.01;"
    )


def test_untrusted_view_is_a_still_image_that_says_why(quadratic):
    """What JupyterLab's sanitiser leaves of an untrusted output: no script, no style."""
    html = quadratic[0]
    untrusted = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    images = re.findall(r'<img src="data:image/png;base64,', untrusted)
    assert len(images) == 2  # loss curve and path, of the chosen setting
    assert "A still image of sgd, lr 0.01" in untrusted
    assert "untrusted notebook" in untrusted and "Trust Notebook" in untrusted
    assert "%minimize x**2 + 10*y**2 --wrt x,y --optimizer sgd --lr 0.01 --steps 200" in untrusted


def test_output_is_deterministic_and_notebook_untouched(nb, quadratic):
    before = nb.user_names()
    with counting_compilations() as compiled:
        again = shown(nb, LINE)
    assert again == quadratic  # byte-identical: nbval can compare it
    assert compiled == []  # the same problem reuses every compiled program
    assert nb.user_names() == before and nb.ns["x"] == 1.0 and nb.ns["y"] == 1.0
    ident = re.search(r'id="(gm-static-[0-9a-f]{16})"', again[0]).group(1)
    nb.run("y = 0.5")
    moved = shown(nb, LINE)[0]
    assert ident not in moved and moved != again[0]


def test_one_variable_has_a_path_on_the_curve_and_many_have_none(nb):
    nb.run("w = 3.0")
    html, text = shown(nb, "%minimize (w - 1)**4 + w**2 --wrt w --lr 0.05 --widgets --static")
    data = page_data(html)
    assert len(data["optimizers"][0]["runs"][0]["p"]) == 1 and data["path"] is not None
    assert "1000 steps each" in text
    nb.run("import numpy as np\nv = np.ones(3)")
    html, _ = shown(nb, "%minimize sum(v**2) --wrt v --steps 50 --widgets --static")
    data = page_data(html)
    assert data["path"] is None and "p" not in data["optimizers"][0]["runs"][0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("--static", "--static is a kind of --widgets panel"),
        ("--widgets --static --compare sgd,adam", "--widgets --static does not take --compare"),
        ("--widgets --static --animate", "--widgets --static does not take --animate"),
        ("--widgets --static --bounds x=0:1", "--widgets --static does not take --bounds"),
        ("--widgets --static --optimizer lbfgs", "lbfgs does not use"),
    ],
)
def test_bad_combinations_are_refused_with_one_message(nb, extra, message):
    nb.run("x = 1.0; y = 1.0")
    error = nb.usage_error(f"%minimize x**2 + 10*y**2 --wrt x,y --steps 20 {extra}")
    assert message in error


def test_static_with_data_is_refused(nb):
    nb.run("import numpy as np\nX = np.arange(4.0); t = 2 * X; a = 0.0")
    error = nb.usage_error(
        "%minimize sum((a * X - t)**2) --wrt a --data X,t --widgets --static --steps 5"
    )
    assert "--widgets --static does not take --data" in error


def test_sgd_runs_in_momentums_batch_are_plain_sgd_bit_for_bit():
    """The panel runs SGD as momentum with β = 0 in momentum's batch (one compiled program
    fewer): every SGD run is still plain SGD's, diverged ones included."""
    from gradmagic.lab.static_runs import grid_runs
    from gradmagic.minimize import problem_builder
    from gradmagic.minimize.batch import run_batch

    problem = problem_builder.problem_from_line(
        "x**2 + 10*y**2 + 0.5*x*y**3", {"x": 1.0, "y": 1.0}, ["x", "y"]
    )
    lrs, found, _ = grid_runs(
        problem, optimizer="adam", lr=0.01, steps=200, momentum=None, tol=None
    )
    assert [r.name for r in found] == ["adam", "sgd", "momentum"]
    sgd = next(r for r in found if r.name == "sgd")
    assert sgd.momentum is None and 0 < (sgd.diverged_at >= 0).sum() < len(lrs)
    alone = run_batch(problem, optimizer="sgd", lrs=lrs, momenta=[None] * len(lrs), steps=200)
    np.testing.assert_array_equal(sgd.final, alone.final)
    np.testing.assert_array_equal(sgd.steps, alone.steps)
    np.testing.assert_array_equal(sgd.diverged_at, alone.diverged_at)
    np.testing.assert_array_equal(sgd.ends, alone.ends)
    width = alone.history.shape[1]
    np.testing.assert_array_equal(sgd.history[:, :width], alone.history)
    np.testing.assert_array_equal(sgd.path[:, :width], alone.path)

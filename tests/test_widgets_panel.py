"""%minimize --widgets, kernel side: controls, results, namespace, compile counts."""

from __future__ import annotations

import pytest

from gradmagic.program_cache import counting_compilations


@pytest.fixture
def panel(nb):
    nb.run("x = 1.0; y = 1.0")
    made = nb.run("%minimize x**2 + 10*y**2 --wrt x,y --lr 0.01 --steps 200 --widgets")
    return made


def test_panel_controls_are_attributes_and_result_matches(nb, panel):
    for name in ("lr", "optimizer", "steps", "momentum", "start", "result", "plot", "summary"):
        assert hasattr(panel, name)
    assert panel.lr.value == pytest.approx(0.01)
    assert panel.optimizer.value == "sgd" and panel.steps.value == 200
    assert panel.result.optimizer == "sgd" and panel.result.steps == 200
    assert panel.plot.value[:4] == b"\x89PNG" and panel.path_plot.value[:4] == b"\x89PNG"
    assert "Minimised x**2 + 10*y**2 with sgd (lr 0.01)" in panel.summary.value


def test_stability_bound_of_known_quadratic(panel):
    assert panel.curvature.lambda_max == pytest.approx(20.0, rel=1e-5)
    assert panel.advice().bound == pytest.approx(0.1, rel=1e-5)
    assert "2/λmax = 0.1" in panel.marker.value
    assert "stable for SGD" in panel.stability.value


def test_marker_and_best_step_follow_each_optimizers_rule(panel):
    """One advice object drives the marker, the text and the button, per optimizer."""
    panel.optimizer.value = "momentum"
    panel.momentum.value = 0.5
    assert "2(1+β)/λmax = 0.15" in panel.marker.value  # not SGD's 0.1
    assert "stable for momentum (β = 0.5)" in panel.stability.value
    panel.best_step.click()  # heavy ball's tuning sets the learning rate and β together
    assert panel.lr.value == pytest.approx(4 / (20**0.5 + 2**0.5) ** 2, rel=1e-3)
    assert panel.momentum.value == pytest.approx(0.26987, abs=1e-3)
    assert not panel.result.diverged
    panel.optimizer.value = "nesterov"
    assert "2(1+β)/((1+2β)λmax)" in panel.marker.value
    panel.optimizer.value = "adam"
    assert panel.marker.value == ""  # no curvature bound for an adaptive method
    assert "no stability bound" in panel.stability.value
    lr = panel.lr.value
    panel.best_step.click()
    assert panel.lr.value == lr and "No best-step rule for adam" in panel.message.value


def test_lbfgs_in_the_panel_never_suggests_a_learning_rate(nb):
    nb.run("x = 1.0")
    panel = nb.run("%minimize -exp(x) --wrt x --optimizer lbfgs --steps 50 --widgets")
    assert panel.result.diverged
    assert "line search" in panel.summary.value and "--lr" not in panel.summary.value
    assert panel.marker.value == ""


def test_moving_controls_changes_result_not_namespace(nb, panel):
    before = nb.user_names()
    panel.lr.value = 0.05
    assert panel.result.lr == pytest.approx(0.05) and not panel.result.diverged
    panel.lr.value = 0.12  # past 2/λmax: SGD diverges
    assert panel.result.diverged
    assert "diverged at step" in panel.text_summary().lower()
    assert "SGD oscillates" in panel.stability.value
    assert "move the slider below 0.1" in panel.summary.value
    assert "try --lr" not in panel.summary.value
    panel.optimizer.value = "adam"
    assert panel.result.optimizer == "adam" and not panel.result.diverged
    assert panel.momentum_box.layout.display is None and panel.momentum.description == "b1"
    panel.optimizer.value = "sgd"
    assert panel.momentum_box.layout.display == "none"
    panel.steps.value = 50
    assert panel.result.steps == 50
    panel.start.fields["x"].value = 2.0
    assert panel.result.start["x"] == 2.0
    assert nb.user_names() == before


def test_best_step_and_use_these_values(nb, panel):
    panel.best_step.click()
    assert panel.lr.value == pytest.approx(2 / (2 + 20), rel=1e-3)
    assert nb.ns["x"] == 1.0
    panel.use.click()
    assert abs(nb.ns["x"]) < 1e-6 and abs(nb.ns["y"]) < 1e-6
    assert "Wrote x = " in panel.message.value
    assert nb.ns["_min"] is panel.result


def test_copyable_magic_line_reproduces_settings(nb, panel):
    panel.lr.value = 0.05
    assert (
        "%minimize x**2 + 10*y**2 --wrt x,y --optimizer sgd --lr 0.05 --steps 200"
        in panel.line.value
    )


def test_no_recompilation_on_lr_momentum_steps_start(panel):
    panel.optimizer.value = "momentum"
    panel.lr.value = 0.02  # warm every program this optimizer needs
    with counting_compilations() as compiled:
        panel.lr.value = 0.03
        panel.momentum.value = 0.5
        panel.steps.value = 120
        panel.start.fields["y"].value = 0.5
    assert compiled == []


def test_errors_in_callbacks_are_shown_not_swallowed(panel, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(panel.problem, "run", broken)
    panel.lr.value = 0.02
    assert "RuntimeError: boom" in panel.message.value
    monkeypatch.undo()
    panel.lr.value = 0.03
    assert panel.message.value == ""


def test_text_summary_is_deterministic_for_nbval(panel):
    bundle = panel._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["text/plain"].startswith(
        "OptimizerPanel for x**2 + 10*y**2 (sgd (lr 0.01), 200 steps)"
    )
    assert "0x" not in data["text/plain"]


def test_widgets_on_an_array_variable_show_the_loss_curve_only(nb):
    nb.run("import jax.numpy as jnp\nv = jnp.ones(3)")
    panel = nb.run("%minimize sum(v**2) --wrt v --widgets --lr 0.1")
    assert panel.message.value == "" and not panel.start.fields
    assert panel.path_view.layout.display == "none"
    assert "v = (3,) [" in panel.text_summary()


def test_switching_optimizer_uses_its_default_momentum(panel):
    panel.optimizer.value = "momentum"
    panel.momentum.value = 0.27
    assert panel.result.momentum == pytest.approx(0.27)
    panel.optimizer.value = "adam"
    assert panel.momentum.value == pytest.approx(0.9) and panel.result.momentum == pytest.approx(
        0.9
    )


def test_line_search_optimizer_disables_the_learning_rate(panel):
    panel.optimizer.value = "lbfgs"
    assert panel.lr.disabled and "line search" in panel.stability.value
    assert "lbfgs (step lengths by line search)" in panel.text_summary()
    panel.optimizer.value = "sgd"
    assert not panel.lr.disabled


def test_best_step_is_one_number_everywhere(nb, panel):
    panel.best_step.click()
    assert panel.learning_rate == 0.09091 and panel.result.lr == pytest.approx(0.09091)
    assert panel.lr_readout.value == "0.09091"
    assert "lr = 0.09091 &lt;" in panel.stability.value
    assert "(lr 0.09091)" in panel.summary.value
    assert "--lr 0.09091 " in panel.line_text
    panel.lr_readout.value = "0.02"  # typed: kept exactly, never snapped to the slider
    assert panel.result.lr == pytest.approx(0.02) and panel.lr_readout.value == "0.02"
    panel.lr.value = panel.lr.value * (1 + 1e-9)  # the slider's own echo changes nothing
    assert panel.learning_rate == 0.02


def test_lr_on_the_bound_is_called_the_edge(panel):
    panel.lr_readout.value = "0.1"
    assert "on the edge" in panel.stability.value and "never converges" in panel.stability.value
    assert "never converges" in panel.summary.value


def test_bound_and_best_step_follow_a_new_start(nb):
    nb.run("x = -1.5; y = 2.0")
    panel = nb.run("%minimize (1-x)**2 + 100*(y-x**2)**2 --wrt x,y --steps 200 --widgets")
    far = panel.bound
    with counting_compilations() as compiled:
        panel.start.fields["x"].value = 0.0
        panel.start.fields["y"].value = 0.0
    assert not any("chunk" in str(c) for c in compiled)  # the loop is not recompiled
    assert panel.bound > 2 * far
    for x0, y0 in ((0.0, 0.0), (-1.5, 2.0)):
        panel.start.fields["x"].value, panel.start.fields["y"].value = x0, y0
        panel.best_step.click()
        assert not panel.result.diverged, (x0, y0, panel.learning_rate)
        assert panel.result.loss < panel.result.history[0]
    with counting_compilations() as compiled:
        panel.start.fields["x"].value = 0.0  # back to a start seen before: cached
        panel.start.fields["y"].value = 0.0
    assert compiled == []


def test_best_step_never_diverges_on_a_non_quadratic(nb):
    nb.run("x = 0.0")
    panel = nb.run("%minimize (x-2)**2 + 0.5*x**4 --wrt x --steps 200 --widgets")
    panel.best_step.click()
    assert not panel.result.diverged and panel.result.values["x"] == pytest.approx(1.0, abs=1e-4)
    assert panel.curvature.lambda_max == pytest.approx(8.0, rel=1e-3)  # met at the minimum
    assert "of a trial SGD run" in panel.stability.value  # says where it was measured
    panel.lr_readout.value = "0.5"  # stable at the start, not at the minimum
    assert panel.result.diverged and "diverges" in panel.stability.value


def test_panel_line_reproduces_the_panel_run(nb, panel):
    panel.start.fields["x"].value = 4.0
    panel.start.fields["y"].value = 0.5
    panel.optimizer.value = "momentum"
    panel.best_step.click()
    line = panel.line_text
    assert "--start x=4.0,y=0.5" in line and "--momentum " in line
    result = nb.run(line)
    assert result.values == pytest.approx(panel.result.values)
    assert result.lr == panel.result.lr and result.momentum == panel.result.momentum
    panel.optimizer.value = "lbfgs"
    assert "--lr" not in panel.line_text


def test_lbfgs_says_when_it_stopped_changing(nb):
    nb.run("x = 1.0; y = 1.0")
    nb.run("%minimize x**2 + 10*y**2 --wrt x,y --optimizer lbfgs --steps 500 --quiet")
    assert nb.ns["_min"].converged and nb.ns["_min"].steps < 50  # SciPy's gtol by default
    # An explicit tol it cannot reach: it runs every step, and says where it settled.
    nb.run(
        "%minimize (x - 0.1)**2 + x**4 + 10*(y - 1/3)**2 --wrt x,y --optimizer lbfgs"
        " --steps 500 --tol 1e-30 --quiet"
    )
    result = nb.ns["_min"]
    assert "stopped changing after step" in result.message
    settled = result.settled_at()
    assert settled is not None and settled < 100
    assert (
        f"steps: 500 of 500 (the objective stopped changing after step {settled});"
        in result._repr_html_()
    )


def test_one_step_grammar_and_zero_loss_curve(nb):
    nb.run("x = 1.0")
    nb.run("%minimize x**2 --wrt x --steps 1 --quiet")
    result = nb.ns["_min"]
    assert result.status() == "Finished the only step."
    panel = nb.run("%minimize x**2 --wrt x --lr 0.5 --steps 20 --widgets")
    assert panel.result.loss == 0 and panel.plot.value[:4] == b"\x89PNG"


def test_momentum_scale_separates_099_and_0999(panel):
    panel.optimizer.value = "momentum"
    panel.momentum_scale.value = 2.0
    assert panel.momentum.value == 0.99 and panel.result.momentum == pytest.approx(0.99)
    panel.momentum_scale.value = 3.0
    assert panel.momentum.value == 0.999
    with counting_compilations() as compiled:
        panel.momentum.value = 0.5
        panel.lr_readout.value = "0.03"
    assert compiled == []


def test_lr_and_momentum_moves_redraw_only_the_moving_parts(panel):
    """A drag neither compiles nor redraws axes, ticks or contours: the cached static
    image is blitted and only the curve, the title, the path and the end move."""
    panel.optimizer.value = "momentum"
    for lr in (0.005, 0.05):  # frame the range once (the frame only grows)
        panel.lr.value = lr
    static = panel._figure._static, panel._figure._path_static
    with counting_compilations() as compiled:
        for lr in (0.006, 0.01, 0.02, 0.03, 0.04, 0.045):
            panel.lr.value = lr
        panel.momentum.value = 0.8
        panel.momentum.value = 0.85
    assert compiled == []
    assert panel._figure._static is static[0] and panel._figure._path_static is static[1]


def test_schedule_in_the_panel_the_slider_sets_its_peak(nb):
    nb.run("x = 1.0; y = 1.0")
    panel = nb.run(
        "%minimize x**2 + 10*y**2 --wrt x,y --lr 0.05 --steps 100 --widgets --schedule Cosine"
    )
    rates = panel.result.lr_history
    assert panel.result.schedule == "cosine" and rates[0] == pytest.approx(0.05)
    assert rates[-1] < 1e-3 and len(rates) == 100  # cosine decay to 0 over the run
    line = panel.line_text
    assert line.endswith("--optimizer sgd --lr 0.05 --schedule cosine --steps 100")
    figure = panel._figure
    drawn = figure.rate_line.get_ydata()
    assert list(drawn) == pytest.approx(list(rates)) and figure.rate_axes.get_ylabel() == "lr"
    with counting_compilations() as compiled:
        panel.lr.value = 0.08  # the slider moves the peak: every step's rate scales with it
    assert compiled == []
    assert panel.result.lr_history[0] == pytest.approx(0.08)
    assert list(figure.rate_line.get_ydata()) == pytest.approx(list(panel.result.lr_history))
    assert "--lr 0.08 --schedule cosine" in panel.line_text
    assert nb.ns["x"] == 1.0 and nb.ns["y"] == 1.0  # the panel never writes back by itself
    result = nb.run(panel.line_text)  # the line reproduces the panel's run
    assert result.values == pytest.approx(panel.result.values)
    assert list(result.lr_history) == pytest.approx(list(panel.result.lr_history))
    panel.optimizer.value = "lbfgs"  # its line search picks every step: no schedule
    assert panel.result.lr_history is None and "--schedule" not in panel.line_text
    assert len(figure.rate_line.get_ydata()) == 0 and panel.message.value == ""


def test_slider_step_sends_an_svg_overlay_not_a_png(panel):
    """The static image stays (no message), the moving parts come as SVG at the pixels
    matplotlib would draw them: the path's end marker sits on the run's end."""
    import re

    import numpy as np

    for lr in (0.005, 0.05):  # frame the range once (the frame only grows)
        panel.lr.value = lr
    pngs = panel.plot.value, panel.path_plot.value
    overlays = panel.plot_view.overlay.value, panel.path_view.overlay.value
    changed = []  # a widget whose value did not change sends no message
    panel.plot.observe(changed.append, names="value")
    panel.path_plot.observe(changed.append, names="value")
    panel.lr.value = 0.03
    assert changed == [] and (panel.plot.value, panel.path_plot.value) == pngs
    curve, path = panel.plot_view.overlay.value, panel.path_view.overlay.value
    assert curve != overlays[0] and path != overlays[1]
    assert curve.startswith("<svg") and '<path d="M' in curve and ">loss curve</text>" in curve
    figure = panel._figure.path_figure
    end = panel.result.values["x"], panel.result.values["y"]
    x, y = panel._figure.path_axes.transData.transform(np.asarray(end, float))
    corners = re.search(r'<polygon points="([^"]+)"', path).group(1).split()
    xs, ys = zip(*(map(float, c.split(",")) for c in corners), strict=True)
    assert np.mean(xs) == pytest.approx(x, abs=0.2)
    assert np.mean(ys) == pytest.approx(figure.bbox.height - y, abs=0.2)  # SVG's y is down
    panel.lr.value = 0.12  # past 2/λmax: the title says so, in red
    assert "loss curve: diverged at step" in panel.plot_view.overlay.value
    assert 'fill="#bb0000">loss curve: diverged' in panel.plot_view.overlay.value


def in_a_kernel(coroutine_function):
    """Run ``coroutine_function()`` on a fresh event loop of its own thread, as a kernel
    runs a cell or a widget message.  Not ``asyncio.run`` here: in the whole suite the
    browser tests' Playwright (sync API) keeps an event loop marked running in this
    thread for the session."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_function())).result()


def test_slider_steps_send_the_plots_and_the_texts_follow_at_rest(panel, monkeypatch):
    """In a kernel (a running event loop) a slider step sends the plots, then the
    readout, and nothing else: the front end sends the next step when the kernel is idle,
    and the server forwards messages one by one, so the loss curve goes first.  Once the slider rests, the curvature along the run and every text
    describe the last rate (here past the bound: a diverged run, said in red)."""
    import asyncio

    import ipywidgets

    names = {
        id(panel.lr): "slider",
        id(panel.lr_readout): "readout",
        id(panel.plot_view.overlay): "curve",
        id(panel.path_view.overlay): "path",
        id(panel.summary): "summary",
        id(panel.stability): "stability",
        id(panel.line): "line",
    }
    sent: list[str] = []
    send = ipywidgets.Widget._send

    def counted(widget, msg, buffers=None):
        sent.append(names.get(id(widget), widget.__class__.__name__))
        send(widget, msg, buffers)

    for lr in (0.02, 0.05, 0.08, 0.12, 0.01):  # frame the range once (it only grows)
        panel.lr.value = lr
    monkeypatch.setattr(ipywidgets.Widget, "_send", counted)
    before = panel.summary.value, panel.stability.value, panel.line.value

    async def drag_then_rest() -> None:
        for lr in (0.02, 0.05, 0.08, 0.12):
            sent.clear()
            panel.lr.set_state({"value": lr})  # what the front end's update message does
            assert sent == ["curve", "path", "readout"], lr  # the plot first, no echo
            await asyncio.sleep(0)  # the kernel goes idle between steps
        assert (panel.summary.value, panel.stability.value, panel.line.value) == before
        sent.clear()
        for _ in range(200):  # the texts come once the slider has rested
            if "lr 0.12" in panel.summary.value:
                break
            await asyncio.sleep(0.05)

    with counting_compilations() as compiled:
        in_a_kernel(drag_then_rest)
    assert compiled == []
    assert {"summary", "stability", "line"} <= set(sent)  # at rest, once
    assert "Minimised x**2 + 10*y**2 with sgd (lr 0.12)" in panel.summary.value
    assert "Diverged at step 129" in panel.summary.value  # with the bound's advice:
    assert "SGD is stable for lr &lt; 2/λmax = 0.1 here" in panel.summary.value
    assert panel.stability.value == (
        '<span class="gm-warn">lr = 0.12 &gt; 2/λmax = 0.1 (λmax = 20 at the start): '
        "SGD oscillates with growing steps and diverges.</span>"
    )
    assert panel.line_text.endswith("--optimizer sgd --lr 0.12 --steps 200")
    assert panel.lr_readout.value == "0.12" and panel.message.value == ""


def test_a_failing_slider_step_keeps_its_message_at_rest(panel, monkeypatch):
    """The texts of an earlier step, due when the slider rests, do not wipe the error of
    the step after it."""
    import asyncio

    def broken(**kwargs):
        raise RuntimeError("boom")

    async def drag_then_rest() -> None:
        panel.lr.set_state({"value": 0.02})  # fine: its texts wait for the rest
        monkeypatch.setattr(panel.problem, "run", broken)
        panel.lr.set_state({"value": 0.03})
        await asyncio.sleep(0.5)  # longer than the rest

    in_a_kernel(drag_then_rest)
    assert "RuntimeError: boom" in panel.message.value


def test_code_moving_the_slider_in_a_kernel_gets_the_texts_at_once(panel):
    """A notebook cell that sets the slider (notebook 08 does) runs inside the kernel's
    event loop too, and prints the texts right after: only browser moves wait."""

    async def cell() -> str:
        panel.lr.value = 0.12
        return panel.stability.value

    assert "lr = 0.12 &gt; 2/λmax = 0.1" in in_a_kernel(cell)
    assert "with sgd (lr 0.12)" in panel.summary.value

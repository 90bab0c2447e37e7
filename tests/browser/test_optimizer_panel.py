"""The %minimize --widgets panel in a real JupyterLab: keyboard on the slider, new plot."""

from __future__ import annotations

import statistics

import pytest
from lab import (
    cell_output,
    image_probe_result,
    image_src,
    open_notebook,
    run_all_cells,
    screenshot,
    start_image_probe,
    wait_for_new_image,
    wait_for_text,
    write_notebook,
)

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext gradmagic",
    "x = 1.0\ny = 1.0",
    "panel = %minimize x**2 + 10*y**2 --wrt x,y --lr 0.01 --steps 200 --widgets\npanel",
    "print(x, y)",
]


def test_slider_and_dropdown_redraw_the_panel(jupyter_server, browser_page):
    page = browser_page
    write_notebook(jupyter_server, "optimizer_panel.ipynb", CELLS)
    open_notebook(page, jupyter_server, "optimizer_panel.ipynb")
    run_all_cells(page)

    out = cell_output(page, 2)
    slider = out.locator(".widget-slider.gm-lr")
    handle = slider.locator(".noUi-handle")
    img = out.locator("img.gm-plot")
    summary = out.locator(".widget-html.gm-summary")
    slider.wait_for(state="visible", timeout=30_000)
    img.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle()
    )
    assert "with sgd (lr 0.01)" in summary.inner_text()
    assert "2/λmax = 0.1" in out.inner_text()

    # Keyboard on the slider: two steps of 0.01 in log10, 0.01 -> 10**-1.98 = 0.01047.
    before = image_src(out, "img.gm-plot")
    img.scroll_into_view_if_needed()
    start_image_probe(page, out, "img.gm-plot")
    handle.focus()
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    wait_for_text(page, out, ".gm-summary", "with sgd (lr 0.01047)", contains=True)
    after = wait_for_new_image(page, out, before, "img.gm-plot")
    timing = image_probe_result(page)
    assert after != before
    print(
        f"\n[optimizer-panel] slider key -> first new plot {timing['first_ms']:.0f} ms, "
        f"-> final plot {timing['last_ms']:.0f} ms ({timing['n_images']} image(s))"
    )
    # Slider-to-plot time over several single steps (right, left, ...: back to 0.01047).
    times = []
    for key in ["ArrowRight", "ArrowLeft"] * 4:
        before = image_src(out, "img.gm-plot")
        start_image_probe(page, out, "img.gm-plot")
        handle.press(key)
        wait_for_new_image(page, out, before, "img.gm-plot")
        times.append(image_probe_result(page)["first_ms"])
    median = statistics.median(times)
    print(f"[optimizer-panel] slider step -> new plot: median {median:.0f} ms of {times}")
    wait_for_text(page, out, ".gm-summary", "with sgd (lr 0.01047)", contains=True)
    # The issue asks for <= 80 ms; a loaded test machine gets some slack.  A whole-figure
    # redraw per step (the regression this guards against) measured over 400 ms.
    assert median <= 250, times

    # The optimizer dropdown: the summary and the plot follow.
    before = image_src(out, "img.gm-plot")
    out.locator(".gm-optimizer select").select_option("adam")
    wait_for_text(page, out, ".gm-summary", "with adam (lr 0.01047", contains=True)
    wait_for_new_image(page, out, before, "img.gm-plot")
    screenshot(page, "optimizer-panel")
    # Moving controls changed no notebook variable (the last cell printed them before).
    assert "1.0 1.0" in cell_output(page, 3).inner_text()
    assert not [e for e in page.console_errors if "widget" in e.lower()]
    assert not page.external_requests

    # best step: one number in the readout and the line; the marker under the handle.
    out.locator(".gm-optimizer select").select_option("sgd")
    wait_for_text(page, out, ".gm-summary", "with sgd (", contains=True)
    out.locator("button", has_text="best step").click()
    wait_for_text(page, out, ".gm-line", "--lr 0.09091", contains=True)
    assert out.locator(".gm-lr-readout input").input_value() == "0.09091"
    offsets = {}
    for name in ("light", "dark", "narrow"):
        if name == "dark":
            page.evaluate(
                "() => window.jupyterapp.commands.execute('apputils:change-theme',"
                " {theme: 'JupyterLab Dark'})"
            )
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        if name == "narrow":
            page.set_viewport_size({"width": 800, "height": 1000})
            page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        readout = out.locator(".gm-lr-readout input")
        readout.fill("0.1")
        readout.press("Enter")
        wait_for_text(page, out, ".gm-stability", "on the edge", contains=True)
        out.locator(".gm-plot").scroll_into_view_if_needed()
        tip = out.locator(".gm-tip").bounding_box()
        knob = handle.bounding_box()
        offsets[name] = (tip["x"] + tip["width"] / 2) - (knob["x"] + knob["width"] / 2)
        screenshot(page, f"optimizer-panel-{name}")
        readout.fill("0.05")
        readout.press("Enter")
        wait_for_text(page, out, ".gm-stability", "stable for SGD", contains=True)
    scroll = out.evaluate("(o) => o.scrollWidth - o.clientWidth")
    print(f"[optimizer-panel] marker offsets px {offsets}; output overflow {scroll} px")
    assert all(abs(v) <= 2 for v in offsets.values()), offsets
    assert scroll <= 0

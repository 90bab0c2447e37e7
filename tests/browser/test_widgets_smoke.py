"""Smoke test: ipywidgets render and round-trip through a real kernel in JupyterLab.

A FloatLogSlider drives a matplotlib PNG shown in an ipywidgets.Image and an HTML
label; pressing ArrowRight on the slider handle must produce a new image and label.
"""

from __future__ import annotations

import time

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

WIDGET_CELL = r'''
import io

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

x = np.linspace(0, 50, 200)


def render_png(lr):
    """Loss curve of gradient descent on a quadratic for learning rate `lr`."""
    fig = Figure(figsize=(4, 2.5), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(x, (1 - lr) ** (2 * x), color="tab:blue")
    ax.set_title(f"lr = {lr:.4f}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def fmt(lr):
    return f"<b class='gm-lr-label'>lr = {lr:.4f}</b>"


slider = widgets.FloatLogSlider(
    value=0.01, base=10, min=-4, max=0, step=0.1, description="lr", continuous_update=True
)
slider.add_class("gm-lr-slider")
image = widgets.Image(value=render_png(slider.value), format="png", width=320)
image.add_class("gm-plot")
label = widgets.HTML(value=fmt(slider.value))
label.add_class("gm-label")


def on_change(change):
    lr = change["new"]
    image.value = render_png(lr)
    label.value = fmt(lr)


slider.observe(on_change, names="value")
widgets.VBox([slider, label, image])
'''


def test_slider_updates_image_and_label(jupyter_server, browser_page):
    page = browser_page
    t0 = time.monotonic()
    write_notebook(jupyter_server, "widgets_smoke.ipynb", [WIDGET_CELL])
    open_notebook(page, jupyter_server, "widgets_smoke.ipynb")
    t_open = time.monotonic()
    run_all_cells(page)
    t_run = time.monotonic()

    out = cell_output(page, 0)
    # add_class() puts the class on the widget's own element.
    slider = out.locator(".widget-slider.gm-lr-slider")
    handle = slider.locator(".noUi-handle")
    readout = slider.locator(".widget-readout")
    img = out.locator("img.gm-plot")
    label = out.locator(".widget-html.gm-label")
    slider.wait_for(state="visible", timeout=30_000)
    img.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle()
    )

    assert label.inner_text().strip() == "lr = 0.0100"
    assert readout.inner_text().strip() == "0.0100"
    src_before = image_src(out, "img.gm-plot")
    assert src_before and src_before.startswith(("blob:", "data:")), src_before

    img.scroll_into_view_if_needed()
    start_image_probe(page, out, "img.gm-plot")
    handle.focus()
    presses = 3
    t_key = time.monotonic()
    for _ in range(presses):
        handle.press("ArrowRight")

    # Each ArrowRight moves the exponent by step=0.1: 10**-2 -> 10**-1.7.
    expected = f"lr = {10**-1.7:.4f}"
    wait_for_text(page, out, ".gm-label", expected)
    src_after = wait_for_new_image(page, out, src_before, "img.gm-plot")
    timing = image_probe_result(page)
    t_done = time.monotonic()

    assert src_after != src_before
    assert image_src(out, "img.gm-plot") != src_before
    assert label.inner_text().strip() == expected
    assert readout.inner_text().strip() == f"{10**-1.7:.4f}"

    print(
        f"\n[widgets-smoke] open notebook {t_open - t0:.1f}s, run all {t_run - t_open:.1f}s; "
        f"{timing['n_images']} image update(s) for {presses} key presses; "
        f"{timing['start_event']} -> first new image decoded {timing['first_ms']:.0f} ms, "
        f"-> final image {timing['last_ms']:.0f} ms "
        f"(python wall clock: key presses -> all done {1000 * (t_done - t_key):.0f} ms)"
    )
    screenshot(page, "widgets-smoke")
    widget_errors = [e for e in page.console_errors if "widget" in e.lower()]
    assert not widget_errors, widget_errors
    assert not page.external_requests, page.external_requests

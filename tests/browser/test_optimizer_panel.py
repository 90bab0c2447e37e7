"""The %minimize --widgets panel in a real JupyterLab: keyboard on the slider, new plot."""

from __future__ import annotations

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

    # Keyboard on the slider: two steps of 0.05 in log10, 0.01 -> 10**-1.9.
    before = image_src(out, "img.gm-plot")
    img.scroll_into_view_if_needed()
    start_image_probe(page, out, "img.gm-plot")
    handle.focus()
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    wait_for_text(page, out, ".gm-summary", "with sgd (lr 0.0125893)", contains=True)
    after = wait_for_new_image(page, out, before, "img.gm-plot")
    timing = image_probe_result(page)
    assert after != before
    print(
        f"\n[optimizer-panel] slider key -> first new plot {timing['first_ms']:.0f} ms, "
        f"-> final plot {timing['last_ms']:.0f} ms ({timing['n_images']} image(s))"
    )

    # The optimizer dropdown: the summary and the plot follow.
    before = image_src(out, "img.gm-plot")
    out.locator(".gm-optimizer select").select_option("adam")
    wait_for_text(page, out, ".gm-summary", "with adam (lr 0.0125893", contains=True)
    wait_for_new_image(page, out, before, "img.gm-plot")
    screenshot(page, "optimizer-panel")
    # Moving controls changed no notebook variable (the last cell printed them before).
    assert "1.0 1.0" in cell_output(page, 3).inner_text()
    assert not [e for e in page.console_errors if "widget" in e.lower()]
    assert not page.external_requests

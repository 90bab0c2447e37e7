"""Notebook 11's HTML export, opened from disk with no Jupyter server and no network: the
static panel's slider and optimizer menu redraw its plots (the redraw time is printed),
and the animation plays (its frame changes)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lab import offline_page

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "11-optimizers-fairly.ipynb"
NBCONVERT_TEMPLATE = ("/require.min.js", "/mathjax/")


def test_notebook_11_export_plays_from_disk(browser, tmp_path):
    source = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, source)  # its saved outputs, as a reader downloads it
    subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", str(source)],
        check=True,
        capture_output=True,
    )
    context, page, requests, errors = offline_page(browser, source.with_suffix(".html").as_uri())

    # The static panel: a live view replaced the still image; slider and menu redraw.
    page.locator(".gm-static-live").wait_for()
    page.locator(".gm-static-live").scroll_into_view_if_needed()
    draw = "[...document.querySelectorAll('.gm-static canvas')].map(c => c.toDataURL())"
    first = page.evaluate(draw)
    slider = page.locator("input.gm-static-lr")
    slider.fill(str(int(slider.input_value()) + 6))
    moved = page.evaluate(draw)
    assert moved[0] != first[0] and moved[1] != first[1]  # loss curve and path redrawn
    page.locator("select.gm-static-optimizer").select_option(index=2)
    assert page.evaluate(draw)[0] != moved[0]
    timings = page.evaluate("window.gmStaticTimings")
    print(f"\n[notebook 11 export] static panel redraws: {[round(t, 2) for t in timings]} ms")

    # The animation: Play moves the frames.
    image = page.locator("img[id^=_anim_img]")
    image.scroll_into_view_if_needed()
    first_frame = image.get_attribute("src")
    page.locator("button[title=Play]").first.click()
    page.wait_for_function(
        "document.querySelector('input[id^=_anim_slider]').value > 10", timeout=10_000
    )
    assert image.get_attribute("src") != first_frame
    assert errors == []
    ours = [u for u in requests if not any(t in u for t in NBCONVERT_TEMPLATE)]
    assert all(url.startswith(("file:", "data:")) for url in ours), ours
    context.close()

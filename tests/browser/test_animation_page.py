"""The --save FILE.html page in headless Chromium, opened from disk with no server: it
fetches nothing, its buttons have visible icons, and Play moves the frames."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_saved_animation_plays_from_disk_without_network(nb, browser, tmp_path):
    page_file = tmp_path / "himmelblau.html"
    nb.run("from gradmagic.functions import himmelblau\nx = 0.0; y = 0.0")
    nb.run(
        "%minimize himmelblau(x, y) --wrt x,y --optimizer adam --lr 0.05 --steps 300 "
        f"--save {page_file} --quiet"
    )
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(page_file.as_uri())
    image = page.locator("img[id^=_anim_img]")
    image.wait_for()
    page.wait_for_function("document.querySelector('img[id^=_anim_img]').src.length > 0")
    first = image.get_attribute("src")
    play_icon = page.evaluate(
        "getComputedStyle(document.querySelector('.fa-play'), '::before').content"
    )
    assert play_icon not in ("", "none", "normal")  # the icons show without the CDN font
    page.locator("button[title=Play]").click()
    page.wait_for_function(
        "document.querySelector('input[id^=_anim_slider]').value > 20", timeout=10_000
    )
    assert image.get_attribute("src") != first
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    context.close()

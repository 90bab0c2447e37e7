"""%minimize --animate / --save through a real IPython shell: the player, its limits, the
GIF, determinism and bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from gradmagic.minimize import animation

ROSENBROCK = (
    "%minimize rosenbrock(x, y) --wrt x,y --optimizer adam --lr 0.02 --steps 1000 --animate"
)


def setup_rosenbrock(nb):
    nb.run("from gradmagic.functions import rosenbrock\nx = -1.0; y = 1.5")


def displayed(nb, line):
    """Run ``line``; return (the animation's HTML, its text/plain, all text shown)."""
    result, captured = nb.capture(line)
    if result.error_in_exec is not None:
        raise result.error_in_exec
    players = [o.data for o in captured.outputs if "_anim_img" in o.data.get("text/html", "")]
    assert len(players) == 1
    texts = "\n".join(o.data.get("text/plain", "") for o in captured.outputs)
    return players[0]["text/html"], players[0]["text/plain"], texts


def frame_count(html):
    return len(re.findall(r'frames\[\d+\] = "data:image/png;base64,', html))


def test_animate_shows_a_player_with_at_most_100_frames_and_2_mb(nb):
    setup_rosenbrock(nb)
    html, text, shown = displayed(nb, ROSENBROCK)
    assert text == "[animation: 100 frames of the loss curve and path of rosenbrock(x, y)]"
    assert "Minimised rosenbrock(x, y) with adam" in shown  # the table, then the player
    assert frame_count(html) == 100 and "new Array(100)" in html
    assert "new Animation(frames" in html and 'class="anim-controls"' in html
    assert len(html.encode()) <= 2_000_000
    assert not re.search(r"https?://|//cdn|<link", html)  # plays offline: nothing fetched
    assert nb.ns["_min"].animation.frames == 100
    assert nb.ns["x"] == -1.0 and nb.ns["y"] == 1.5  # an animation only shows the run
    assert "The notebook's variables are unchanged (--animate shows the run" in shown


def test_animation_is_byte_identical_for_the_same_inputs(nb):
    setup_rosenbrock(nb)
    first, _, _ = displayed(nb, ROSENBROCK.replace("1000", "300"))
    nb.run("x = -1.0; y = 1.5")
    second, _, _ = displayed(nb, ROSENBROCK.replace("1000", "300"))
    assert first == second
    nb.run("x = -1.2; y = 1.5")
    assert displayed(nb, ROSENBROCK.replace("1000", "300"))[0] != first


def test_a_short_run_has_one_frame_per_step_and_frames_show_the_step(nb):
    setup_rosenbrock(nb)
    html, text, _ = displayed(nb, ROSENBROCK.replace("1000", "40"))
    assert frame_count(html) == 41 and text.startswith("[animation: 41 frames")
    movie = nb.ns["_min"].animation
    first, last = (np.asarray(movie.images[i].convert("RGB")) for i in (0, -1))
    assert first.shape == last.shape and (first != last).any()


def test_frames_are_evenly_spaced_with_first_and_last_kept():
    indices = animation.frame_indices(1001)
    assert len(indices) == 100 and indices[0] == 0 and indices[-1] == 1000
    assert set(np.diff(indices)) <= {10, 11}
    assert list(animation.frame_indices(5)) == [0, 1, 2, 3, 4]
    assert list(animation.frame_indices(7, 3)) == [0, 3, 6]


def test_a_smaller_budget_lowers_the_resolution_then_the_frames(nb):
    setup_rosenbrock(nb)
    nb.run(ROSENBROCK.replace("--animate", "--quiet"))
    result = nb.ns["_min"]
    full = animation.Animation(result.problem, [result])
    small = animation.Animation(result.problem, [result], max_bytes=400_000)
    assert len(small.html.encode()) <= 400_000 < len(full.html.encode())
    assert small.dpi < full.dpi or small.frames < full.frames
    tiny = animation.Animation(result.problem, [result], max_bytes=120_000)
    assert len(tiny.html.encode()) <= 120_000 and tiny.frames < 100


def test_save_gif_writes_every_frame_readable_by_pillow(nb, tmp_path):
    setup_rosenbrock(nb)
    target = tmp_path / "rosenbrock.gif"
    html, text, _ = displayed(nb, ROSENBROCK.replace("--animate", f"--save {target}"))
    assert text.endswith(f"; saved to {target}]")
    assert f"Saved to {target}." in html
    with Image.open(target) as gif:
        assert gif.format == "GIF" and gif.n_frames == 100 and gif.is_animated
        assert gif.size == nb.ns["_min"].animation.images[0].size
        assert gif.info["duration"] == 1000 // animation.FPS and gif.info["loop"] == 0


def test_save_html_writes_a_page_that_plays_offline(nb, tmp_path):
    setup_rosenbrock(nb)
    target = tmp_path / "run.html"
    nb.run(ROSENBROCK.replace("--animate", f"--save {target} --quiet"))
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert frame_count(page) == 100 and not re.search(r"https?://", page)
    assert nb.ns["_min"].animation.html in page


def test_compare_animates_every_optimizer_together(nb):
    setup_rosenbrock(nb)
    html, text, shown = displayed(
        nb, ROSENBROCK.replace("--optimizer adam", "--compare sgd,adam").replace("0.02", "0.001")
    )
    assert text == "[animation: 100 frames of the loss curve and path of rosenbrock(x, y)]"
    assert "The notebook's variables are unchanged." in shown
    assert (nb.ns["x"], nb.ns["y"]) == (-1.0, 1.5)
    assert len(nb.ns["_min"].animation.artists) == 2


def test_more_than_two_variables_animate_the_loss_curve_only(nb):
    nb.run("x = 1.0; y = 2.0; z = -1.0")
    _, text, _ = displayed(nb, "%minimize x**2 + y**2 + z**2 --wrt x,y,z --steps 30 --animate")
    assert text == (
        "[animation: 31 frames of the loss curve (no path: 3 variables; a path is drawn "
        "for one or two) of x**2 + y**2 + z**2]"
    )


def test_cell_form_and_one_variable(nb):
    nb.run("w = 3.0")
    html, text, _ = displayed(nb, "%%minimize --wrt w --lr 0.1 --steps 50 --animate\n(w - 1)**2")
    assert text == "[animation: 51 frames of the loss curve and path of (w - 1)**2]"
    assert frame_count(html) == 51 and nb.ns["w"] == 3.0  # unchanged: an animation shows


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("--save run.mp4", "--save run.mp4: the file name must end in .gif"),
        ("--save /no/such/folder/run.gif", "/no/such/folder does not exist; create the folder"),
        ("--save /tmp", "--save /tmp: the file name must end in .gif"),
        ("--widgets --animate", "--widgets does not take --animate"),
        ("--widgets --save run.gif", "--widgets does not take --save"),
    ],
)
def test_bad_animation_options_get_one_message_and_change_nothing(nb, option, says):
    setup_rosenbrock(nb)
    message = nb.usage_error(f"%minimize rosenbrock(x, y) --wrt x,y --steps 10 {option}")
    assert says in message
    assert (nb.ns["x"], nb.ns["y"]) == (-1.0, 1.5)


def test_unwritable_places_are_refused_before_running(nb, tmp_path):
    setup_rosenbrock(nb)
    (tmp_path / "notes.txt").write_text("")
    for target, says in [
        ("/proc/run.gif", "--save /proc/run.gif: cannot write there ("),
        (f"{tmp_path}/notes.txt/run.gif", "notes.txt is a file, not a folder"),
    ]:
        message = nb.usage_error(f"%minimize rosenbrock(x, y) --wrt x,y --save {target}")
        assert says in message
        assert (nb.ns["x"], nb.ns["y"]) == (-1.0, 1.5) and "_min" not in nb.ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_help_lists_animate_and_save(nb):
    doc = nb.shell.find_line_magic("minimize").__doc__
    assert "--animate" in doc and "--save" in doc and "FILE.gif" in doc

"""The interactive viewer (--html): one self-contained page holding every frame of every
person in the video's colours, written atomically; and, in a real headless Chromium, a
page that loads without script errors, draws the skeleton of the frame asked for and
shows the result video at that frame."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from demo_support import walker
from glagcn_video.pipeline.html_viewer import MAX_FPS, build_figure, write_html
from glagcn_video.pipeline.render import person_shades
from glagcn_video.pipeline.video import open_video_writer

FPS = 30.0


def decoded(typed: dict) -> np.ndarray:
    assert typed["dtype"] == "f4"
    return np.frombuffer(base64.b64decode(typed["bdata"]), np.float32)


def rgb(bgr: tuple[int, int, int]) -> str:
    return f"rgb({bgr[2]}, {bgr[1]}, {bgr[0]})"


def two_people() -> list:
    return [walker(1, range(0, 90), (-1.0, 0.0), (0.5, 0.0)), walker(4, range(30, 60), (1.5, -1.0), (0.0, 0.0))]


def test_every_frame_holds_each_present_persons_skeleton_in_their_colours():
    people = two_people()
    figure, frames, kept = build_figure(people, 90, FPS)
    assert kept.tolist() == list(range(90)) and [f["name"] for f in frames] == [str(i) for i in range(90)]
    traces = figure.data
    assert traces[0].name == "ground (1 m grid)"
    # Per person: left, right, centre shades and the ID label, as in the video.
    for k, person_id in enumerate((1, 4)):
        left, right, centre = person_shades(person_id)
        base = 1 + 4 * k
        assert [traces[base + s].line.color for s in range(3)] == [rgb(left), rgb(right), rgb(centre)]
        assert traces[base + 3].text == (str(person_id),) and traces[base + 3].textfont.color == rgb(centre)
        assert traces[base + 2].name == f"person {person_id}" and traces[base + 2].showlegend
    # Frame 40: both present; the centre chain is pelvis, spine, thorax, neck, head.
    centre = frames[40]["data"][2]
    np.testing.assert_allclose(decoded(centre["y"]), people[0].joints[40, [0, 7, 8, 9, 10], 1], atol=1e-6)
    np.testing.assert_allclose(decoded(centre["x"]), people[0].joints[40, [0, 7, 8, 9, 10], 0], atol=1e-6)
    left_chains = decoded(frames[40]["data"][0]["x"])
    assert np.isnan(left_chains).sum() == 1  # left leg and left arm, one break between them
    assert len(decoded(frames[40]["data"][4 + 2]["x"])) == 5  # person 4 is there
    # Frame 10: person 4 has not arrived; their traces are emptied, not left over.
    assert all(frames[10]["data"][4 + s] == {"x": [], "y": [], "z": []} for s in range(4))
    assert frames[10]["traces"] == list(range(1, 9))
    # The slider says the frame number and the time.
    assert figure.layout.sliders[0].steps[45].label == "45  1.50 s"
    assert figure.layout.sliders[0].currentvalue.prefix == "frame "
    assert figure.layout.scene.camera.up.y == 1  # Y up
    assert figure.layout.scene.yaxis.range[0] == 0  # the ground at the bottom of the box


def test_fast_videos_are_subsampled_to_the_stated_rate():
    _, frames, kept = build_figure([walker(1, range(0, 120), (0, 0), (0, 0), fps=60.0)], 120, 60.0)
    assert np.diff(kept).tolist() == [2] * 59 and len(frames) == 60
    assert 60.0 / 2 <= MAX_FPS


def test_page_is_self_contained_refers_to_the_video_beside_it_and_is_written_atomically(tmp_path):
    people = two_people()
    page = tmp_path / "result.html"
    write_html(page, people, 90, FPS, video=tmp_path / "result.mp4")
    html = page.read_text()
    assert not re.search(r"<script[^>]+src=", html)  # plotly.js is inside, nothing is fetched
    assert "plotly.js v" in html and "Plotly.addFrames" in html
    assert 'videoName = "result.mp4"' in html
    # Size: plotly.js, then about 1 kB per person-frame and 0.3 kB per frame (its slider step).
    person_frames = sum(len(p.frames) for p in people)
    library = len(html.split("plotly.js v", 1)[1].split("</script>", 1)[0])
    assert len(html) - library < 1100 * person_frames + 300 * 90
    assert [p.name for p in tmp_path.iterdir()] == ["result.html"]

    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    write_html(page, people, 90, FPS, video=elsewhere / "result.mp4")
    assert "videoName = null" in page.read_text()

    before = page.read_bytes()
    broken = [walker(1, range(0, 90), (0, 0), (0, 0))]
    broken[0].joints.shape = (90, 17 * 3)  # not (F, J, 3): fails while building, before writing
    with pytest.raises(Exception):
        write_html(page, broken, 90, FPS)
    assert page.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["other", "result.html"]


def chromium_or_skip() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return found


def screenshot(browser: str, url: str, out: Path) -> str:
    """Loads ``url`` in headless Chromium (software WebGL), saves a 1000x900 screenshot,
    returns the browser's log (console messages included)."""
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars", "--virtual-time-budget=20000",
         "--window-size=1000,900", f"--screenshot={out}", url],
        capture_output=True, text=True, timeout=240)
    assert out.is_file(), done.stderr[-2000:]
    return done.stderr


def script_errors(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if "CONSOLE" in line and re.search(r"Uncaught|Error|error", line) and "GL Driver" not in line]


@pytest.mark.slow
def test_chromium_loads_the_page_shows_the_frame_asked_for_and_the_video_in_step(tmp_path):
    import cv2

    browser = chromium_or_skip()
    people = [walker(1, range(0, 90), (-1.5, 0.0), (1.0, 0.0))]  # 3 m to the right in 3 s
    video = tmp_path / "result.mp4"
    with open_video_writer(video, 320, 240, FPS) as writer:
        for frame in range(90):  # frame i is a flat grey of level 40 + 2 i
            writer.write(np.full((240, 320, 3), 40 + 2 * frame, np.uint8))
    write_html(tmp_path / "result.html", people, 90, FPS, video=video)

    centres = {}
    for frame in (10, 70):
        shot = tmp_path / f"frame{frame}.png"
        log = screenshot(browser, f"file://{tmp_path / 'result.html'}#frame={frame}", shot)
        assert script_errors(log) == []
        image = cv2.imread(str(shot))
        # The skeleton, in the person's dark (right side) shade.
        right = np.array(person_shades(1)[1], float)
        ys, xs = np.nonzero(np.linalg.norm(image.astype(float) - right, axis=2) < 40)
        assert len(xs) > 30, f"no skeleton pixels at frame {frame}"
        centres[frame] = xs.mean()
        # The video, above the 3D view, seeked to the same frame (within 2): its flat grey,
        # which its controls darken at the bottom.
        grey = 40 + 2 * frame
        flat = (np.abs(image.astype(int) - grey) <= 4).all(axis=2)
        assert flat[:300].sum() > 0.4 * 320 * 240, f"video not at frame {frame}"
    assert centres[70] > centres[10] + 50  # the walker moved right between the two frames

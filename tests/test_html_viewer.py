"""The interactive viewer (--html): one self-contained page holding every frame of every
person in the video's colours, written atomically; and, in a real headless Chromium, a
page that loads without script errors, draws the skeleton of the frame asked for and
shows the result video at that frame."""

from __future__ import annotations

import base64
import dataclasses
import re

import numpy as np
import pytest

from demo_support import walker
from headless_browser import Page, chromium_or_skip
from glagcn_video.view.html_viewer import MAX_FPS, build_figure, write_html
from glagcn_video.skeleton import H36M
from glagcn_video.view.render import person_shades
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
    # Per person: left, right, centre shades, the ID label and the planted feet, as in the video.
    for k, person_id in enumerate((1, 4)):
        left, right, centre = person_shades(person_id)
        base = 1 + 5 * k
        assert [traces[base + s].line.color for s in range(3)] == [rgb(left), rgb(right), rgb(centre)]
        assert traces[base + 3].text == (str(person_id),) and traces[base + 3].textfont.color == rgb(centre)
        assert traces[base + 2].name == f"person {person_id}" and traces[base + 2].showlegend
    # Frame 40: both present; the centre chain is pelvis, spine, thorax, neck, head.
    centre = frames[40]["data"][2]
    np.testing.assert_allclose(decoded(centre["y"]), people[0].joints[40, [0, 7, 8, 9, 10], 1], atol=1e-6)
    np.testing.assert_allclose(decoded(centre["x"]), people[0].joints[40, [0, 7, 8, 9, 10], 0], atol=1e-6)
    left_chains = decoded(frames[40]["data"][0]["x"])
    assert np.isnan(left_chains).sum() == 1  # left leg and left arm, one break between them
    assert len(decoded(frames[40]["data"][5 + 2]["x"])) == 5  # person 4 is there
    # Frame 10: person 4 has not arrived; their traces are emptied, not left over.
    assert all(frames[10]["data"][5 + s] == {"x": [], "y": [], "z": []} for s in range(5))
    assert frames[10]["traces"] == list(range(1, 11))
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


def bits(number: int) -> np.ndarray:
    """The 8 bits of ``number``, most significant first, as 0 and 1."""
    return np.unpackbits(np.array([number], np.uint8))


@pytest.mark.slow
def test_chromium_loads_the_page_shows_the_frame_asked_for_and_the_video_in_step(tmp_path):
    browser = chromium_or_skip()
    people = [walker(1, range(0, 90), (-1.5, 0.0), (1.0, 0.0))]  # 3 m to the right in 3 s
    video = tmp_path / "result.mp4"
    with open_video_writer(video, 320, 240, FPS) as writer:
        for frame in range(90):  # frame i shows its number in binary: 8 stripes, white where a bit is 1
            writer.write(np.repeat(np.repeat(bits(frame) * 255, 40)[None, :, None], 240, 0).repeat(3, 2))
    write_html(tmp_path / "result.html", people, 90, FPS, video=video)

    centres = {}
    for frame in (10, 70):
        with Page(browser, 1000, 900) as page:
            page.open(f"file://{tmp_path / 'result.html'}#frame={frame}")
            # Ready: the 3D view has drawn the frame, the video is inserted, seeked and decoded there.
            page.wait_for(f"document.querySelector('.js-plotly-plot')?.dataset.frame === '{frame}'"
                          " && (v => v && !v.seeking && v.readyState >= 2"
                          f" && Math.floor(v.currentTime * {FPS}) === {frame})(document.querySelector('video'))")
            image = page.screenshot()
            box = page.evaluate("(r => [r.left, r.top, r.width, r.height])"
                                "(document.querySelector('video').getBoundingClientRect())")
            if frame == 10:  # playing, the 3D view follows the video
                page.evaluate("document.querySelector('video').play()")
                page.wait_for("Number(document.querySelector('.js-plotly-plot').dataset.frame) >= 40")
            assert page.errors() == []
        # The skeleton, in the person's dark (right side) shade.
        right = np.array(person_shades(1)[1], float)
        ys, xs = np.nonzero(np.linalg.norm(image.astype(float) - right, axis=2) < 40)
        assert len(xs) > 30, f"no skeleton pixels at frame {frame}"
        centres[frame] = xs.mean()
        # The video, above the 3D view, on screen at that frame: the number its stripes spell
        # (read above the video's controls, which darken its bottom).
        left, top, width, height = (round(v) for v in box)
        assert top + height < ys.min() and width == 320, f"video at {box}, skeleton from y = {ys.min()}"
        stripes = image[top + 10:top + height // 2, left + 20:left + width:40].mean(axis=(0, 2))
        assert ((stripes < 40) | (stripes > 215)).all(), f"the video is not black and white stripes: {stripes}"
        assert (stripes > 128).tolist() == bits(frame).astype(bool).tolist(), \
            f"the video shows frame {int(np.packbits(stripes > 128)[0])}, not {frame}"
    assert centres[70] > centres[10] + 50  # the walker moved right between the two frames


def test_planted_feet_are_dots_on_the_ground():
    person = walker(1, range(0, 30), (0.0, 0.0), (0.5, 0.0))
    contacts = np.zeros((30, 2), bool)
    contacts[10:20, 0] = True  # the right foot (world.contacts.FEET order)
    person = dataclasses.replace(person, contacts=contacts)
    figure, frames, _ = build_figure([person], 30, FPS)
    assert figure.data[5].mode == "markers" and figure.data[5].marker.color == "white"
    assert frames[5]["data"][4] == {"x": [], "y": [], "z": []}
    dot = frames[15]["data"][4]
    right_ankle = H36M.joint_names.index("right_ankle")
    np.testing.assert_allclose(decoded(dot["x"]), person.joints[15, [right_ankle], 0], atol=1e-6)
    np.testing.assert_allclose(decoded(dot["y"]), [0.0])  # on the ground

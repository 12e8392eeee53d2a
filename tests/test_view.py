"""The 3D panel's layouts: a smooth following camera that a false detection or a
mis-lifted frame cannot shrink, per-person views, and people who fill the panel."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import plotly
import pytest

from demo_support import STANDING, moving_square_clip, real_detector_or_skip, shared_video, walker
from glagcn_video.files import DemoError
from glagcn_video.view.render import VirtualCamera, person_shades
from glagcn_video.pipeline.runner import DemoOptions, run_demo, world_tracks
from glagcn_video.view.layouts import (MAX_PAN, MAX_ZOOM, ORBIT_DEG_PER_S, STRIP_TILES, VIEWS, Panel3D,
                                        WorldTrack, assign_slots, follow)
from glagcn_video.world.frame import ANKLE_HEIGHT, estimate_world_frame
from glagcn_video.skeleton import H36M

FPS = 30.0


def person_rows(panel: np.ndarray, person_id: int, tolerance: float = 40.0) -> np.ndarray:
    """The rows holding a pixel in one of the person's three shades (and coloured: the
    grey grid, its label and the axes never count)."""
    pixels = panel.astype(float)
    near = pixels.max(axis=2) - pixels.min(axis=2) >= 25
    near &= np.min([np.linalg.norm(pixels - shade, axis=2) for shade in person_shades(person_id)], axis=0) < tolerance
    return np.flatnonzero(near.any(axis=1))


def person_box_height(panel: np.ndarray, person_id: int) -> int:
    """Height in pixels of the box around everything drawn in the person's colours."""
    rows = person_rows(panel, person_id)
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def steps_within_bounds(targets: np.ndarray, radii: np.ndarray) -> None:
    pan = np.linalg.norm(np.diff(targets, axis=0), axis=1) / radii[:-1]
    zoom = np.abs(np.diff(np.log(radii)))
    assert pan.max() <= MAX_PAN * (1 + 1e-9)
    assert zoom.max() <= np.log1p(MAX_ZOOM) * (1 + 1e-9)


def test_follow_never_steps_further_than_the_stated_bounds():
    frames = 300
    targets = np.zeros((frames, 3))
    targets[100:, 0] = 6.0  # the people jump 6 m to the right (a cut)
    radii = np.full(frames, 1.2)
    radii[180:] = 4.0  # and spread out
    targets[230:250], radii[230:250] = np.nan, np.nan  # nobody for a while: hold
    smooth_targets, smooth_radii = follow(targets, radii, FPS)
    steps_within_bounds(smooth_targets, smooth_radii)
    assert np.abs(smooth_targets[:20, 0]).max() < 0.02  # 3 s before the cut: still
    assert smooth_targets[-1, 0] == pytest.approx(6.0, abs=1e-3) and smooth_radii[-1] == pytest.approx(4.0, abs=1e-2)
    # Without lag: the camera starts moving before the cut and is halfway near it.
    assert 0.5 < smooth_targets[100, 0] < 5.5


def test_a_far_false_detection_or_a_mislifted_frame_does_not_shrink_anyone():
    people = [walker(1, range(0, 300), (-1.0, 0.0), (0.3, 0.0)),
              walker(2, range(0, 300), (1.0, -0.5), (0.2, 0.1))]
    clean = Panel3D(720, 720, people, 300, FPS)
    # A false detection 15 m behind them for 0.7 s, and a frame where person 1 is
    # lifted 8 m too far and twice too large.
    ghost = walker(7, range(100, 121), (0.0, -15.0), (0.0, 0.0), weight=60.0)
    bad = people[0].joints.copy()
    bad[200] = 2 * (bad[200] - bad[200, 0]) + bad[200, 0] + [0.0, 0.0, -8.0]
    noisy = Panel3D(720, 720, [WorldTrack(1, people[0].frames, bad, people[0].weight), people[1], ghost],
                    300, FPS)
    assert noisy.scene_height == clean.scene_height  # same layout: the strip has room for three
    np.testing.assert_allclose(noisy.radii, clean.radii, rtol=1e-6)
    # The running median's window shifts by one rank around the bad frame: millimetres.
    np.testing.assert_allclose(noisy.targets, clean.targets, atol=0.005)
    steps_within_bounds(noisy.targets, noisy.radii)
    # The ghost still gets its own view in the strip while it lasts.
    assert noisy.slots[2] is not None and (noisy.render(110) != clean.render(110)).any()


def test_one_person_fills_the_panel_and_is_followed_as_they_walk():
    person = walker(3, range(0, 240), (-3.0, 0.0), (0.8, -0.4))  # 6 m across, 3 m away in 8 s
    panel = Panel3D(480, 480, [person], 240, FPS)
    assert panel.scene_height == 480 and panel.slot_count == 0  # no per-person row for one person
    for frame in range(0, 240, 20):
        image = panel.render(frame)
        assert person_box_height(image, 3) >= 0.6 * 480, frame
        columns = np.flatnonzero((np.abs(image.astype(int) - person_shades(3)[1]).sum(axis=2) < 40).any(axis=0))
        assert 0.2 * 480 < columns.mean() < 0.8 * 480, frame  # kept near the middle


def test_several_people_get_a_row_of_their_own_views_and_the_people_layout_a_grid():
    people = [walker(1, range(0, 90), (-1.0, 0.0), (0.0, 0.0)), walker(2, range(30, 90), (4.0, -6.0), (0.0, 0.0)),
              walker(5, range(0, 40), (1.0, 0.0), (0.0, 0.0))]
    scene = Panel3D(640, 640, people, 90, FPS)
    assert scene.slot_count == 3 and scene.tile == 640 // STRIP_TILES
    assert scene.scene_height == 640 - scene.tile
    image = scene.render(35)  # all three present
    strip = image[scene.scene_height:]
    for person_id in (1, 2, 5):  # each person drawn large in their own tile
        assert person_box_height(strip, person_id) >= 0.6 * scene.tile, person_id
    people_view = Panel3D(640, 640, people, 90, FPS, view="people")
    assert people_view.scene_height == 0 and people_view.tile == 320  # 2 x 2 grid for 3 people
    image = people_view.render(35)
    assert person_box_height(image, 2) >= 0.6 * 320
    single = Panel3D(640, 640, people[:1], 90, FPS, view="people")
    assert single.tile == 640 and person_box_height(single.render(10), 1) >= 0.6 * 640
    with pytest.raises(ValueError, match="view must be one of scene, people, orbit"):
        Panel3D(640, 640, people, 90, FPS, view="top")
    assert VIEWS == ("scene", "people", "orbit")


def test_an_unknown_layout_fails_before_any_slow_work(tmp_path):
    clip = moving_square_clip(tmp_path / "clip.mp4")
    with pytest.raises(DemoError, match="--view top: not a layout; use one of scene, people, orbit"):
        run_demo(clip, tmp_path / "out.mp4", options=DemoOptions(view="top", checkpoint=tmp_path / "none.bin"),
                 progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_orbit_turns_slowly_and_steadily():
    people = [walker(1, range(0, 300), (0.0, 0.0), (0.0, 0.0))]
    orbit = Panel3D(480, 480, people, 300, FPS, view="orbit")
    np.testing.assert_allclose(np.diff(orbit.azimuth), ORBIT_DEG_PER_S / FPS)
    steps_within_bounds(orbit.targets, orbit.radii)
    assert (orbit.render(150) != Panel3D(480, 480, people, 300, FPS).render(150)).any()


def test_slots_are_kept_for_a_whole_track_and_never_shared():
    tracks = [walker(1, range(0, 100), (0, 0), (0, 0)), walker(2, range(10, 50), (1, 0), (0, 0)),
              walker(3, range(60, 90), (2, 0), (0, 0)), walker(4, range(20, 30), (3, 0), (0, 0), weight=1.0),
              walker(5, range(40, 45), (3, 0), (0, 0), weight=1.0)]
    slots = assign_slots(tracks, 2)
    assert slots[0] == 0  # most evidence first
    assert slots[1] == slots[2] == 1  # 2 and 3 never overlap: they reuse one slot
    assert slots[3] is None and slots[4] is None  # no slot free for their whole span


def test_an_upside_down_person_is_drawn_standing_on_the_ground_they_touch():
    """A person stands, then does a handstand on the same spot, in camera axes: the world
    frame puts the ground under the hands, and the panel draws the hands on the grid."""
    standing = STANDING * [1, -1, -1] + [0.0, 1.3, 4.0]  # camera axes, camera 1.3 m above the ground
    handstand = standing.copy()
    handstand[:, 1] = 2 * standing[0, 1] - standing[:, 1]  # head down, mirrored about the pelvis
    handstand[:, 1] += 1.3 - 0.05 - handstand[:, 1].max()  # the lowest joint (head) just above the ground
    hands = [13, 16]
    handstand[hands, 1] = handstand[:, 1].max()  # hands flat on the ground beside the head
    poses = np.stack([standing] * 40 + [handstand] * 40).astype(np.float32)
    world = estimate_world_frame([poses], H36M)
    joints = world.to_world(poses)
    assert joints[40:, hands, 1] == pytest.approx(0.05, abs=0.02)
    panel = Panel3D(480, 480, [WorldTrack(1, np.arange(80), joints, 1000.0)], 80, FPS)
    image = panel.render(60)
    camera = VirtualCamera(panel.scene_viewpoint(60), 480, panel.scene_height)
    under_hands = np.c_[joints[60, hands, 0], [0.0, 0.0], joints[60, hands, 2]]
    ground_row = camera.project(under_hands)[0][:, 1].max()
    a_joint_above_it = camera.project(under_hands + [0.0, ANKLE_HEIGHT, 0.0])[0][:, 1].max()
    # The lowest thing drawn is a hand, touching the ground (a joint centre is 5 cm above it).
    assert a_joint_above_it - 6 <= person_rows(image, 1).max() <= ground_row
    assert person_box_height(image, 1) >= 0.5 * 480


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["taichi_1person.mp4", "boxing_1person.mp4", "dumbbell_1person.mp4"])
def test_on_real_clips_one_person_fills_half_the_panel(clip, tmp_path):
    """The whole demo with the real detector; the 3D panel read back from the output video."""
    video = shared_video(clip)
    detector = real_detector_or_skip()
    out, page = tmp_path / "out.mp4", tmp_path / "out.html"
    result = run_demo(video, out, options=DemoOptions(detector=detector), progress=False, html=page)
    main = max(result.people, key=len)
    height, width = result.video.height, result.video.width
    shown = set(main.frames.tolist())
    shares = []
    capture = cv2.VideoCapture(str(out))
    for index in range(result.num_frames):
        ok, frame = capture.read()
        assert ok, f"frame {index} of {out} does not decode"
        if index in shown:
            shares.append(person_box_height(frame[:height, width:width + height], main.person_id) / height)
    capture.release()
    shares = np.array(shares)
    assert len(shares) > 0.9 * result.num_frames
    assert np.mean(shares >= 0.5) >= 0.9, f"{clip}: median {np.median(shares):.2f}"
    panel = Panel3D(height, height, world_tracks(result.people, result.world), result.num_frames, result.fps)
    steps_within_bounds(panel.targets, panel.radii)
    # The viewer's cost beyond plotly.js, per minute of this video (docs/demo.md, BENCHMARKS.md).
    library = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").stat().st_size
    per_minute = (page.stat().st_size - library) / (result.num_frames / result.fps) * 60 / 1e6
    print(f"{clip}: {per_minute:.2f} MB per minute in the --html page; panel share median {np.median(shares):.2f}")
    assert per_minute < 3.0

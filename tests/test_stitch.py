"""Re-linking a person's tracklets, never two people's; tracks end at shot cuts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from demo_support import real_detector_or_skip, shared_video
from glagcn_video.pipeline.detect import DEFAULT_IMGSZ, PoseDetector
from glagcn_video.pipeline.keypoints import clean_tracks
from glagcn_video.pipeline.runner import DemoOptions, StageClock, track_people
from glagcn_video.pipeline.stitch import (DESCRIPTOR_SIZE, MAX_LINK_GAP_S, appearance, appearance_distance,
                                          split_at_cuts, stitch)
from glagcn_video.pipeline.track import PersonTracker
from glagcn_video.tracks import Track
from glagcn_video.pipeline.video import VideoReader

FPS = 30.0
SHIRTS = {"red": (40, 40, 220), "blue": (220, 120, 30), "green": (60, 180, 60), "dark": (40, 40, 40),
          "beige": (150, 190, 210)}  # BGR


def body_keypoints(x0: float, y0: float, width: float, height: float) -> np.ndarray:
    """COCO-17 keypoints of an upright person in the box (x0, y0, width, height)."""
    keypoints = np.tile([x0 + width / 2, y0 + 0.1 * height], (17, 1))
    keypoints[[5, 6, 11, 12, 13, 14], 1] = [0.2, 0.2, 0.55, 0.55, 0.8, 0.8]
    keypoints[[5, 6, 11, 12, 13, 14], 1] = y0 + keypoints[[5, 6, 11, 12, 13, 14], 1] * height
    keypoints[[5, 11, 13], 0] = x0 + 0.2 * width  # the person's right, on the image's left
    keypoints[[6, 12, 14], 0] = x0 + 0.8 * width
    return keypoints.astype(np.float32)


def dressed(shirt: str, trousers: str = "dark") -> np.ndarray:
    """The appearance descriptor of a 40x100 person in a ``shirt`` and ``trousers``."""
    frame = np.full((120, 60, 3), 128, np.uint8)
    frame[30:65, 10:50] = SHIRTS[shirt]
    frame[65:100, 10:50] = SHIRTS[trousers]
    keypoints = body_keypoints(10, 10, 40, 100)
    return appearance(frame, keypoints[None], np.full((1, 17), 0.9, np.float32))[0]


def walker(person_id: int, frames: range, x0: float, speed: float, shirt: str, trousers: str = "dark") -> Track:
    """A 100-px tall person walking ``speed`` px per frame from ``x0`` (at frame 0)."""
    frames = np.array(list(frames))
    x = x0 + speed * frames
    boxes = np.stack([x, np.full_like(x, 300.0), x + 40, np.full_like(x, 400.0)], axis=1).astype(np.float32)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    keypoints = np.repeat(centres[:, None], 17, axis=1)
    return Track(person_id, frames, keypoints, np.full((len(frames), 17), 0.8, np.float32), boxes,
                 np.repeat(dressed(shirt, trousers)[None], len(frames), axis=0))


def test_descriptors_tell_shirts_apart_and_match_the_same_shirt():
    assert dressed("red").shape == (DESCRIPTOR_SIZE,)
    assert appearance_distance(dressed("red"), dressed("red")) == pytest.approx(0, abs=1e-6)
    assert appearance_distance(dressed("red"), dressed("blue")) == pytest.approx(0.5)  # same trousers
    assert appearance_distance(dressed("red"), dressed("blue", "beige")) == pytest.approx(1.0)
    # nothing to describe beyond the frame, where the keypoints are unsure, or where not asked
    frame = np.zeros((50, 50, 3), np.uint8)
    keypoints = np.stack([body_keypoints(100, 100, 40, 100), body_keypoints(0, 0, 40, 50),
                          body_keypoints(0, 0, 40, 50)])
    scores = np.full((3, 17), 0.9, np.float32)
    scores[1, 11] = 0.2  # a hip: no torso, no thighs
    rows = appearance(frame, keypoints, scores, np.array([True, True, False]))
    assert np.isnan(rows).all()
    assert np.isfinite(appearance(frame, keypoints, scores)[2]).all()


def test_a_person_missed_for_a_second_gets_their_id_back():
    before, after = walker(3, range(0, 40), 100, 4, "red"), walker(7, range(70, 120), 100, 4, "red")
    (person,) = stitch([before, after], [], FPS)
    assert person.person_id == 3
    assert person.frames.tolist() == list(range(0, 40)) + list(range(70, 120))
    np.testing.assert_array_equal(person.boxes, np.concatenate([before.boxes, after.boxes]))


def test_someone_else_appearing_where_a_person_was_going_is_not_them():
    leaving, stranger = walker(3, range(0, 40), 100, 4, "red"), walker(7, range(70, 120), 100, 4, "blue", "beige")
    assert [t.person_id for t in stitch([leaving, stranger], [], FPS)] == [3, 7]


def test_a_break_longer_than_the_limit_or_a_jump_across_the_frame_is_not_bridged():
    gap = int(MAX_LINK_GAP_S * FPS) + 5
    late = stitch([walker(1, range(0, 40), 100, 1, "red"), walker(2, range(40 + gap, 100 + gap), 100, 1, "red")],
                  [], FPS)
    assert [t.person_id for t in late] == [1, 2]
    far = stitch([walker(1, range(0, 40), 100, 0, "red"), walker(2, range(50, 90), 900, 0, "red")], [], FPS)
    assert [t.person_id for t in far] == [1, 2]


def test_no_link_when_two_people_could_be_the_one_who_reappears():
    # red walks behind something; when someone red comes out, another red shirt stands right there
    leaving = walker(1, range(0, 40), 100, 4, "red")
    reappearing = walker(2, range(60, 100), 100, 4, "red")
    bystander = walker(3, range(0, 100), 340, 0, "red")
    people = stitch([leaving, reappearing, bystander], [], FPS)
    assert sorted(t.person_id for t in people) == [1, 2, 3]
    # with the bystander in green the red one is unmistakable
    bystander = walker(3, range(0, 100), 340, 0, "green")
    people = stitch([leaving, reappearing, bystander], [], FPS)
    assert sorted(t.person_id for t in people) == [1, 3]


def test_over_a_short_break_position_decides_unless_someone_else_is_there():
    # a jump or a flip changes what the descriptor sees: 0.3 s later, in the same place, it is them
    before, after = walker(3, range(0, 40), 100, 4, "red"), walker(7, range(49, 90), 100, 4, "blue", "beige")
    assert [t.person_id for t in stitch([before, after], [], FPS)] == [3]
    bystander = walker(5, range(0, 90), 100 + 4 * 49, 0, "green")  # standing where they reappear
    assert sorted(t.person_id for t in stitch([before, after, bystander], [], FPS)) == [3, 5, 7]


def test_pieces_alive_at_the_same_time_are_never_joined():
    a, b = walker(1, range(0, 50), 100, 2, "red"), walker(2, range(45, 90), 190, 2, "red")
    people = stitch([a, b], [], FPS)
    assert [t.person_id for t in people] == [1, 2]
    for frame in range(90):  # never one ID on two boxes in one frame
        assert sum(int((t.frames == frame).sum()) for t in people if t.person_id == 1) <= 1


def test_tracks_end_at_cuts_and_keep_their_id_across_only_when_the_clothes_match():
    person = walker(4, range(0, 60), 100, 1, "red")
    pieces = split_at_cuts([person], [30])
    assert [p.frames.tolist() for p in pieces] == [list(range(30)), list(range(30, 60))]
    assert [p.person_id for p in pieces] == [4, 4]
    # one tracker track across a cut: the same clothes on both sides keep the ID, in two tracks
    people = stitch([person], [30], FPS)
    assert [(t.person_id, t.frames[0], t.frames[-1]) for t in people] == [(4, 0, 29), (4, 30, 59)]
    # a new shot showing someone else where the tracker kept its box: a new ID from the cut on
    swapped = Track(4, person.frames, person.keypoints, person.scores, person.boxes,
                    np.concatenate([person.appearance[:30], np.repeat(dressed("blue")[None], 30, axis=0)]))
    other = walker(9, range(0, 20), 500, 0, "green")
    people = stitch([swapped, other], [30], FPS)
    assert [(t.person_id, t.frames[0], t.frames[-1]) for t in people] == [(4, 0, 29), (9, 0, 19), (10, 30, 59)]


def test_no_tracks_no_people():
    assert stitch([], [5], FPS) == []


# --- the real clips: the demo's whole 2D stage (slow: the detector on every frame) ---

def people_in(clip: str) -> tuple[list[Track], list[Track], float]:
    """The demo's 2D stage with its default options on a clip of the share:
    its people's tracks and the segments that would be lifted, and the fps."""
    weights = real_detector_or_skip()
    reader = VideoReader(shared_video(f"{clip}.mp4"))
    options = DemoOptions(detector=weights)
    detector = PoseDetector(weights, DEFAULT_IMGSZ, options.conf, torch.device("cpu"), options.runtime)
    tracks, frames, cuts = track_people(reader, detector, PersonTracker(options.tracker, reader.info.fps), options,
                                        StageClock({}), progress=False)
    assert cuts == []
    return tracks, clean_tracks(tracks, reader.info.fps, frames), reader.info.fps


def assert_one_id_per_person(tracks: list[Track], lifted: list[Track], label) -> None:
    """Every ID's detections belong to one person (``label``: frame index, box ->
    a person's name or None), and each person is lifted under one ID."""
    ids_of: dict[str, set[int]] = {}
    for track in tracks:
        names = {label(int(f), b) for f, b in zip(track.frames, track.boxes)} - {None}
        assert len(names) <= 1, f"ID {track.person_id} is on {sorted(names)}"
        for name in names:
            ids_of.setdefault(name, set()).add(track.person_id)
    lifted_ids = {t.person_id for t in lifted}
    for name, ids in ids_of.items():
        assert len(ids & lifted_ids) == 1, f"{name} lifted under IDs {sorted(ids & lifted_ids)}"


@pytest.mark.slow
def test_walk_jump_keeps_one_id_per_person():
    # What the clip shows (1768x994): a man stands on a utility box, then jumps
    # into the tree behind it (hidden for about 0.7 s), flips and lands in the
    # middle of the lawn at about frame 185; a woman walks in from the right on
    # the grass below him and leaves at the left edge after frame 200. Until the
    # landing the man's feet are in the upper half, hers near the bottom; after
    # it he is right of the middle, she at the left edge.
    tracks, lifted, _ = people_in("walk_jump_2people_vp9")

    def label(frame: int, box: np.ndarray) -> str | None:
        x0, y0, x1, y1 = box
        if frame < 182:
            return "man" if y1 < 0.55 * 994 else "woman" if y1 > 0.85 * 994 else None
        centre = (x0 + x1) / 2
        return "woman" if centre < 0.25 * 1768 else "man" if centre > 0.45 * 1768 else None

    assert_one_id_per_person(tracks, lifted, label)
    man = next(t for t in tracks if label(int(t.frames[0]), t.boxes[0]) == "man")
    assert man.frames[0] < 10 and man.frames[-1] > 215  # one ID from the box top to after the landing


@pytest.mark.slow
def test_basketball_players_keep_their_ids_through_the_crossing():
    # Two players (426x240, the camera pans): one in a white shirt, one in a
    # blue one, who runs behind the white one at about frames 150-190 and is
    # hidden for over a second. Who is who is read off each box's shirt colour.
    tracks, lifted, _ = people_in("basketball_2people_lowres")
    frames = list(VideoReader(shared_video("basketball_2people_lowres.mp4")))

    def label(frame: int, box: np.ndarray) -> str | None:
        x0, y0, x1, y1 = box
        width, height = x1 - x0, y1 - y0
        shirt = frames[frame][int(y0 + 0.2 * height):int(y0 + 0.45 * height),
                              int(x0 + 0.3 * width):int(x0 + 0.7 * width)]
        if shirt.size == 0:
            return None
        hue, saturation, value = cv2.cvtColor(shirt, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(float).T
        blue = ((hue > 80) & (hue < 115) & (saturation > 90)).mean()
        white = ((saturation < 60) & (value > 150)).mean()
        return "blue" if blue > 0.4 and white < 0.2 else "white" if white > 0.4 and blue < 0.1 else None

    assert_one_id_per_person(tracks, lifted, label)

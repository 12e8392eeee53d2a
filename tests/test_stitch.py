"""Re-linking a person's tracklets, never two people's; tracks end at shot cuts."""

from __future__ import annotations

import numpy as np
import pytest

from glagcn_video.pipeline.stitch import (DESCRIPTOR_SIZE, MAX_LINK_GAP_S, appearance, appearance_distance,
                                          split_at_cuts, stitch)
from glagcn_video.pipeline.track import Track

FPS = 30.0
SHIRTS = {"red": (40, 40, 220), "blue": (220, 120, 30), "green": (60, 180, 60)}  # BGR


def dressed(shirt: str, trousers: tuple[int, int, int] = (40, 40, 40)) -> np.ndarray:
    """The appearance descriptor of a 40x100 person in a ``shirt`` and dark trousers."""
    frame = np.full((120, 60, 3), 128, np.uint8)
    frame[10:60, 10:50] = SHIRTS[shirt]
    frame[60:110, 10:50] = trousers
    return appearance(frame, np.array([[10.0, 10.0, 50.0, 110.0]]))[0]


def walker(person_id: int, frames: range, x0: float, speed: float, shirt: str) -> Track:
    """A 100-px tall person walking ``speed`` px per frame from ``x0`` (at frame 0)."""
    frames = np.array(list(frames))
    x = x0 + speed * frames
    boxes = np.stack([x, np.full_like(x, 300.0), x + 40, np.full_like(x, 400.0)], axis=1).astype(np.float32)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    keypoints = np.repeat(centres[:, None], 17, axis=1)
    return Track(person_id, frames, keypoints, np.full((len(frames), 17), 0.8, np.float32), boxes,
                 np.repeat(dressed(shirt)[None], len(frames), axis=0))


def test_descriptors_tell_shirts_apart_and_match_the_same_shirt():
    assert dressed("red").shape == (DESCRIPTOR_SIZE,)
    assert appearance_distance(dressed("red"), dressed("red")) == pytest.approx(0, abs=1e-6)
    assert appearance_distance(dressed("red"), dressed("blue")) == pytest.approx(0.5)  # same trousers
    # a box beyond the frame has nothing to describe; asked-for rows only
    frame = np.zeros((50, 50, 3), np.uint8)
    rows = appearance(frame, np.array([[100.0, 100, 140, 200], [0, 0, 40, 50]]), np.array([True, False]))
    assert np.isnan(rows).all()


def test_a_person_missed_for_a_second_gets_their_id_back():
    before, after = walker(3, range(0, 40), 100, 4, "red"), walker(7, range(70, 120), 100, 4, "red")
    (person,) = stitch([before, after], [], FPS)
    assert person.person_id == 3
    assert person.frames.tolist() == list(range(0, 40)) + list(range(70, 120))
    np.testing.assert_array_equal(person.boxes, np.concatenate([before.boxes, after.boxes]))


def test_someone_else_appearing_where_a_person_was_going_is_not_them():
    leaving, stranger = walker(3, range(0, 40), 100, 4, "red"), walker(7, range(70, 120), 100, 4, "blue")
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

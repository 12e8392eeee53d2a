"""Shot cuts: found where two real clips are joined, never inside one (pans, zooms, flicker, exposure)."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from demo_support import shared_video
from glagcn_video.pipeline.shots import find_cuts, frame_signature, shot_index
from glagcn_video.pipeline.video import VideoReader

CLIPS = ["taichi_1person", "boxing_1person", "dumbbell_1person", "basketball_2people_lowres",
         "walk_jump_2people_vp9", "skating_1person_pan"]


def frames(name: str, count: int | None = None, start: int = 0) -> list[np.ndarray]:
    reader = VideoReader(shared_video(f"{name}.mp4"))
    return list(itertools.islice(reader, start, None if count is None else start + count))


@pytest.mark.parametrize("clip", CLIPS)
def test_no_cut_inside_a_real_clip(clip):
    # basketball and skating pan and zoom, boxing flickers at every keyframe,
    # walk_jump's camera changes its exposure at once when the sun goes behind a tree
    signatures = [frame_signature(f) for f in VideoReader(shared_video(f"{clip}.mp4"))]
    assert find_cuts(signatures) == []


def test_a_cut_between_two_real_clips_is_found_where_they_join():
    first, second = frames("taichi_1person", 12), frames("dumbbell_1person", 12, start=100)
    signatures = [frame_signature(f) for f in first + second]
    assert find_cuts(signatures) == [12]
    # and between clips of other sizes and colours: the join of every pair, both ways
    ends = {c: (frames(c, 2)) for c in ("boxing_1person", "basketball_2people_lowres", "skating_1person_pan")}
    for a, b in itertools.permutations(ends, 2):
        joined = [frame_signature(f) for f in ends[a] + ends[b] + ends[b]]
        assert find_cuts(joined) == [2], (a, b)


def test_a_one_frame_flash_is_not_a_cut_but_a_lasting_change_of_scene_is():
    clip = frames("dumbbell_1person", 6)
    flash = clip[:3] + [np.full_like(clip[0], 255)] + clip[4:]
    assert find_cuts([frame_signature(f) for f in flash]) == []
    other = frames("boxing_1person", 3)
    resized = [cv2.resize(f, (clip[0].shape[1], clip[0].shape[0])) for f in other]
    assert find_cuts([frame_signature(f) for f in clip[:3] + resized]) == [3]


def test_shot_index_counts_cuts_before_each_frame():
    np.testing.assert_array_equal(shot_index(np.array([0, 4, 5, 9, 10, 30]), [5, 10]), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(shot_index(np.arange(3), []), [0, 0, 0])

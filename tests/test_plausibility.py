"""The shipped lifter on real videos: human bone lengths, symmetric limbs, no jitter.

These run the whole demo with the real detector and the default checkpoint
on every clip of the development share (slow; skipped without the share).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from demo_support import decoded, real_detector_or_skip
from glagcn_video.lifter.checkpoint import load_checkpoint
from glagcn_video.pipeline.runner import DEFAULT_CHECKPOINT, DemoOptions, run_demo
from glagcn_video.skeleton import H36M
from glagcn_video.world.contacts import ankle_indices, contact_runs

CLIPS = ["boxing_1person.mp4", "taichi_1person.mp4", "dumbbell_1person.mp4",
         "basketball_2people_lowres.mp4",
         "walk_jump_2people_vp9.mp4", "skating_1person_pan.mp4"]

# (name, (left child, left parent), (right child, right parent), plausible metres)
BONES = [
    ("upper leg", (5, 4), (2, 1), (0.30, 0.55)),
    ("lower leg", (6, 5), (3, 2), (0.30, 0.55)),
    ("upper arm", (12, 11), (15, 14), (0.20, 0.40)),
]
# People seen in less than this share of the frames are passers-by, too
# briefly seen to judge a lifter by.
MAIN_PERSON_SHARE = 0.3
# Bone lengths are only judged for people whose legs the detector saw: the
# skating clip's spectators stand behind the rink's boards (knee and ankle
# scores about 0.02), so their legs are the detector's guesses, not evidence.
LEG_JOINTS = [2, 3, 5, 6]
LEGS_SEEN_SCORE = 0.5
# People who stay in one spot; their median pelvis speed was 0.26 and 0.065 m/s
# before placement from the feet and foot locking (BENCHMARKS.md, bench_world.py).
IN_PLACE = {"taichi_1person.mp4": 0.2, "dumbbell_1person.mp4": 0.05}


def test_shipped_checkpoint_loads_and_is_small() -> None:
    assert DEFAULT_CHECKPOINT.is_file(), "the default lifter must ship in models/"
    assert DEFAULT_CHECKPOINT.stat().st_size <= 20 * 2 ** 20
    model = load_checkpoint(DEFAULT_CHECKPOINT)
    assert model.layout is H36M and not model.training


def bone_lengths(joints: np.ndarray, child: int, parent: int) -> np.ndarray:
    return np.linalg.norm(joints[:, child] - joints[:, parent], axis=-1)


@pytest.mark.slow
@pytest.mark.parametrize("clip", CLIPS)
def test_real_clip_is_plausible(clip: str, tmp_path: Path) -> None:
    video = shared_path(f"videos/{clip}")
    detector = real_detector_or_skip()
    out = tmp_path / "out.mp4"
    result = run_demo(video, out, options=DemoOptions(detector=detector), progress=False)

    frames, fps, _ = decoded(out)
    assert frames == result.num_frames
    assert abs(fps - result.fps) < 0.01

    joints_by_id, scores_by_id = {}, {}
    for person in result.people:
        joints_by_id.setdefault(person.person_id, []).append(person.joints_3d)
        scores_by_id.setdefault(person.person_id, []).append(person.scores)
    main_people = {}
    for pid, parts in joints_by_id.items():
        joints, scores = np.concatenate(parts), np.concatenate(scores_by_id[pid])
        legs_seen = np.median(scores[:, LEG_JOINTS]) >= LEGS_SEEN_SCORE
        if len(joints) >= MAIN_PERSON_SHARE * result.num_frames and legs_seen:
            main_people[pid] = joints
    assert main_people, f"nobody tracked through {clip}"
    for pid, joints in main_people.items():
        assert np.isfinite(joints).all()
        for name, left, right, (low, high) in BONES:
            left_len = np.median(bone_lengths(joints, *left))
            right_len = np.median(bone_lengths(joints, *right))
            for side, length in (("left", left_len), ("right", right_len)):
                assert low <= length <= high, f"{clip} person {pid}: {side} {name} {length:.3f} m"
            asymmetry = abs(left_len - right_len) / ((left_len + right_len) / 2)
            assert asymmetry <= 0.15, f"{clip} person {pid}: {name} left/right differ by {asymmetry:.0%}"

    # In the world: planted feet stay put, bones keep their lengths, people in place stay there.
    parents = np.array(H36M.parents)
    child = np.flatnonzero(parents >= 0)
    for person in result.people:
        joints = result.world.to_world(person.joints_3d)
        lengths = np.linalg.norm(joints[:, child] - joints[:, parents[child]], axis=-1)
        assert np.ptp(lengths, axis=0).max() < 1e-3, f"{clip} person {person.person_id}: bones change length"
        for foot, ankle in enumerate(ankle_indices()):
            for start, stop in contact_runs(person.contacts[:, foot]):
                spot = joints[start:stop, ankle]
                slide = np.linalg.norm(spot - np.median(spot, axis=0), axis=-1).max()
                assert slide < 0.01, f"{clip} person {person.person_id}: a planted foot moves {slide:.3f} m"
    if clip in IN_PLACE:
        pid, joints = next(iter(main_people.items()))
        pelvis = result.world.to_world(joints[:, 0])[:, [0, 2]]
        speed = np.median(np.linalg.norm(np.diff(pelvis, axis=0), axis=-1)) * result.fps
        assert speed < IN_PLACE[clip], f"{clip} person {pid}: pelvis wanders at {speed:.2f} m/s"

    if clip == "taichi_1person.mp4":
        joints = next(iter(main_people.values()))
        step = np.linalg.norm(np.diff(joints - joints[:, :1], axis=0), axis=-1)
        per_frame_at_30fps = np.median(step) * result.fps / 30
        assert per_frame_at_30fps < 0.02, f"jitter {per_frame_at_30fps * 100:.2f} cm/frame"

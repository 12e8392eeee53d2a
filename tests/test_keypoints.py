"""COCO-17 to Human3.6M conversion, gap filling, splitting and dropping of tracks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glagcn_video.pipeline import keypoints as kp
from glagcn_video.skeleton import COCO17_NAMES, H36M
from glagcn_video.tracks import Track

C = {name: i for i, name in enumerate(COCO17_NAMES)}
J = {name: i for i, name in enumerate(H36M.joint_names)}


def upright_coco() -> np.ndarray:
    """A person facing the camera, pixels (y down)."""
    points = {
        "nose": (100, 40), "left_eye": (106, 34), "right_eye": (94, 34), "left_ear": (112, 38),
        "right_ear": (88, 38), "left_shoulder": (125, 80), "right_shoulder": (75, 80),
        "left_elbow": (135, 120), "right_elbow": (65, 120), "left_wrist": (140, 160),
        "right_wrist": (60, 160), "left_hip": (115, 170), "right_hip": (85, 170),
        "left_knee": (117, 230), "right_knee": (83, 230), "left_ankle": (118, 290),
        "right_ankle": (82, 290),
    }
    return np.array([points[name] for name in COCO17_NAMES], dtype=np.float32)


def test_joints_with_a_coco_twin_are_copied_by_name():
    coco = upright_coco()
    h36m, _ = kp.coco_to_h36m(coco, np.ones(17))
    for name in H36M.joint_names:
        if name in C and not name.endswith("_hip"):
            np.testing.assert_array_equal(h36m[J[name]], coco[C[name]], err_msg=name)
    np.testing.assert_array_equal(h36m[J["neck"]], coco[C["nose"]])


def test_torso_joints_are_midpoints_with_hips_raised():
    coco = upright_coco()
    h36m, _ = kp.coco_to_h36m(coco, np.ones(17))
    thorax = (coco[C["left_shoulder"]] + coco[C["right_shoulder"]]) / 2
    raise_hips = kp.HIP_RAISE * (thorax - (coco[C["left_hip"]] + coco[C["right_hip"]]) / 2)
    for side in ("left_hip", "right_hip"):
        np.testing.assert_allclose(h36m[J[side]], coco[C[side]] + raise_hips)
        assert h36m[J[side]][1] < coco[C[side]][1]  # higher in the image (y down)
    pelvis = (h36m[J["left_hip"]] + h36m[J["right_hip"]]) / 2
    np.testing.assert_allclose(h36m[J["pelvis"]], pelvis)
    np.testing.assert_allclose(h36m[J["thorax"]], thorax)
    np.testing.assert_allclose(h36m[J["spine"]], (pelvis + thorax) / 2)


def test_head_is_above_the_face_along_the_neck():
    coco = upright_coco()
    h36m, _ = kp.coco_to_h36m(coco, np.ones(17))
    face = coco[[C["left_eye"], C["right_eye"], C["left_ear"], C["right_ear"]]].mean(axis=0)
    head = h36m[J["head"]]
    assert head[0] == pytest.approx(100)  # centred between the eyes and ears
    assert head[1] < face[1] < coco[C["nose"]][1]  # above the face, which is above the nose (y down)
    np.testing.assert_allclose(head, face + kp.HEAD_RAISE * (face - h36m[J["thorax"]]), rtol=1e-6)


def test_head_follows_the_neck_when_lying_down():
    """Rotate the person 90 degrees: the head must rotate with them, not stay 'up' in the image."""
    coco = upright_coco()
    centre = np.array([100, 170], dtype=np.float32)
    rotated = (coco - centre) @ np.array([[0, 1], [-1, 0]], dtype=np.float32) + centre
    upright_head = kp.coco_to_h36m(coco, np.ones(17))[0][J["head"]]
    lying_head = kp.coco_to_h36m(rotated, np.ones(17))[0][J["head"]]
    expected = (upright_head - centre) @ np.array([[0, 1], [-1, 0]]) + centre
    np.testing.assert_allclose(lying_head, expected, atol=1e-4)


def test_unseen_face_points_do_not_pull_the_head():
    """An ear scored 0 sits far away (a wild guess): it must not move the head."""
    coco = upright_coco()
    scores = np.ones(17, dtype=np.float32)
    scores[C["left_ear"]] = 0
    moved = coco.copy()
    moved[C["left_ear"]] = (400, 400)
    head_without_ear = kp.coco_to_h36m(moved, scores)[0][J["head"]]
    face = coco[[C["left_eye"], C["right_eye"], C["right_ear"]]].mean(axis=0)
    thorax = (coco[C["left_shoulder"]] + coco[C["right_shoulder"]]) / 2
    np.testing.assert_allclose(head_without_ear, face + kp.HEAD_RAISE * (face - thorax), atol=1e-3)


def test_derived_scores_are_the_weakest_input():
    scores = np.linspace(0.2, 0.95, 17).astype(np.float32)
    _, out = kp.coco_to_h36m(upright_coco(), scores)
    assert out[J["pelvis"]] == pytest.approx(min(scores[C["left_hip"]], scores[C["right_hip"]]))
    assert out[J["thorax"]] == pytest.approx(min(scores[C["left_shoulder"]], scores[C["right_shoulder"]]))
    assert out[J["spine"]] == pytest.approx(min(out[J["pelvis"]], out[J["thorax"]]))
    assert out[J["neck"]] == pytest.approx(scores[C["nose"]])
    assert out[J["left_wrist"]] == pytest.approx(scores[C["left_wrist"]])
    low_shoulder = scores.copy()
    low_shoulder[C["left_shoulder"]] = 0.05
    assert kp.coco_to_h36m(upright_coco(), low_shoulder)[1][J["head"]] == pytest.approx(0.05)


def test_conversion_works_on_batches_of_frames_and_people():
    coco = np.stack([upright_coco() + i for i in range(6)]).reshape(2, 3, 17, 2)
    out, scores = kp.coco_to_h36m(coco, np.ones((2, 3, 17)))
    assert out.shape == (2, 3, 17, 2) and scores.shape == (2, 3, 17)
    single, _ = kp.coco_to_h36m(coco[1, 2], np.ones(17))
    np.testing.assert_allclose(out[1, 2], single)


def ramp(num: int, joints: int = 2) -> np.ndarray:
    """(num, joints, 2) values that rise linearly in time: interpolation must recover them."""
    t = np.arange(num, dtype=np.float32)[:, None, None]
    return np.broadcast_to(t * np.array([1.0, -2.0]) + np.arange(joints)[None, :, None] * 10,
                           (num, joints, 2)).astype(np.float32)


def test_short_interior_gap_is_interpolated_linearly():
    truth = ramp(10)
    corrupted = truth.copy()
    corrupted[3:6, 0] = 999
    valid = np.ones((10, 2), bool)
    valid[3:6, 0] = False
    out = kp.interpolate_gaps(corrupted, valid, max_gap=3)
    np.testing.assert_allclose(out, truth, atol=1e-5)


def test_long_gap_is_left_alone():
    values = ramp(10)
    values[2:8, 1] = 999
    valid = np.ones((10, 2), bool)
    valid[2:8, 1] = False
    out = kp.interpolate_gaps(values, valid, max_gap=5)
    np.testing.assert_array_equal(out, values)


def test_edge_gaps_hold_the_nearest_valid_value_and_never_valid_joints_stay():
    values = ramp(8)
    valid = np.ones((8, 2), bool)
    valid[:2, 0] = False
    valid[6:, 0] = False
    valid[:, 1] = False
    out = kp.interpolate_gaps(values, valid, max_gap=2)
    np.testing.assert_array_equal(out[:2, 0], np.repeat(values[2:3, 0], 2, axis=0))
    np.testing.assert_array_equal(out[6:, 0], np.repeat(values[5:6, 0], 2, axis=0))
    np.testing.assert_array_equal(out[2:6, 0], values[2:6, 0])
    np.testing.assert_array_equal(out[:, 1], values[:, 1])


def h36m_track(frames: list[int], person_id: int = 7) -> Track:
    frames = np.asarray(frames)
    keypoints = ramp(int(frames.max()) + 1, 17)[frames]
    return Track(person_id, frames, keypoints, np.full((len(frames), 17), 0.9, np.float32))


def test_split_on_long_absences_only():
    track = h36m_track([0, 1, 2, 5, 6, 20, 21])  # missing 3-4 (2 frames), then 7-19 (13 frames)
    parts = kp.split_track(track, max_gap=2)
    assert [p.frames.tolist() for p in parts] == [[0, 1, 2, 5, 6], [20, 21]]
    assert all(p.person_id == 7 for p in parts)
    np.testing.assert_array_equal(parts[1].keypoints, track.keypoints[5:])


def test_densify_fills_missed_frames_with_score_zero():
    track = h36m_track([0, 1, 4, 5])
    dense = kp.densify(track, max_gap=3)
    assert dense.frames.tolist() == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(dense.keypoints, ramp(6, 17), atol=1e-5)
    assert (dense.scores[[2, 3]] == 0).all() and (dense.scores[[0, 1, 4, 5]] == 0.9).all()


def test_densify_interpolates_short_low_confidence_runs_only():
    track = h36m_track(list(range(12)))
    truth = track.keypoints.copy()
    track.keypoints[2:4, J["left_wrist"]] = (999, 999)  # 2 unsure frames: bridged
    track.scores[2:4, J["left_wrist"]] = 0.1
    track.keypoints[4:11, J["right_ankle"]] = (555, 555)  # 7 unsure frames: kept as detected
    track.scores[4:11, J["right_ankle"]] = 0.1
    dense = kp.densify(track, max_gap=3)
    np.testing.assert_allclose(dense.keypoints[:, J["left_wrist"]], truth[:, J["left_wrist"]], atol=1e-5)
    np.testing.assert_array_equal(dense.keypoints[4:11, J["right_ankle"]], 555)
    assert dense.scores[2, J["left_wrist"]] == pytest.approx(0.1)  # the detector's score is kept


def coco_track(frames: list[int], person_id: int) -> Track:
    frames = np.asarray(frames)
    keypoints = np.stack([upright_coco() + f for f in frames])
    return Track(person_id, frames, keypoints, np.full((len(frames), 17), 0.9, np.float32))


def test_clean_tracks_splits_drops_and_keeps_ids():
    fps = 20.0
    max_gap = round(kp.MAX_GAP_S * fps)
    min_len = math.ceil(kp.MIN_TRACK_S * fps)
    first = list(range(0, 30))
    second = list(range(30 + max_gap + 1, 30 + max_gap + 1 + min_len))  # after a too-long absence
    blip = list(range(100, 100 + min_len - 1))  # one frame too short
    tracks = [coco_track(first + second, person_id=1), coco_track(blip, person_id=2)]
    segments = kp.clean_tracks(tracks, fps, num_frames=200)
    assert [(s.person_id, s.frames[0], s.frames[-1]) for s in segments] == [
        (1, 0, 29), (1, second[0], second[-1])]
    assert segments[0].keypoints.shape == (30, 17, 2)
    expected, _ = kp.coco_to_h36m(coco_track(first, 1).keypoints, coco_track(first, 1).scores)
    np.testing.assert_allclose(segments[0].keypoints[:, J["pelvis"]], expected[:, J["pelvis"]], rtol=1e-6)


def test_clean_tracks_keeps_a_track_spanning_a_short_video():
    """A photo is a one-frame video: its one-frame tracks must survive."""
    segments = kp.clean_tracks([coco_track([0], 3)], fps=30.0, num_frames=1)
    assert len(segments) == 1 and segments[0].frames.tolist() == [0]
    assert kp.clean_tracks([coco_track([0], 3)], fps=30.0, num_frames=2) == []

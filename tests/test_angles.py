"""Joint angles on constructed poses whose angles are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from glagcn_video.exports.angles import ANGLE_NAMES, angles_header, joint_angles, write_angles_csv
from glagcn_video.skeleton import H36M

J = {name: i for i, name in enumerate(H36M.joint_names)}


def sagittal(angle_deg: float) -> np.ndarray:
    """Straight down turned ``angle_deg`` towards forward (+Z) in the body's frame."""
    a = np.radians(angle_deg)
    return np.array([0.0, -np.cos(a), np.sin(a)])


def rotation(axis: str, angle_deg: float) -> np.ndarray:
    a = np.radians(angle_deg)
    c, s = np.cos(a), np.sin(a)
    return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


def body(hip: float = 0.0, knee: float = 0.0, shoulder: float = 0.0, elbow: float = 0.0,
         turn: np.ndarray | None = None) -> np.ndarray:
    """(17, 3) world joints (Y up) of a person facing +Z (their left at +X)
    with both hips, knees, shoulders and elbows at the given flexions, the
    whole body then turned by ``turn`` about the pelvis, 1 m above the ground."""
    p = np.zeros((17, 3))
    for side, x in (("left", 1.0), ("right", -1.0)):
        p[J[f"{side}_hip"]] = [0.12 * x, 0, 0]
        p[J[f"{side}_knee"]] = p[J[f"{side}_hip"]] + 0.45 * sagittal(hip)
        p[J[f"{side}_ankle"]] = p[J[f"{side}_knee"]] + 0.44 * sagittal(hip - knee)
        p[J[f"{side}_shoulder"]] = [0.18 * x, 0.5, 0]
        p[J[f"{side}_elbow"]] = p[J[f"{side}_shoulder"]] + 0.28 * sagittal(shoulder)
        p[J[f"{side}_wrist"]] = p[J[f"{side}_elbow"]] + 0.25 * sagittal(shoulder + elbow)
    p[J["spine"]], p[J["thorax"]] = [0, 0.25, 0], [0, 0.5, 0]
    p[J["neck"]], p[J["head"]] = [0, 0.6, 0.05], [0, 0.75, 0]
    if turn is not None:
        p = p @ turn.T
    return p + [0.0, 1.0, 0.0]


def angles_of(*poses: np.ndarray) -> dict[str, np.ndarray]:
    return joint_angles(np.stack(poses))


def test_limb_flexions_are_the_constructed_ones_whatever_the_body_does():
    turn = rotation("y", 130) @ rotation("x", 25) @ rotation("z", -15)  # turned, bent over and leaning
    for pose in (body(hip=70, knee=50, shoulder=100, elbow=60), body(hip=70, knee=50, shoulder=100, elbow=60,
                                                                      turn=turn)):
        a = angles_of(pose)
        for side in ("left", "right"):
            assert a[f"{side}_hip_flexion"][0] == pytest.approx(70, abs=1e-6)
            assert a[f"{side}_knee_flexion"][0] == pytest.approx(50, abs=1e-6)
            assert a[f"{side}_shoulder_flexion"][0] == pytest.approx(100, abs=1e-6)
            assert a[f"{side}_elbow_flexion"][0] == pytest.approx(60, abs=1e-6)


def test_signs_extension_is_negative_straight_is_zero():
    a = angles_of(body(hip=-20, shoulder=-30), body())
    assert a["left_hip_flexion"].tolist() == pytest.approx([-20, 0], abs=1e-6)
    assert a["right_shoulder_flexion"].tolist() == pytest.approx([-30, 0], abs=1e-6)
    assert a["left_knee_flexion"].tolist() == pytest.approx([0, 0], abs=1e-6)
    assert a["trunk_lean_forward"].tolist() == pytest.approx([0, 0], abs=1e-6)


def test_trunk_lean_and_pelvis_rotation_against_world_up():
    forward, to_left, turned = rotation("x", 20), rotation("z", -10), rotation("y", 30)
    a = angles_of(body(turn=forward), body(turn=to_left), body(turn=turned), body(turn=turned @ forward))
    assert a["trunk_lean_forward"].tolist() == pytest.approx([20, 0, 0, 20], abs=1e-6)
    assert a["trunk_lean_sideways"].tolist() == pytest.approx([0, 10, 0, 0], abs=1e-6)
    assert a["pelvis_rotation"].tolist() == pytest.approx([0, 0, 30, 30], abs=1e-6)


def test_two_turns_count_to_720_degrees_without_jumps():
    yaw = np.linspace(0, 720, 97)
    a = joint_angles(np.stack([body(hip=10, turn=rotation("y", y)) for y in yaw]))
    np.testing.assert_allclose(a["pelvis_rotation"], yaw, atol=1e-6)
    for name in ANGLE_NAMES:
        assert np.abs(np.diff(a[name])).max() < 8.0, name


def test_csv_has_the_header_and_rows(tmp_path):
    a = angles_of(body(hip=45), body(knee=30))
    values = np.column_stack([a[n] for n in ANGLE_NAMES])
    write_angles_csv(tmp_path / "angles.csv", np.array([0, 1]), np.array([0.0, 0.04]), np.array([3, 3]), values)
    lines = (tmp_path / "angles.csv").read_text().splitlines()
    assert lines[0].split(",") == angles_header()
    row = dict(zip(angles_header(), lines[1].split(",")))
    assert float(row["left_hip_flexion"]) == pytest.approx(45, abs=0.01) and row["person_id"] == "3"
    assert float(dict(zip(angles_header(), lines[2].split(",")))["right_knee_flexion"]) == pytest.approx(30)

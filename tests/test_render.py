"""Rendering: colours at the right pixels, skipped low-score bones, an upright unmirrored 3D view on a
ground grid in metres with named axes."""

from __future__ import annotations

import numpy as np
import pytest

from glagcn_video.view.render import (BACKGROUND, Viewpoint, VirtualCamera, blank_panel, draw_axes, draw_ground,
                                         draw_pose_2d, draw_skeletons_3d, person_color, side_by_side)
from glagcn_video.skeleton import H36M

J = {name: i for i, name in enumerate(H36M.joint_names)}
FOCAL, CENTRE = 900.0, np.array([640.0, 360.0])


def facing_pose() -> np.ndarray:
    """A person 3.5 m in front of the camera, facing it (so their left is at +x, camera right),
    left wrist raised high above the head, right foot stepped forward (toward the camera, -z)."""
    relative = {
        "pelvis": (0.00, 0.00, 0.00), "right_hip": (-0.13, 0.00, 0.00), "right_knee": (-0.13, 0.43, -0.15),
        "right_ankle": (-0.13, 0.88, -0.40), "left_hip": (0.13, 0.00, 0.00), "left_knee": (0.13, 0.45, 0.00),
        "left_ankle": (0.13, 0.88, 0.00), "spine": (0.00, -0.23, 0.00), "thorax": (0.00, -0.48, 0.00),
        "neck": (0.00, -0.57, -0.05), "head": (0.00, -0.70, 0.00), "left_shoulder": (0.18, -0.46, 0.00),
        "left_elbow": (0.35, -0.68, 0.00), "left_wrist": (0.45, -0.95, 0.00),
        "right_shoulder": (-0.18, -0.46, 0.00), "right_elbow": (-0.22, -0.20, 0.00),
        "right_wrist": (-0.24, 0.04, 0.00),
    }
    pose = np.array([relative[name] for name in H36M.joint_names])
    return pose + np.array([0.0, 0.1, 3.5])


def project(pose: np.ndarray) -> np.ndarray:
    """Pinhole projection of a camera-space pose into a 1280x720 frame, integer pixels."""
    return np.round(FOCAL * pose[:, :2] / pose[:, 2:] + CENTRE)


def colour_mask(image: np.ndarray, colour: tuple[int, int, int], tolerance: float = 30.0) -> np.ndarray:
    """Pixels within ``tolerance`` of ``colour``: anti-aliased edges blend, line centres do not."""
    distance = np.linalg.norm(image.astype(float) - np.array(colour, dtype=float), axis=2)
    return distance < tolerance


def test_person_color_is_stable_distinct_and_sided() -> None:
    colours = [person_color(i) for i in range(4)]
    assert colours == [person_color(i) for i in range(4)]
    assert len({c for pair in colours for c in pair}) == 8
    for left, right in colours:
        assert left != right
        assert all(isinstance(v, int) and 0 <= v <= 255 for v in left + right)
        assert sum(left) - sum(right) > 150  # light left, dark right: distinguishable at a glance


def test_draw_pose_2d_colours_joints_by_side() -> None:
    frame = np.zeros((720, 1280, 3), dtype=np.uint8)
    keypoints = project(facing_pose())
    draw_pose_2d(frame, keypoints, np.ones(17), person_id=2)
    left, right = person_color(2)
    x, y = keypoints[J["left_wrist"]].astype(int)
    assert tuple(frame[y, x]) == left
    x, y = keypoints[J["right_ankle"]].astype(int)
    assert tuple(frame[y, x]) == right
    x, y = keypoints[J["spine"]].astype(int)
    assert tuple(frame[y, x]) not in (left, right, (0, 0, 0))


def test_draw_pose_2d_skips_low_score_bones() -> None:
    keypoints = project(facing_pose())
    scores = np.ones(17)
    scores[J["left_wrist"]] = 0.1
    frame = np.zeros((720, 1280, 3), dtype=np.uint8)
    draw_pose_2d(frame, keypoints, scores, person_id=0)
    left, _ = person_color(0)

    def at(point: np.ndarray) -> tuple[int, ...]:
        x, y = np.round(point).astype(int)
        return tuple(frame[y, x])

    forearm = (keypoints[J["left_elbow"]] + keypoints[J["left_wrist"]]) / 2
    upper_arm = (keypoints[J["left_shoulder"]] + keypoints[J["left_elbow"]]) / 2
    assert at(keypoints[J["left_wrist"]]) == (0, 0, 0)
    assert at(forearm) == (0, 0, 0)
    assert at(upper_arm) == left

    frame[:] = 0
    draw_pose_2d(frame, keypoints, scores, person_id=0, min_score=0.05)
    assert at(keypoints[J["left_wrist"]]) == left
    assert at(forearm) == left


def test_draw_pose_2d_ignores_missing_joints_and_rejects_bad_shapes() -> None:
    frame = np.zeros((240, 320, 3), dtype=np.uint8)
    keypoints = np.full((17, 2), np.nan)
    draw_pose_2d(frame, keypoints, np.ones(17), person_id=0)
    assert not frame.any()
    with pytest.raises(ValueError, match=r"keypoints must have shape \(17, 2\)"):
        draw_pose_2d(frame, np.zeros((17, 3)), np.ones(17), person_id=0)
    with pytest.raises(ValueError, match=r"scores must have shape \(17,\)"):
        draw_pose_2d(frame, np.zeros((17, 2)), np.ones(16), person_id=0)
    with pytest.raises(ValueError, match="uint8"):
        draw_pose_2d(frame.astype(np.float32), np.zeros((17, 2)), np.ones(17), person_id=0)


def to_world(camera_points: np.ndarray) -> np.ndarray:
    """Camera axes (x right, y down, z forward) to the world frame of a level camera 1.2 m above
    the ground (X right, Y up, Z back towards the camera), as ``world/frame.py`` builds it."""
    return camera_points * [1.0, -1.0, -1.0] + [0.0, 1.2, 0.0]


def panel_camera(pose: np.ndarray, width: int = 960, height: int = 720) -> VirtualCamera:
    return VirtualCamera(Viewpoint(np.array([pose[0, 0], 0.9, pose[0, 2]]), 1.1), width, height)


def test_3d_view_is_upright_and_not_mirrored() -> None:
    pose = to_world(facing_pose())
    camera = panel_camera(pose)
    panel = blank_panel(960, 720)
    draw_skeletons_3d(panel, camera, [pose], [0])
    assert panel.shape == (720, 960, 3) and panel.dtype == np.uint8

    left, right = person_color(0)
    left_y, left_x = np.nonzero(colour_mask(panel, left))
    right_y, right_x = np.nonzero(colour_mask(panel, right))
    assert len(left_x) > 50 and len(right_x) > 50

    # Upright: the raised left wrist is the highest limb point, the feet the lowest.
    assert left_y.min() < right_y.min() - 40
    # Not mirrored: as in the input (the person faces the camera), their left is at image right.
    assert left_x.mean() > right_x.mean() + 20
    assert left_x[np.argmin(left_y)] > right_x.mean()
    # Right foot forward means nearer the elevated viewer, hence lower in the panel.
    assert right_y.max() > left_y.max() + 20
    # The whole person, 1.65 m tall, fills most of the panel's height.
    every_y = np.concatenate([left_y, right_y])
    assert every_y.max() - every_y.min() > 0.6 * 720

    # The 2D overlay of the same pose puts each side on the same side of the image.
    frame = np.zeros((720, 1280, 3), dtype=np.uint8)
    draw_pose_2d(frame, project(facing_pose()), np.ones(17), person_id=0)
    assert np.nonzero(colour_mask(frame, left))[1].mean() > np.nonzero(colour_mask(frame, right))[1].mean()


def test_ground_grid_is_at_y_zero_in_metres_and_fades_away_from_the_target() -> None:
    camera = VirtualCamera(Viewpoint(np.array([0.3, 0.9, -4.2]), 1.5), 640, 480)
    panel = blank_panel(640, 480)
    draw_ground(panel, camera, reach=4.0, label=False)
    brightness = panel.max(axis=2).astype(int) - max(BACKGROUND)
    # Grid crossings at whole metres on y = 0 are lit; the middle of a square is not.
    def around(x: float, z: float, size: int = 1) -> int:
        pixels, _ = camera.project(np.array([[x, 0.0, z]]))
        u, v = np.rint(pixels[0]).astype(int)
        return int(brightness[v - size:v + size + 1, u - size:u + size + 1].max())

    for x, z, lit in ((0.0, -4.0, True), (1.0, -5.0, True), (0.5, -4.5, False), (-0.5, -3.5, False)):
        assert (around(x, z) > 30) == lit, (x, z)
    assert around(0.0, -4.0, 2) > around(3.0, -7.0, 2) + 30

    labelled = blank_panel(640, 480)
    draw_ground(labelled, camera, reach=4.0)
    assert (labelled != panel).sum() > 20  # the "1 m" label


def test_axes_are_named_and_y_points_up() -> None:
    camera = VirtualCamera(Viewpoint(np.zeros(3), 1.0), 400, 300)
    panel = blank_panel(400, 300)
    draw_axes(panel, camera)
    drawn = np.argwhere(panel.max(axis=2) > 120)
    assert len(drawn) > 40
    assert drawn[:, 0].min() > 200 and drawn[:, 1].max() < 100  # a small tripod, bottom left
    # Y points straight up: the top-most thing drawn (the "Y") is above the tripod's foot,
    # the lowest point of the vertical stroke.
    top = drawn[drawn[:, 0] == drawn[:, 0].min()]
    stroke = drawn[np.abs(drawn[:, 1] - top[:, 1].mean()) <= 1]
    assert stroke[:, 0].max() - top[:, 0].min() > 20


def test_3d_drawing_skips_bad_joints_and_rejects_bad_input() -> None:
    pose = to_world(facing_pose())
    pose[J["left_wrist"]] = np.nan
    camera = panel_camera(pose, 320, 240)
    panel = blank_panel(320, 240)
    draw_skeletons_3d(panel, camera, [pose], [5])
    assert (panel != blank_panel(320, 240)).any()
    with pytest.raises(ValueError, match=r"\(17, 3\)"):
        draw_skeletons_3d(panel, camera, [np.zeros((17, 2))], [0])
    with pytest.raises(ValueError, match="1 poses but 2 person_ids"):
        draw_skeletons_3d(panel, camera, [np.zeros((17, 3))], [0, 1])
    # A person behind the virtual camera is not drawn at all (no wrapped-around lines).
    behind = blank_panel(320, 240)
    draw_skeletons_3d(behind, camera, [pose + camera.eye - pose[0] - 2 * camera.rotation[2]], [5])
    assert not (behind != blank_panel(320, 240)).any()


def test_side_by_side_places_both_and_pads_to_even_size() -> None:
    frame = np.full((75, 101, 3), 50, dtype=np.uint8)
    panel = np.full((75, 60, 3), 200, dtype=np.uint8)
    out = side_by_side(frame, panel)
    assert out.shape == (76, 162, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:75, :101], frame)
    np.testing.assert_array_equal(out[:75, 101:161], panel)
    assert not out[75].any() and not out[:, 161].any()
    assert side_by_side(frame[:74, :100], panel[:74]).shape == (74, 160, 3)
    with pytest.raises(ValueError, match="panel height 74 must equal frame height 75"):
        side_by_side(frame, panel[:74])

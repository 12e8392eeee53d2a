"""The ground plane and world frame, on real Human3.6M motion seen through its
real cameras: the floor is the world's z = 0 plane there, so the true up and
ground are known in every camera's axes."""

from __future__ import annotations

import numpy as np
import pytest

from glagcn_video.camera import qinverse, qrot, world_to_camera
from glagcn_video.datasets.load import camera_for, load_cameras
from glagcn_video.world.frame import ANKLE_HEIGHT, WorldFrame, estimate_world_frame, fit_ground
from glagcn_video.skeleton import H36M, H36M32_KEPT


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))


@pytest.fixture(scope="module")
def scenes(h36m_positions_32, cameras_json):
    """(camera-space 17-joint poses, true up in camera axes, a camera-space
    point on the true floor) per subject, action and camera."""
    cameras = load_cameras(cameras_json)
    out = {}
    for subject, actions in h36m_positions_32.items():
        for action in ("Walking 1", "Directions 1"):
            world = actions[action][:, list(H36M32_KEPT)]
            for index, cam in enumerate(camera_for(cameras, subject)):
                poses = world_to_camera(world, cam.orientation, cam.translation)
                up = qrot(qinverse(np.asarray(cam.orientation, np.float64)),
                          np.array([0.0, 0.0, 1.0]))  # world +z in camera axes
                floor = world_to_camera(np.zeros((1, 3), np.float32), cam.orientation, cam.translation)[0]
                out[subject, action, index] = (poses, up, floor)
    return out


def test_ankle_height_is_the_datasets(h36m_positions_32):
    lowest = [np.median(actions[a][:, list(H36M32_KEPT), 2].min(axis=1))
              for actions in h36m_positions_32.values() for a in ("Walking 1", "Directions 1")]
    assert 0.03 < min(lowest) and max(lowest) < 0.07
    assert ANKLE_HEIGHT == pytest.approx(float(np.median(lowest)), abs=0.01)


def test_walking_fits_the_floor_plane_in_every_camera(scenes):
    for (subject, action, index), (poses, up, floor) in scenes.items():
        if action != "Walking 1":
            continue
        ground = fit_ground(poses)
        assert ground.method == "fitted plane", (subject, index)
        assert angle_deg(ground.normal, up) < 2.0, (subject, index)
        assert abs(ground.height(floor)) < 0.03, (subject, index)


def test_standing_in_place_keeps_the_spines_up_and_the_floor_height(scenes):
    for (subject, action, index), (poses, up, floor) in scenes.items():
        if action != "Directions 1":
            continue
        ground = fit_ground(poses)
        assert angle_deg(ground.normal, up) < 8.0, (subject, index, ground.method)
        assert abs(ground.height(floor)) < 0.05, (subject, index)


def test_upside_down_and_jumping_frames_do_not_move_the_ground(scenes):
    """40% of the frames turned upside down (a handstand: reflected about the
    pelvis, then lowered until the lowest joint is as high as an ankle
    standing), 30% lifted 0.6 m (jumps): the plane stays on the floor."""
    poses, up, floor = scenes["S1", "Walking 1", 0]
    clean = fit_ground(poses)
    changed = poses.copy()
    pelvis = changed[:, :1]
    flip = np.arange(len(poses)) % 10 < 4
    changed[flip] = 2 * pelvis[flip] - changed[flip]  # point reflection: head down, feet up
    lowest = ((changed[flip] - floor) @ up).min(axis=1)
    changed[flip] -= ((lowest - ANKLE_HEIGHT)[:, None, None] * up).astype(np.float32)
    jump = np.arange(len(poses)) % 10 >= 7
    changed[jump] += 0.6 * up
    ground = fit_ground(changed)
    assert angle_deg(ground.normal, up) < 2.0
    assert abs(ground.height(floor)) < 0.03
    assert angle_deg(ground.normal, clean.normal) < 1.0


def test_a_torso_leaning_the_whole_time_does_not_tilt_the_ground(scenes):
    """A boxer's guard: the upper body bent 35 degrees forward about the hips in
    every frame, the hips moved back so the body's centroid stays over its feet
    (as people keep their balance). No frame stands straight; the spines would tilt the ground
    by 35 degrees, the balance lines do not."""
    poses, up, floor = scenes["S1", "Directions 1", 0]
    joint = H36M.joint_names.index
    upper = [joint(n) for n in ("spine", "thorax", "neck", "head", "left_shoulder", "left_elbow",
                                "left_wrist", "right_shoulder", "right_elbow", "right_wrist")]
    knees = [joint("left_knee"), joint("right_knee")]
    above_knees = [j for j in range(H36M.num_joints) if j not in knees and "ankle" not in H36M.joint_names[j]]
    bent = poses.astype(np.float64)
    for frame in bent:
        hips = frame[joint("left_hip")] - frame[joint("right_hip")]
        axis = np.cross(up, np.cross(hips, up))  # the hip line, made level
        axis /= np.linalg.norm(axis)
        angle = np.radians(35.0)  # forward: the right-hand rotation about left-to-right hips
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        rotation = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
        centroid = frame.mean(axis=0)
        frame[upper] = (frame[upper] - frame[0]) @ rotation.T + frame[0]
        for _ in range(5):  # hips back (knees half as far, feet still) until balanced again
            shift = frame.mean(axis=0) - centroid
            level = shift - (shift @ up) * up
            frame[above_knees] -= level
            frame[knees] -= level / 2
    spine = bent[:, joint("neck")] - bent[:, 0]
    assert np.median([angle_deg(s, up) for s in spine]) > 30  # the spines lean
    ground = fit_ground(bent)
    assert angle_deg(ground.normal, up) < 8.0
    assert abs(ground.height(floor)) < 0.05


def test_a_tilted_camera_gives_the_same_world(scenes):
    """Rolling the camera 20 degrees about its axis changes camera space, not the world."""
    poses, up, floor = scenes["S9", "Walking 1", 1]
    c, s = np.cos(np.radians(20)), np.sin(np.radians(20))
    roll = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    straight = estimate_world_frame([poses])
    rolled = estimate_world_frame([poses @ roll.T])
    np.testing.assert_allclose(rolled.to_world(poses @ roll.T), straight.to_world(poses), atol=1e-3)


def test_world_frame_axes_origin_and_camera_pose(scenes):
    poses, up, floor = scenes["S1", "Walking 1", 2]
    step = np.array([1.0, 0.0, 0.5]) - (np.array([1.0, 0.0, 0.5]) @ up) * up  # level, on the same floor
    second = poses[::-1] + step.astype(np.float32)
    frame = estimate_world_frame([poses, second])
    r = frame.rotation
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_allclose(r[1], frame.ground.normal)  # world Y is up
    assert r[0] @ [1.0, 0.0, 0.0] > 0.9  # X: the camera's right, on the ground
    world = frame.to_world(poses)
    # Origin on the ground under the first person's first pelvis.
    assert world[0, 0, [0, 2]] == pytest.approx([0.0, 0.0], abs=1e-5)
    assert 0.8 < world[0, 0, 1] < 1.1  # a pelvis stands about 0.9 m high
    # Feet on the ground (y = 0 is the floor; ankle joints ~5 cm above it).
    assert np.median(world[:, [3, 6], 1].min(axis=1)) == pytest.approx(ANKLE_HEIGHT, abs=0.03)
    # Camera pose: the camera's centre maps to camera_position; it looks along its z.
    np.testing.assert_allclose(frame.to_world(np.zeros(3)), frame.camera_position, atol=1e-5)
    assert frame.camera_position[2] > 0  # Z points towards the camera, which sees the person ahead
    np.testing.assert_allclose(frame.to_camera(world), poses, atol=1e-4)


def test_no_people_and_camera_frame():
    frame = estimate_world_frame([])
    np.testing.assert_array_equal(frame.to_world(np.ones((2, 3))), np.ones((2, 3)))
    assert frame.ground.method == "camera"
    assert WorldFrame.identity_camera().camera_position.tolist() == [0, 0, 0]

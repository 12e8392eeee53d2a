"""People in the world: contacts, filters, foot locking and placement from the feet,
on constructed motion whose contacts and slides are known."""

from __future__ import annotations

import numpy as np
import pytest

from glagcn_video.skeleton import H36M
from glagcn_video.world.contacts import ankle_indices, contact_runs, foot_contacts
from glagcn_video.world.filters import butterworth, keep_bone_lengths, one_euro, smooth_joints
from glagcn_video.world.frame import ANKLE_HEIGHT, Ground
from glagcn_video.world.locking import lock_feet, two_bone_ik
from glagcn_video.world.motion import Body, WorldOptions, settle
from glagcn_video.world.placement import place_on_ground, ray_ground_depth

FPS = 25.0
R_ANKLE, L_ANKLE = ankle_indices()


def standing_pose() -> np.ndarray:
    """(17, 3) a person standing at the origin, world Y up, metres, facing +z."""
    names = {
        "pelvis": (0, 0.95, 0), "right_hip": (-0.12, 0.93, 0), "right_knee": (-0.12, 0.5, 0.02),
        "right_ankle": (-0.12, ANKLE_HEIGHT, 0), "left_hip": (0.12, 0.93, 0), "left_knee": (0.12, 0.5, 0.02),
        "left_ankle": (0.12, ANKLE_HEIGHT, 0), "spine": (0, 1.2, 0), "thorax": (0, 1.45, 0),
        "neck": (0, 1.55, 0.02), "head": (0, 1.7, 0), "left_shoulder": (0.18, 1.42, 0),
        "left_elbow": (0.2, 1.15, 0), "left_wrist": (0.2, 0.9, 0.05), "right_shoulder": (-0.18, 1.42, 0),
        "right_elbow": (-0.2, 1.15, 0), "right_wrist": (-0.2, 0.9, 0.05),
    }
    return np.array([names[n] for n in H36M.joint_names], np.float64)


def walk(frames: int = 100, step_frames: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """A walk along +x in world axes and its true contacts (F, 2).

    Each foot alternates a planted phase (still on the ground) and a swing
    (forward at constant speed, lifted by up to 10 cm); the pelvis moves at
    the mean speed."""
    pose = standing_pose()
    joints = np.repeat(pose[None], frames, axis=0)
    truth = np.zeros((frames, 2), bool)
    stride = 0.6
    for foot, (ankle, knee, phase) in enumerate(((R_ANKLE, 2, 0), (L_ANKLE, 5, step_frames))):
        position = 0.0
        for t in range(frames):
            cycle = (t + phase) % (2 * step_frames)
            if cycle < step_frames:  # planted
                truth[t, foot] = True
                lift = 0.0
            else:
                position += stride / step_frames
                lift = 0.1 * np.sin(np.pi * (cycle - step_frames) / step_frames)
            joints[t, ankle, 0] += position
            joints[t, ankle, 1] += lift
            joints[t, knee, 0] += position
            joints[t, knee, 1] += lift / 2
    body = [j for j in range(17) if j not in (R_ANKLE, L_ANKLE, 2, 5)]
    joints[:, body, 0] += (np.arange(frames) * stride / (2 * step_frames))[:, None]
    return joints, truth


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    parents = np.array(H36M.parents)
    child = np.flatnonzero(parents >= 0)
    return np.linalg.norm(joints[:, child] - joints[:, parents[child]], axis=-1)


# ---- contacts -----------------------------------------------------------------------------------

def test_contacts_of_a_walk_match_the_planted_phases():
    joints, truth = walk()
    contacts = foot_contacts(joints, FPS)
    for foot in range(2):
        assert len(contact_runs(contacts[:, foot])) == len(contact_runs(truth[:, foot]))
        # Transitions may move by the filter's smoothing, never more than two frames.
        assert (contacts[:, foot] != truth[:, foot]).sum() <= 2 * 2 * len(contact_runs(truth[:, foot]))


def test_contacts_do_not_flicker_with_keypoint_jitter():
    joints, truth = walk()
    rng = np.random.default_rng(0)
    jittered = joints + rng.normal(0, 0.004, joints.shape)
    contacts = foot_contacts(jittered, FPS)
    for foot in range(2):
        assert len(contact_runs(contacts[:, foot])) == len(contact_runs(truth[:, foot]))


def test_a_jump_has_no_contacts_in_the_air():
    pose = standing_pose()
    frames = 75
    height = np.zeros(frames)
    height[25:40] = 0.3 * np.sin(np.pi * np.arange(15) / 15)
    joints = pose[None] + np.stack([np.zeros(frames), height, np.zeros(frames)], -1)[:, None]
    contacts = foot_contacts(joints, FPS)
    assert contacts[:20].all() and contacts[45:].all()
    assert not contacts[28:37].any()


# ---- filters ------------------------------------------------------------------------------------

def test_butterworth_removes_noise_and_keeps_slow_motion():
    t = np.arange(250) / FPS
    slow = np.sin(2 * np.pi * 0.5 * t)
    noisy = slow + np.random.default_rng(1).normal(0, 0.05, len(t))
    filtered = butterworth(noisy, FPS, 6.0)
    assert np.abs(filtered - slow).std() < 0.6 * np.abs(noisy - slow).std()
    assert np.abs(filtered - slow)[20:-20].max() < 0.1


def test_one_euro_is_causal():
    values = np.random.default_rng(2).normal(0, 1, (50, 3))
    changed = values.copy()
    changed[30:] += 5.0
    assert np.array_equal(one_euro(values, FPS, 1.0)[:30], one_euro(changed, FPS, 1.0)[:30])
    assert not np.array_equal(one_euro(values, FPS, 1.0)[30:], one_euro(changed, FPS, 1.0)[30:])


@pytest.mark.parametrize("method", ["butterworth", "oneeuro"])
def test_filters_keep_every_bone_length(method):
    joints, _ = walk()
    joints = joints + np.random.default_rng(3).normal(0, 0.01, joints.shape)
    smoothed = smooth_joints(joints, FPS, method)
    assert np.abs(bone_lengths(smoothed) - np.median(bone_lengths(joints), axis=0)).max() < 1e-3
    assert not np.allclose(smoothed, joints, atol=1e-3)


def test_keep_bone_lengths_rebuilds_the_chain_from_the_root():
    joints, _ = walk(10)
    shrunk = joints[:, :1] + 0.8 * (joints - joints[:, :1])
    rebuilt = keep_bone_lengths(shrunk, joints)
    assert np.allclose(bone_lengths(rebuilt), np.median(bone_lengths(joints), axis=0), atol=1e-9)
    assert np.allclose(rebuilt[:, 0], shrunk[:, 0])


def test_unknown_smoother_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown smoother 'kalman'"):
        WorldOptions(smooth="kalman")


# ---- locking ------------------------------------------------------------------------------------

def test_two_bone_ik_reaches_and_keeps_lengths():
    pose = np.repeat(standing_pose()[None], 4, axis=0)
    hip, knee, ankle = pose[:, 1], pose[:, 2], pose[:, 3]
    target = ankle + np.array([[0.05, 0.1, 0.0], [0.0, 0.05, 0.1], [-0.1, 0.2, 0.05], [0.02, 0.03, 0.0]])
    target[3] = hip[3] + 2 * (target[3] - hip[3])  # out of reach: approached along the same line
    new_knee, new_ankle = two_bone_ik(hip, knee, ankle, target)
    assert np.allclose(new_ankle[:3], target[:3], atol=1e-9)
    direction = (new_ankle[3] - hip[3]) / np.linalg.norm(new_ankle[3] - hip[3])
    assert np.allclose(direction, (target[3] - hip[3]) / np.linalg.norm(target[3] - hip[3]))
    assert np.allclose(np.linalg.norm(new_knee - hip, axis=-1), np.linalg.norm(knee - hip, axis=-1))
    assert np.allclose(np.linalg.norm(new_ankle - new_knee, axis=-1), np.linalg.norm(ankle - knee, axis=-1))
    assert (new_knee[:, 2] > hip[:, 2] - 0.05).all()  # still bending forwards, as before


def test_locked_feet_stay_within_a_centimetre_and_bones_keep_their_lengths():
    joints, truth = walk()
    # Planted feet that slide: 4 cm/frame-pair drift backwards plus jitter, as lifted feet do.
    sliding = joints.copy()
    rng = np.random.default_rng(4)
    for foot, ankle in enumerate((R_ANKLE, L_ANKLE)):
        for start, stop in contact_runs(truth[:, foot]):
            drift = np.linspace(0, 0.08, stop - start)
            sliding[start:stop, ankle, 0] -= drift
            sliding[start:stop, ankle, 2] += rng.normal(0, 0.005, stop - start)
    locked = lock_feet(sliding, truth, FPS)
    for foot, ankle in enumerate((R_ANKLE, L_ANKLE)):
        for start, stop in contact_runs(truth[:, foot]):
            spread = np.linalg.norm(locked[start:stop, ankle] - np.median(locked[start:stop, ankle], 0), axis=-1)
            assert spread.max() < 0.01
    assert np.abs(bone_lengths(locked) - bone_lengths(sliding)).max() < 1e-3
    # Nothing pops: no joint moves further in one frame than in the sliding input, plus a margin.
    step_in = np.linalg.norm(np.diff(sliding, axis=0), axis=-1).max()
    step_out = np.linalg.norm(np.diff(locked, axis=0), axis=-1).max()
    assert step_out < step_in + 0.03


def test_no_contacts_leave_the_motion_unchanged():
    joints, truth = walk()
    assert np.allclose(lock_feet(joints, np.zeros_like(truth), FPS), joints, atol=1e-6)


# ---- placement from the feet --------------------------------------------------------------------

def camera_scene(depth: float = 5.0, height: float = 1.6, frames: int = 50):
    """A person standing ``depth`` m in front of a level camera ``height`` m above the floor,
    in camera axes (y down), their 2D keypoints through a 1000 px focal, and the ground."""
    pose = standing_pose()
    camera_joints = np.stack([pose[:, 0], height - pose[:, 1], pose[:, 2] + depth], -1)
    joints = np.repeat(camera_joints[None], frames, axis=0)
    focal, center = 1000.0, (500.0, 500.0)
    keypoints = joints[..., :2] / joints[..., 2:] * focal + np.array(center)
    ground = Ground(np.array([0.0, -1.0, 0.0]), height, "test")  # height(p) = height - y
    return joints, keypoints, focal, center, ground


def test_the_ray_through_the_ankle_meets_the_ground_at_its_depth():
    joints, keypoints, focal, center, ground = camera_scene()
    depth = ray_ground_depth(keypoints[:, R_ANKLE], focal, center, ground)
    assert np.allclose(depth, joints[:, R_ANKLE, 2], atol=1e-9)
    above_horizon = np.array([[500.0, 400.0]])
    assert np.isnan(ray_ground_depth(above_horizon, focal, center, ground)).all()


def test_placement_from_the_feet_corrects_a_wrong_body_size():
    joints, keypoints, focal, center, ground = camera_scene()
    poses = joints - joints[:, :1]
    too_far = joints[:, 0] * 1.2  # a body-size guess 20% too far, along the pelvis' ray
    contacts = np.ones((len(joints), 2), bool)
    root = place_on_ground(poses, too_far, keypoints, np.ones(keypoints.shape[:2]), contacts,
                           [R_ANKLE, L_ANKLE], ground, focal, center)
    assert np.allclose(root, joints[:, 0], atol=0.01)


def test_settle_keeps_bones_and_returns_contacts_for_every_frame():
    joints, keypoints, focal, center, _ = camera_scene(frames=60)
    rng = np.random.default_rng(5)
    noisy_root = joints[:, 0] * (1 + rng.normal(0, 0.03, (len(joints), 1)))
    body = Body(joints - joints[:, :1], noisy_root, keypoints, np.ones(keypoints.shape[:2]))
    world, (placed,) = settle([body], focal, center, FPS)
    assert placed.joints.shape == joints.shape and placed.contacts.shape == (len(joints), 2)
    assert placed.contacts.mean() > 0.9  # standing still: both feet down
    assert np.abs(bone_lengths(placed.joints) - bone_lengths(joints)).max() < 1e-3  # constant bones stay
    pelvis = world.to_world(placed.joints[:, 0])
    assert np.linalg.norm(np.diff(pelvis[:, [0, 2]], axis=0), axis=-1).max() < 0.01  # no wandering

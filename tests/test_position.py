"""Placing root-relative poses in camera space."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glagcn_video.world.placement import MIN_DEPTH, default_focal, fit_translation, smooth_depth


def project(points: np.ndarray, focal: float, center: tuple[float, float]) -> np.ndarray:
    return points[..., :2] / points[..., 2:] * focal + np.asarray(center)


def random_poses(frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    poses = rng.normal(scale=0.3, size=(frames, 17, 3))
    return poses - poses[:, :1]


def test_default_focal_is_a_53_degree_diagonal_view():
    focal = default_focal(1280, 720)
    assert focal == pytest.approx(math.hypot(1280, 720))
    assert math.degrees(2 * math.atan(math.hypot(1280, 720) / 2 / focal)) == pytest.approx(53.13, abs=0.01)


def test_fit_recovers_a_known_translation():
    focal, center = 1100.0, (640.0, 360.0)
    poses = random_poses(5)
    truth = np.array([[0.4, -0.2, 4.0], [-1.0, 0.3, 6.5], [0.0, 0.0, 2.0], [2.0, 1.0, 9.0], [0.1, 0.5, 3.3]])
    keypoints = project(poses + truth[:, None], focal, center)
    fitted = fit_translation(poses, keypoints, np.ones((5, 17)), focal, center)
    np.testing.assert_allclose(fitted, truth, rtol=1e-4, atol=1e-4)


def test_weights_make_a_wild_joint_irrelevant():
    focal, center = 1000.0, (320.0, 240.0)
    poses = random_poses(1, seed=3)
    truth = np.array([[0.3, 0.1, 5.0]])
    keypoints = project(poses + truth[:, None], focal, center)
    keypoints[0, 13] += (300, -200)  # a wrist detected somewhere else entirely
    weights = np.ones((1, 17))
    unweighted = fit_translation(poses, keypoints, weights, focal, center)
    weights[0, 13] = 0
    weighted = fit_translation(poses, keypoints, weights, focal, center)
    np.testing.assert_allclose(weighted, truth, atol=0.01)  # the 1e-3 weight floor
    assert np.abs(unweighted - truth).max() > 0.05


def test_frames_with_all_zero_scores_still_get_a_fit():
    focal, center = 1000.0, (320.0, 240.0)
    poses = random_poses(2, seed=5)
    truth = np.array([[0.0, 0.2, 3.0], [0.1, 0.2, 3.1]])
    keypoints = project(poses + truth[:, None], focal, center)
    fitted = fit_translation(poses, keypoints, np.zeros((2, 17)), focal, center)
    np.testing.assert_allclose(fitted, truth, atol=1e-3)


def test_depth_smoothing_reduces_jitter_and_keeps_the_root_on_the_person():
    rng = np.random.default_rng(1)
    frames = 90
    depth = 4.0 + rng.normal(scale=0.3, size=frames)
    image_xy = np.stack([np.linspace(-0.2, 0.2, frames), np.full(frames, 0.1)], -1)  # root's x/z, y/z
    translation = np.column_stack([image_xy * depth[:, None], depth])
    smoothed = smooth_depth(translation, fps=30.0)
    assert np.std(np.diff(smoothed[:, 2])) < 0.5 * np.std(np.diff(depth))
    assert abs(smoothed[:, 2].mean() - depth.mean()) < 0.05
    np.testing.assert_allclose(smoothed[:, :2] / smoothed[:, 2:], image_xy, atol=1e-5)


def test_depth_stays_in_front_of_the_camera_and_one_frame_is_unchanged():
    single = np.array([[0.5, 0.5, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(smooth_depth(single, fps=30.0), single)
    behind = smooth_depth(np.array([[0.0, 0.0, -2.0], [0.0, 0.0, -2.0]]), fps=30.0)
    assert (behind[:, 2] >= MIN_DEPTH).all()

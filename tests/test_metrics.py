"""Pose error metrics of the Human3.6M protocols."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glagcn_video.training.metrics import mpjpe, mpjpe_loss, mpjve, n_mpjpe, p_mpjpe, procrustes_align


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


@pytest.fixture
def poses() -> np.ndarray:
    """(frames, joints, 3): random poses of human size (metres)."""
    return np.random.default_rng(0).normal(scale=0.3, size=(6, 17, 3))


def test_mpjpe_by_hand():
    target = np.zeros((1, 2, 3))
    predicted = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]]])  # distances 5 and 1
    assert mpjpe(predicted, target) == pytest.approx(3.0)
    assert mpjpe(target, target) == 0
    # Mean over frames too: frame errors 1 and 3.
    two = np.zeros((2, 1, 3))
    assert mpjpe(two + [[[1.0, 0, 0]], [[0, 3.0, 0]]], two) == pytest.approx(2.0)


def test_mpjpe_loss_matches_numpy_and_has_gradients(poses):
    predicted = torch.tensor(poses + 0.01 * np.arange(3), requires_grad=True)
    loss = mpjpe_loss(predicted, torch.tensor(poses))
    assert loss.item() == pytest.approx(mpjpe(poses + 0.01 * np.arange(3), poses))
    assert loss.item() == pytest.approx(0.01 * np.sqrt(5))
    loss.backward()
    assert predicted.grad is not None and predicted.grad.abs().sum() > 0


def test_p_mpjpe_ignores_rotation_translation_and_scale(poses):
    rng = np.random.default_rng(1)
    moved = np.stack([1.7 * frame @ random_rotation(rng).T + rng.normal(size=3) for frame in poses])
    assert mpjpe(moved, poses) > 0.1
    assert p_mpjpe(moved, poses) < 1e-9
    np.testing.assert_allclose(procrustes_align(moved, poses), poses, atol=1e-9)


def test_p_mpjpe_of_an_aligned_prediction_is_its_error(poses):
    noisy = poses + np.random.default_rng(6).normal(scale=0.05, size=poses.shape)
    aligned = procrustes_align(noisy, poses)
    assert mpjpe(aligned, poses) < mpjpe(noisy, poses)  # alignment helped
    assert p_mpjpe(aligned, poses) == pytest.approx(mpjpe(aligned, poses), rel=1e-9)
    assert p_mpjpe(aligned, poses) == pytest.approx(p_mpjpe(noisy, poses), rel=1e-9)


def test_p_mpjpe_by_hand():
    """A uniformly scaled, shifted square aligns exactly; a shear cannot."""
    square = np.array([[[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]]])
    assert p_mpjpe(2 * square + 3, square) == pytest.approx(0, abs=1e-12)
    # Corners moved along z by +-0.1 alternately: no rotation or shift helps, only
    # the scale s = <X, Y> / |Y|^2 = 8 / 8.04 shrinks the prediction a little.
    bumped = square + np.array([0, 0, 0.1]) * np.array([1, -1, 1, -1])[None, :, None]
    assert mpjpe(bumped, square) == pytest.approx(0.1)
    s = 8 / 8.04
    assert p_mpjpe(bumped, square) == pytest.approx(np.sqrt(2 * (s - 1) ** 2 + 0.01 * s ** 2), rel=1e-9)


def test_p_mpjpe_does_not_undo_reflections(poses):
    mirrored = poses * [-1, 1, 1]
    assert p_mpjpe(mirrored, poses) > 0.05
    # ... though any proper rotation of the mirror image is still removed.
    rotated = mirrored @ random_rotation(np.random.default_rng(2)).T
    assert p_mpjpe(rotated, poses) == pytest.approx(p_mpjpe(mirrored, poses), rel=1e-9)


def test_p_mpjpe_is_per_frame(poses):
    rng = np.random.default_rng(3)
    moved = np.stack([frame @ random_rotation(rng).T * rng.uniform(0.5, 2) for frame in poses])
    assert p_mpjpe(moved, poses) < 1e-9


def test_n_mpjpe_ignores_scale_only(poses):
    assert n_mpjpe(0.6 * poses, poses) < 1e-12
    assert mpjpe(0.6 * poses, poses) > 0.1
    rotated = poses @ random_rotation(np.random.default_rng(4)).T
    assert n_mpjpe(rotated, poses) > 0.05


def test_mpjve():
    target = np.cumsum(np.random.default_rng(5).normal(size=(10, 17, 3)), axis=0)
    assert mpjve(target + [0.5, -0.2, 0.1], target) == pytest.approx(0, abs=1e-12)
    # A prediction that stands still has the target's velocity as its error.
    still = np.repeat(target[:1], 10, axis=0)
    expected = np.linalg.norm(np.diff(target, axis=0), axis=-1).mean()
    assert mpjve(still, target) == pytest.approx(expected)

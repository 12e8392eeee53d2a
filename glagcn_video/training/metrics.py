"""Pose errors of the Human3.6M protocols, on (..., J, 3) arrays in metres.

Protocol #1 is MPJPE; Protocol #2 is MPJPE after a per-frame similarity
(Procrustes) alignment of the prediction to the ground truth.
"""

from __future__ import annotations

import numpy as np
import torch


def mpjpe_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error, differentiable (the training loss)."""
    return torch.linalg.vector_norm(predicted - target, dim=-1).mean()


def mpjpe(predicted: np.ndarray, target: np.ndarray) -> float:
    """Protocol #1: mean Euclidean distance over joints and frames."""
    return float(np.linalg.norm(predicted - target, axis=-1).mean())


def procrustes_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Align each frame of ``predicted`` (F, J, 3) to ``target`` with the best
    rotation, uniform scale and translation (reflections excluded)."""
    mu_x = target.mean(axis=1, keepdims=True)
    mu_y = predicted.mean(axis=1, keepdims=True)
    x0, y0 = target - mu_x, predicted - mu_y
    norm_x = np.sqrt((x0 ** 2).sum(axis=(1, 2), keepdims=True))
    norm_y = np.sqrt((y0 ** 2).sum(axis=(1, 2), keepdims=True))
    x0, y0 = x0 / norm_x, y0 / norm_y
    u, s, vt = np.linalg.svd(np.matmul(x0.transpose(0, 2, 1), y0))
    v = vt.transpose(0, 2, 1)
    rotation = np.matmul(v, u.transpose(0, 2, 1))
    # Undo a reflection: flip the last singular vector where det(R) < 0.
    sign = np.sign(np.linalg.det(rotation))[:, None]
    v[:, :, -1] *= sign
    s[:, -1] *= sign[:, 0]
    rotation = np.matmul(v, u.transpose(0, 2, 1))
    scale = (s.sum(axis=1, keepdims=True)[..., None]) * norm_x / norm_y
    return scale * np.matmul(predicted - mu_y, rotation) + mu_x


def p_mpjpe(predicted: np.ndarray, target: np.ndarray) -> float:
    """Protocol #2: MPJPE after per-frame Procrustes alignment."""
    return mpjpe(procrustes_align(predicted, target), target)


def n_mpjpe(predicted: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after the per-frame scale that best fits the target (least squares)."""
    scale = ((predicted * target).sum(axis=(-2, -1), keepdims=True)
             / (predicted ** 2).sum(axis=(-2, -1), keepdims=True))
    return mpjpe(scale * predicted, target)


def mpjve(predicted: np.ndarray, target: np.ndarray) -> float:
    """Mean per-joint velocity error: MPJPE of the frame-to-frame differences."""
    return mpjpe(np.diff(predicted, axis=0), np.diff(target, axis=0))

"""Stage 6, before the lifter: each track at the body size the lifter was trained on."""

from __future__ import annotations

import numpy as np

from ..skeleton import H36M

# Median 2D torso (pelvis to thorax) of the Human3.6M training subjects S1, S5,
# S6, S7, S8 (ground-truth 2D, all cameras, every 10th frame) in the network's
# normalised units (2 / image width per pixel): 0.208, 5th-95th percentile
# 0.146-0.288 (tests/test_lift.py recomputes it from the dataset).
H36M_TORSO = 0.208

_PELVIS, _THORAX = H36M.joint_names.index("pelvis"), H36M.joint_names.index("thorax")


def match_training_scale(keypoints: np.ndarray, target: float = H36M_TORSO) -> tuple[np.ndarray, float]:
    """Scale a normalised (K, 17, 2) Human3.6M-layout track about its per-frame
    pelvis so that its median torso length is ``target``; returns the scaled
    track and the factor.

    Why: in Human3.6M every subject stands 4-6 m from a 1000-px camera, so the
    lifter never saw a body much smaller or larger on screen and ties the size
    of its root-relative 3D output to the size of its 2D input. A 240p
    clip's players are about half the training torso and come out with
    15-20 cm upper arms; the same track scaled to the training size gives
    human bone lengths (measured on the clips of tests/test_plausibility.py).
    One factor per track keeps the motion's own changes in size (a crouch, a
    step towards the camera) and the pelvis keeps its place in the image.
    """
    root = keypoints[:, _PELVIS:_PELVIS + 1]
    torso = np.linalg.norm(keypoints[:, _THORAX] - keypoints[:, _PELVIS], axis=-1)
    median = float(np.median(torso))
    if not median > 0:
        return keypoints, 1.0
    scale = target / median
    return (root + (keypoints - root) * scale).astype(keypoints.dtype), scale

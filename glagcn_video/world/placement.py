"""Where each person is in camera space: the root translation of a lifted pose.

The lifter gives poses relative to the pelvis. Placing them in the scene
needs the pelvis' camera-space position T. Two estimates, joined:

- *From the body's size* (:func:`fit_translation`): per frame, the T whose
  perspective projection of pose + T lands on the detected 2D keypoints. Its
  depth assumes Human3.6M-like body size and jitters frame to frame with the
  keypoints (:func:`smooth_depth` smooths it over 0.1 s).
- *From the feet* (:func:`place_on_ground`): while a foot is planted, the ray
  through its 2D ankle meets the ground plane at the ankle's height, which
  gives the ankle's depth, and so the pelvis', without any body-size guess.
  Where no foot is down (jumps, feet out of frame) the body-size depth is
  kept, scaled by the foot/size ratio interpolated from the nearest contacts,
  so the two join without a step.

The focal length is rarely known for a video, so by default it is the image
diagonal in pixels: a 53 degree diagonal field of view (2 atan(1/2)), close to
a typical phone or webcam main camera. Depth from one view depends on it; it
is an estimate for showing people where they are, not a measurement.
"""

from __future__ import annotations

import math

import numpy as np

from .contacts import contact_runs
from .frame import ANKLE_HEIGHT, Ground

# Gaussian smoothing (standard deviation, seconds) of the fitted depth over
# time: depth is the least-determined coordinate and jitters frame to frame.
DEPTH_SMOOTH_S = 0.1
MIN_DEPTH = 0.1  # metres; a person is in front of the camera
_MIN_WEIGHT = 1e-3  # so frames where every joint has score 0 still get a fit
# A ray this close to parallel with the ground (a far person near the horizon)
# gives a depth too sensitive to a pixel's error to anchor on.
MIN_RAY_GROUND_DEG = 2.0


def default_focal(width: int, height: int) -> float:
    """The image diagonal in pixels: a 2 atan(1/2) = 53.1 degree diagonal field of view."""
    return math.hypot(width, height)


def fit_translation(poses: np.ndarray, keypoints: np.ndarray, weights: np.ndarray,
                    focal: float, center: tuple[float, float]) -> np.ndarray:
    """Per-frame translation T (F, 3) so that project(poses + T) ~ keypoints.

    poses (F, J, 3) root-relative metres (camera axes), keypoints (F, J, 2)
    pixels, weights (F, J) (detector scores). With normalised image
    coordinates a = (u - cx) / f, b = (v - cy) / f, the pinhole equations
    a (Z + Tz) = X + Tx and b (Z + Tz) = Y + Ty are linear in T, so each
    frame is a weighted 3-unknown least-squares problem; all frames are
    solved at once from their 3x3 normal equations.
    """
    a, b, _ = np.moveaxis(rays(keypoints, focal, center), -1, 0)
    x, y, z = (poses[..., i].astype(np.float64) for i in range(3))
    w = np.maximum(weights, _MIN_WEIGHT).astype(np.float64)
    # Rows per joint: [1, 0, -a] T = a z - x and [0, 1, -b] T = b z - y.
    rhs_x, rhs_y = a * z - x, b * z - y
    sw = w.sum(-1)
    swa, swb = (w * a).sum(-1), (w * b).sum(-1)
    normal = np.empty((len(w), 3, 3))
    normal[:, 0] = np.stack([sw, np.zeros_like(sw), -swa], -1)
    normal[:, 1] = np.stack([np.zeros_like(sw), sw, -swb], -1)
    normal[:, 2] = np.stack([-swa, -swb, (w * (a * a + b * b)).sum(-1)], -1)
    rhs = np.stack([(w * rhs_x).sum(-1), (w * rhs_y).sum(-1),
                    -(w * (a * rhs_x + b * rhs_y)).sum(-1)], -1)
    translation = (np.linalg.pinv(normal) @ rhs[..., None])[..., 0]
    return translation.astype(np.float32)


def smooth_depth(translation: np.ndarray, fps: float, sigma_s: float = DEPTH_SMOOTH_S) -> np.ndarray:
    """Smooth the depth Tz over time and scale Tx, Ty with it.

    Scaling x and y by the same factor as z keeps the root's projection, so
    the skeleton still sits on the person in the image. Depths are kept in
    front of the camera (at least :data:`MIN_DEPTH`).
    """
    depth = np.maximum(translation[:, 2], MIN_DEPTH)
    radius = int(math.ceil(3 * sigma_s * fps))
    if radius > 0 and len(depth) > 1:
        offsets = np.arange(-radius, radius + 1)
        kernel = np.exp(-0.5 * (offsets / (sigma_s * fps)) ** 2)
        padded = np.pad(depth, radius, mode="edge")
        smoothed = np.convolve(padded, kernel / kernel.sum(), mode="valid")
    else:
        smoothed = depth
    scale = smoothed / np.maximum(translation[:, 2], MIN_DEPTH)
    return np.stack([translation[:, 0] * scale, translation[:, 1] * scale, smoothed], -1).astype(np.float32)


def rays(keypoints: np.ndarray, focal: float, center: tuple[float, float]) -> np.ndarray:
    """(..., 3) the camera-space direction (z = 1) through each pixel (..., 2),
    in the keypoints' precision: the normalised image coordinates (a, b, 1)."""
    a = (keypoints[..., 0] - center[0]) / focal
    b = (keypoints[..., 1] - center[1]) / focal
    return np.stack([a, b, np.ones_like(a)], -1)


def ray_ground_depth(keypoints: np.ndarray, focal: float, center: tuple[float, float], ground: Ground,
                     height: float = ANKLE_HEIGHT) -> np.ndarray:
    """(...,) depth z at which the ray through each pixel (..., 2) is ``height``
    above ``ground``; NaN where the ray misses it in front of the camera or
    grazes it (within :data:`MIN_RAY_GROUND_DEG`)."""
    direction = rays(keypoints, focal, center).astype(np.float64)
    along = direction @ ground.normal
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = (height - ground.offset) / along
    grazing = np.abs(along) / np.linalg.norm(direction, axis=-1) < np.sin(np.radians(MIN_RAY_GROUND_DEG))
    return np.where(grazing | ~(depth > MIN_DEPTH), np.nan, depth)


def place_on_ground(poses: np.ndarray, root: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                    contacts: np.ndarray, ankles: list[int], ground: Ground, focal: float,
                    center: tuple[float, float]) -> np.ndarray:
    """The root (F, 3) with its depth taken from the planted feet (module docstring).

    ``poses`` (F, J, 3) pelvis-relative camera-space joints; ``root`` (F, 3)
    the body-size placement; ``keypoints`` (F, J, 2) and ``scores`` (F, J) the
    2D detections; ``contacts`` (F, len(ankles)) planted feet. A planted foot
    does not move, so each contact gives one depth for its ankle: the median,
    over the contact, of where the ray through the 2D ankle meets the ground
    at ankle height; its ratio to the body-size depth of that ankle (median
    over the same frames) scales the root along its own ray (its projection
    is unchanged) for those frames. Between contacts the ratio is
    interpolated linearly, before the first and after the last it is held.
    Without a usable contact the root comes back unchanged."""
    log_ratio = np.zeros(len(root))
    weight = np.zeros(len(root))
    for foot, joint in enumerate(ankles):
        ray_depth = ray_ground_depth(keypoints[:, joint], focal, center, ground)
        size_depth = root[:, 2] + poses[:, joint, 2]
        for start, stop in contact_runs(contacts[:, foot]):
            hits = ray_depth[start:stop]
            hits = hits[np.isfinite(hits)]
            if len(hits) < max(1, (stop - start) // 2):
                continue  # the ray mostly grazes or misses the ground: no anchor
            ratio = float(np.median(hits)) / max(float(np.median(size_depth[start:stop])), MIN_DEPTH)
            log_ratio[start:stop] += (stop - start) * math.log(ratio)
            weight[start:stop] += stop - start
    anchored = np.flatnonzero(weight > 0)
    if not len(anchored):
        return root.copy()
    scale = np.exp(np.interp(np.arange(len(root)), anchored, log_ratio[anchored] / weight[anchored]))
    return (root * scale[:, None]).astype(np.float32)


"""Where each person is in camera space: the root translation of a lifted pose.

The lifter gives poses relative to the pelvis. Placing them in the scene
needs the pelvis' camera-space position T, found per frame so that the
perspective projection of pose + T lands on the detected 2D keypoints. The
focal length is rarely known for a video, so by default it is the image
diagonal in pixels: a 53 degree diagonal field of view (2 atan(1/2)), close to
a typical phone or webcam main camera. Depth from one view depends on the
assumed focal length and on the person having Human3.6M-like size; it is an
estimate for showing people where they are, not a measurement.
"""

from __future__ import annotations

import math

import numpy as np

# Gaussian smoothing (standard deviation, seconds) of the fitted depth over
# time: depth is the least-determined coordinate and jitters frame to frame.
DEPTH_SMOOTH_S = 0.1
MIN_DEPTH = 0.1  # metres; a person is in front of the camera
_MIN_WEIGHT = 1e-3  # so frames where every joint has score 0 still get a fit


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
    a = (keypoints[..., 0] - center[0]) / focal
    b = (keypoints[..., 1] - center[1]) / focal
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

"""Small pure geometry functions on NumPy arrays (broadcasting over leading axes).

Conventions follow Human3.6M / VideoPose3D: quaternions are (w, x, y, z);
a camera's orientation rotates camera axes into world axes and its
translation is the camera centre in world coordinates.
"""

from __future__ import annotations

import numpy as np


def qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    q = np.broadcast_to(q, v.shape[:-1] + (4,))
    qvec = q[..., 1:]
    uv = np.cross(qvec, v)
    uuv = np.cross(qvec, uv)
    return v + 2 * (q[..., :1] * uv + uuv)


def qinverse(q: np.ndarray) -> np.ndarray:
    """Conjugate of unit quaternions (w, x, y, z)."""
    return q * np.array([1, -1, -1, -1], dtype=q.dtype)


def world_to_camera(x: np.ndarray, orientation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """World points (..., 3) to camera space: rotate(conj(q), x - t)."""
    return qrot(qinverse(orientation).astype(x.dtype), x - translation)


def camera_to_world(x: np.ndarray, orientation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Inverse of :func:`world_to_camera`."""
    return qrot(orientation.astype(x.dtype), x) + translation


def project_to_2d(x: np.ndarray, focal: np.ndarray, center: np.ndarray,
                  radial: np.ndarray, tangential: np.ndarray) -> np.ndarray:
    """Project camera-space points (..., 3) to pixels with Human3.6M's
    distortion model (3 radial, 2 tangential coefficients).

    The normalised coordinates are clipped to [-1, 1] first, as the dataset's
    own tools do, so points far outside the view cannot blow up the polynomial.
    """
    uv = np.clip(x[..., :2] / x[..., 2:3], -1, 1)
    r2 = np.sum(uv ** 2, axis=-1, keepdims=True)
    k1, k2, k3 = radial
    radial_term = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    tan_term = np.sum(uv * tangential, axis=-1, keepdims=True)
    distorted = uv * (radial_term + tan_term) + tangential * r2
    return focal * distorted + center


def project_pinhole(x: np.ndarray, focal: float | np.ndarray, center: np.ndarray) -> np.ndarray:
    """Undistorted perspective projection of camera-space points (..., 3) to pixels."""
    return focal * x[..., :2] / x[..., 2:3] + center


def normalize_screen_coordinates(x: np.ndarray, w: float, h: float) -> np.ndarray:
    """Pixels to the network's input range: [0, w] -> [-1, 1], aspect ratio kept."""
    return x / w * 2 - np.array([1, h / w], dtype=x.dtype)


def image_coordinates(x: np.ndarray, w: float, h: float) -> np.ndarray:
    """Inverse of :func:`normalize_screen_coordinates`."""
    return (x + np.array([1, h / w], dtype=x.dtype)) * w / 2

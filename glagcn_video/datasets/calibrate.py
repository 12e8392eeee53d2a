"""Recover a camera from 3D world points and the pixels they project to.

HumanEva-I in the VideoPose3D format ships world-space 3D joints and
ground-truth 2D joints, but not the cameras: the 2D was made by projecting the
3D with each subject's calibrated cameras, so the cameras can be fitted back
from the correspondences (tens of thousands of points per camera, spread
through the capture volume: a well-posed, non-planar calibration).

Two steps, both standard:

1. Direct linear transform (DLT): the 3x4 projection matrix from the
   correspondences by linear least squares (Hartley-normalised), split by an
   RQ decomposition into intrinsics K, rotation R and translation t. It
   ignores lens distortion, so it is only a starting point (about 1 px off on
   HumanEva, several px near the image edges).
2. ``cv2.calibrateCamera`` refines everything with Levenberg-Marquardt,
   starting from the DLT intrinsics (OpenCV requires an intrinsic guess for
   non-planar points) and adding radial distortion k1, k2, k3 with tangential
   distortion fixed at zero and no skew. With zero tangential terms OpenCV's
   lens model is exactly :func:`glagcn_video.camera.project_to_2d`'s, so the
   fitted camera can be written in the project's (Human3.6M) camera format
   without any approximation.

The result is converted to the project's convention (``camera.py``): the
orientation quaternion (w, x, y, z) rotates camera axes into world axes and
the translation is the camera centre in world coordinates, so that
``X_cam = rotate(conj(q), X_world - t)``. Everything here is pure NumPy /
OpenCV on arrays; the units of the translation are those of the points.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..camera import project_to_2d, world_to_camera


@dataclass(frozen=True)
class FittedCamera:
    """A camera in the project's convention, with its fit quality.

    ``focal`` and ``center`` are (fx, fy) and (cx, cy) in pixels; ``radial``
    is (k1, k2, k3); tangential distortion is zero by construction.
    ``orientation`` is a unit quaternion (w, x, y, z) rotating camera axes
    into world axes; ``translation`` is the camera centre in world
    coordinates, in the points' units. ``median_px`` and ``max_px`` are the
    reprojection errors over the points it was fitted to, measured with
    :func:`camera.project_to_2d` (the project's own model, not OpenCV's).
    """

    focal: np.ndarray
    center: np.ndarray
    radial: np.ndarray
    orientation: np.ndarray
    translation: np.ndarray
    median_px: float
    max_px: float

    @property
    def tangential(self) -> np.ndarray:
        return np.zeros(2)

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) to pixels (..., 2) with the project's camera model."""
        cam = world_to_camera(np.asarray(points, np.float64), self.orientation, self.translation)
        return project_to_2d(cam, self.focal, self.center, self.radial, self.tangential)


def _normalising_transform(x: np.ndarray) -> np.ndarray:
    """Similarity moving points (N, D) to zero mean and mean distance sqrt(D)
    from the origin (Hartley): keeps the DLT's linear system well conditioned."""
    mean = x.mean(axis=0)
    scale = np.sqrt(x.shape[1]) / np.mean(np.linalg.norm(x - mean, axis=1))
    transform = np.eye(x.shape[1] + 1)
    transform[:-1, :-1] *= scale
    transform[:-1, -1] = -scale * mean
    return transform


def dlt(points: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """The 3x4 projection matrix P with ``pixels ~ P @ [points, 1]`` (no distortion).

    Linear least squares on Hartley-normalised coordinates; needs at least
    six points not all on one plane. The overall scale and sign of P are
    arbitrary (fixed later by :func:`decompose_projection`).
    """
    points = np.asarray(points, np.float64).reshape(-1, 3)
    pixels = np.asarray(pixels, np.float64).reshape(-1, 2)
    if len(points) != len(pixels) or len(points) < 6:
        raise ValueError(f"need at least 6 matching points, got {len(points)} and {len(pixels)}")
    t3, t2 = _normalising_transform(points), _normalising_transform(pixels)
    X = points @ t3[:3, :3].T + t3[:3, -1]
    x = pixels @ t2[:2, :2].T + t2[:2, -1]
    Xh = np.hstack([X, np.ones((len(X), 1))])
    zeros = np.zeros_like(Xh)
    rows = np.concatenate([
        np.hstack([Xh, zeros, -x[:, :1] * Xh]),
        np.hstack([zeros, Xh, -x[:, 1:] * Xh]),
    ])
    # The smallest right singular vector of the 2N x 12 system; via the 12 x 12
    # normal matrix so that 100k points cost nothing.
    _, vectors = np.linalg.eigh(rows.T @ rows)
    P_normalised = vectors[:, 0].reshape(3, 4)
    return np.linalg.inv(t2) @ P_normalised @ t3


def rq(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RQ decomposition of a 3x3 matrix: upper-triangular R with a positive
    diagonal times orthogonal Q (NumPy has only QR, so QR of the row- and
    column-reversed transpose, reversed back)."""
    flip = np.eye(3)[::-1]
    q, r = np.linalg.qr((flip @ matrix).T)
    upper = flip @ r.T @ flip
    orthogonal = flip @ q.T
    signs = np.diag(np.sign(np.diag(upper)))
    return upper @ signs, signs @ orthogonal


def decompose_projection(P: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split P into K (upper triangular, K[2, 2] = 1, positive focal lengths),
    a proper rotation R and t, with ``P ~ K [R | t]`` and points in front of
    the camera having positive depth for the returned sign."""
    P = np.asarray(P, np.float64)
    if np.linalg.det(P[:, :3]) < 0:  # P is defined up to sign: choose det(R) = +1
        P = -P
    K, R = rq(P[:, :3])
    t = np.linalg.solve(K, P[:, 3])
    scale = K[2, 2]
    return K / scale, R, t


def rotation_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z), w >= 0, of a 3x3 rotation matrix (Shepperd's method)."""
    R = np.asarray(R, np.float64)
    trace = np.trace(R)
    diag = np.diag(R)
    k = int(np.argmax([trace, *diag]))
    if k == 0:
        w = np.sqrt(1 + trace) / 2
        q = np.array([w, (R[2, 1] - R[1, 2]) / (4 * w), (R[0, 2] - R[2, 0]) / (4 * w),
                      (R[1, 0] - R[0, 1]) / (4 * w)])
    else:
        i = k - 1
        j, m = (i + 1) % 3, (i + 2) % 3
        s = np.sqrt(1 + R[i, i] - R[j, j] - R[m, m]) * 2
        q = np.empty(4)
        q[0] = (R[m, j] - R[j, m]) / s
        q[1 + i] = s / 4
        q[1 + j] = (R[j, i] + R[i, j]) / s
        q[1 + m] = (R[m, i] + R[i, m]) / s
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def quaternion_to_rotation(q: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix of a unit quaternion (w, x, y, z)."""
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def fit_camera(points: np.ndarray, pixels: np.ndarray, image_size: tuple[int, int],
               fit_k3: bool = False) -> FittedCamera:
    """Fit intrinsics (fx, fy, cx, cy, k1, k2 and optionally k3; no skew, no
    tangential distortion) and extrinsics to world ``points`` (..., 3) and
    their ``pixels`` (..., 2); ``image_size`` is (width, height).

    DLT + RQ gives the starting intrinsics, then ``cv2.calibrateCamera``
    refines all parameters jointly, treating the points as one non-planar
    view (OpenCV then needs ``CALIB_USE_INTRINSIC_GUESS``; it initialises the
    pose itself from that guess).

    k3 stays 0 unless ``fit_k3``: inside a 640 x 480 image the normalised
    radius stays below about 0.45, where r^6 is tiny and k3 trades off
    against k2; on HumanEva a free k3 wandered to +-1.7 without lowering the
    median error by more than 0.007 px, and such a term would only bend
    projections of points outside the image.
    """
    points = np.asarray(points, np.float64).reshape(-1, 3)
    pixels = np.asarray(pixels, np.float64).reshape(-1, 2)
    K, _, _ = decompose_projection(dlt(points, pixels))
    K[0, 1] = 0.0  # OpenCV's model has no skew
    flags = cv2.CALIB_USE_INTRINSIC_GUESS | cv2.CALIB_ZERO_TANGENT_DIST
    if not fit_k3:
        flags |= cv2.CALIB_FIX_K3
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12)
    _, K, dist, rvecs, tvecs = cv2.calibrateCamera(
        [points.astype(np.float32)], [pixels.astype(np.float32)], tuple(int(s) for s in image_size),
        K, np.zeros(5), flags=flags, criteria=criteria)
    dist = np.ravel(dist)
    R_world_to_cam, _ = cv2.Rodrigues(rvecs[0])
    t_cam = np.ravel(tvecs[0])
    # OpenCV: X_cam = R X + t.  Project: X_cam = R_q^T (X - c), so R_q = R^T, c = -R^T t.
    camera = FittedCamera(
        focal=np.array([K[0, 0], K[1, 1]]),
        center=np.array([K[0, 2], K[1, 2]]),
        radial=np.array([dist[0], dist[1], dist[4]]),
        orientation=rotation_to_quaternion(R_world_to_cam.T),
        translation=-R_world_to_cam.T @ t_cam,
        median_px=0.0, max_px=0.0)
    errors = reprojection_errors(camera, points, pixels)
    return FittedCamera(**{**camera.__dict__, "median_px": float(np.median(errors)),
                           "max_px": float(errors.max())})


def reprojection_errors(camera: FittedCamera, points: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Pixel distance between ``pixels`` and the camera's projection of ``points``,
    using :func:`camera.project_to_2d`, so a mistake in converting OpenCV's
    parameters to the project's convention shows up here."""
    points = np.asarray(points, np.float64).reshape(-1, 3)
    pixels = np.asarray(pixels, np.float64).reshape(-1, 2)
    return np.linalg.norm(camera.project(points) - pixels, axis=-1)

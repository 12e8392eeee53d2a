"""The ground under the people and a gravity-aligned world frame.

The lifter and the root placement work in camera axes (x right, y down, z
forward), where "up" is wherever the camera happened to point: a tilted phone
makes people lean, and a 3D package shows them lying on their back. This
module finds the ground plane from the people themselves and builds a world
frame on it, once per video, for everything that shows or exports 3D (the 3D
view, CSV/NPZ in world axes, BVH, TRC, joint angles).

World axes (metres, right-handed, the convention of BVH and most 3D tools'
importers): **Y up** (against gravity), **Z** level and pointing back towards
the camera (its viewing direction projected onto the ground, reversed), **X =
Y x Z** level and to the right as the camera sees it. The origin is on the
ground under the first person's pelvis in their first frame.

How the ground is found, and why it survives real videos:

1. *Up, roughly*: the median direction from the ankles' midpoint to the neck
   over person-frames where the person stands straight (spine and legs within
   15 degrees of one line) and upright (within 60 degrees of the camera's up,
   -y). Upside-down, lying, sitting or mis-lifted frames do not vote. On
   Human3.6M this is 4.8 degrees from the true vertical (median over actions
   and cameras; the spine alone: 7.2). With fewer than 5 such frames the
   balance lines vote instead, from the ankles' midpoint to the centroid of
   all joints, within the cone: a body at rest keeps its centre of mass over
   its feet, so a torso that leans the whole time (a boxer's guard, a bent-over
   exercise) does not tilt the ground as its spine would (on the boxing clip
   the spines said 29 degrees, the balance lines 10). With none, the camera's
   -y is taken.
2. *Contacts*: in every person-frame the joint lowest along that up, the one
   most likely to touch the ground (an ankle when standing, a hand or the
   head of a breakdancer in a handstand).
3. *The plane*: a RANSAC fit to the contacts, restricted to planes within
   25 degrees of the rough up, then least squares on its inliers. A plane is
   only trusted when its inliers span at least :data:`MIN_SPREAD` metres in
   two directions (people who walk around); a person standing in one spot
   leaves the tilt undetermined, and the rough up is kept, with the ground
   height at a low percentile of the contacts' heights, so that frames in the
   air (jumps) do not lift the ground.
4. Joint centres sit above the surface they touch: the plane is lowered by
   :data:`ANKLE_HEIGHT`, the ankle joint's height above the floor when
   standing in Human3.6M.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..skeleton import H36M, Layout

# Median height of the lowest of the 17 joints above the floor in Human3.6M's
# world frame for standing and walking subjects: 0.044-0.068 m over S1 and S9
# "Walking 1" and "Directions 1", 0.037-0.061 m over their first 8 s
# (tests/test_world.py recomputes the latter).
ANKLE_HEIGHT = 0.05
MIN_SPREAD = 0.5  # metres the contacts must cover in two directions to fix the tilt
INLIER_M = 0.05  # RANSAC inlier distance
MAX_TILT_DEG = 25.0  # a fitted ground may lean this far from the people's upright direction
UPRIGHT_CONE_DEG = 60.0  # spines within this angle of the camera's up vote for "up"
STRAIGHT_DEG = 15.0  # spine and legs this close to one line: standing straight
MIN_STANDING_FRAMES = 5
GROUND_PERCENTILE = 10  # contact height taken as the ground when the plane is not fitted
_RANSAC_TRIALS = 200


@dataclass(frozen=True)
class Ground:
    """The plane ``normal . p + offset = 0`` in camera axes; ``normal`` points up."""

    normal: np.ndarray  # (3,) unit vector, camera axes
    offset: float  # metres
    method: str  # "fitted plane" (RANSAC on the contacts) or "upright" (tilt from the spines)

    def height(self, points: np.ndarray) -> np.ndarray:
        """Signed height (...,) of camera-space points (..., 3) above the ground, metres."""
        return np.asarray(points, np.float64) @ self.normal + self.offset


@dataclass(frozen=True)
class WorldFrame:
    """``world = rotation @ camera + translation`` (metres); see the module docstring."""

    rotation: np.ndarray  # (3, 3), rows are the world axes X, Y, Z in camera axes
    translation: np.ndarray  # (3,)
    ground: Ground

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """Camera-space points (..., 3) in world axes."""
        return (np.asarray(points, np.float64) @ self.rotation.T + self.translation).astype(np.float32)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) back in camera axes."""
        return ((np.asarray(points, np.float64) - self.translation) @ self.rotation).astype(np.float32)

    @property
    def camera_position(self) -> np.ndarray:
        """The camera's centre in world coordinates, metres."""
        return self.translation.copy()

    @property
    def camera_rotation(self) -> np.ndarray:
        """(3, 3) whose columns are the camera's x (right), y (down), z (viewing
        direction) axes in world coordinates."""
        return self.rotation.copy()

    @staticmethod
    def identity_camera() -> "WorldFrame":
        """Camera axes unchanged (``--frame camera``)."""
        return WorldFrame(np.eye(3), np.zeros(3), Ground(np.array([0.0, -1.0, 0.0]), 0.0, "camera"))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(_unit(a) @ _unit(b), -1.0, 1.0)))


def _facing(normal: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``normal`` or its opposite, whichever points up (a plane through ``up`` itself keeps its sign)."""
    return -normal if normal @ up < 0 else normal


def upright_direction(poses: np.ndarray, layout: Layout = H36M) -> np.ndarray:
    """The people's up (3,) in camera axes, (N, J, 3) poses; see step 1 of the
    module docstring."""
    camera_up = np.array([0.0, -1.0, 0.0])
    joint = layout.joint_names.index
    ankles = (poses[:, joint("right_ankle")] + poses[:, joint("left_ankle")]) / 2
    spine = poses[:, joint("neck")] - poses[:, joint("pelvis")]
    legs = poses[:, joint("pelvis")] - ankles
    body = poses[:, joint("neck")] - ankles
    balance = poses.mean(axis=1) - ankles
    sound = ((np.linalg.norm(spine, axis=-1) > 1e-6) & (np.linalg.norm(legs, axis=-1) > 1e-6)
             & (np.linalg.norm(balance, axis=-1) > 1e-6))
    spine, legs, body, balance = (_unit(v[sound]) for v in (spine, legs, body, balance))
    upright = _angle_deg(spine, camera_up) < UPRIGHT_CONE_DEG
    straight = upright & (np.einsum("nd,nd->n", spine, legs) > np.cos(np.radians(STRAIGHT_DEG)))
    if straight.sum() >= MIN_STANDING_FRAMES:
        return _unit(np.median(body[straight], axis=0))
    balanced = _angle_deg(balance, camera_up) < UPRIGHT_CONE_DEG
    if balanced.any():
        return _unit(np.median(balance[balanced], axis=0))
    return camera_up


def contact_points(poses: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(N, 3): each pose's joint lowest along ``up``."""
    heights = poses @ up
    return poses[np.arange(len(poses)), np.argmin(heights, axis=1)].astype(np.float64)


def _spread(points: np.ndarray) -> float:
    """The second-largest extent (metres, 2 sigma) of a point cloud: a plane
    needs points spread in two directions."""
    if len(points) < 3:
        return 0.0
    singular = np.linalg.svd(points - points.mean(0), compute_uv=False)
    return float(2 * singular[1] / np.sqrt(len(points)))


def _ransac_plane(points: np.ndarray, up: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """The plane (normal, inlier mask) near ``up`` with the most inliers, refined
    by least squares on them; None if no plane is near enough to ``up``."""
    best: np.ndarray | None = None
    for _ in range(_RANSAC_TRIALS):
        a, b, c = points[rng.choice(len(points), 3, replace=False)]
        normal = np.cross(b - a, c - a)
        if np.linalg.norm(normal) < 1e-9:
            continue
        normal = _facing(_unit(normal), up)
        if _angle_deg(normal, up) > MAX_TILT_DEG:
            continue
        inliers = np.abs((points - a) @ normal) < INLIER_M
        if best is None or inliers.sum() > best.sum():
            best = inliers
    if best is None or best.sum() < 3:
        return None
    chosen = points[best]
    normal = np.linalg.svd(chosen - chosen.mean(0))[2][-1]
    normal = _facing(normal, up)
    if _angle_deg(normal, up) > MAX_TILT_DEG:
        return None
    return normal, best


def fit_ground(poses: np.ndarray, layout: Layout = H36M, seed: int = 0) -> Ground:
    """The ground under (N, J, 3) camera-space poses (every person-frame of a
    video), steps 1-4 of the module docstring."""
    poses = np.asarray(poses, np.float64).reshape(-1, layout.num_joints, 3)
    poses = poses[np.isfinite(poses).all(axis=(1, 2))]
    if not len(poses):
        return WorldFrame.identity_camera().ground
    up = upright_direction(poses, layout)
    contacts = contact_points(poses, up)
    fit = _ransac_plane(contacts, up, np.random.default_rng(seed)) if len(contacts) >= 3 else None
    if fit is not None and _spread(contacts[fit[1]]) >= MIN_SPREAD:
        normal, inliers = fit
        offset = -float(np.median(contacts[inliers] @ normal))
        method = "fitted plane"
    else:
        normal = up
        offset = -float(np.percentile(contacts @ normal, GROUND_PERCENTILE))
        method = "upright"
    return Ground(normal, offset + ANKLE_HEIGHT, method)


def world_frame(ground: Ground, origin_above: np.ndarray) -> WorldFrame:
    """The world frame on ``ground`` with its origin on the ground below the
    camera-space point ``origin_above`` (the first person's first pelvis)."""
    up = ground.normal
    origin = np.asarray(origin_above, np.float64) - ground.height(origin_above) * up
    # The viewing direction made level: unchanged by rolling the camera about it.
    forward = np.array([0.0, 0.0, 1.0]) - up[2] * up
    if np.linalg.norm(forward) < 1e-6:  # looking straight down: the image's top is "forward"
        forward = np.array([0.0, -1.0, 0.0]) - up[1] * up
    z = -_unit(forward)
    x = np.cross(up, z)
    rotation = np.stack([x, up, z])
    return WorldFrame(rotation, -rotation @ origin, ground)


def estimate_world_frame(tracks: Sequence[np.ndarray], layout: Layout = H36M) -> WorldFrame:
    """The world frame for a video from its people's camera-space joints: one
    (F, J, 3) array per track, the first being the first person to appear
    (its first frame's pelvis becomes the origin)."""
    tracks = [np.asarray(t, np.float64) for t in tracks if len(t)]
    if not tracks:
        return WorldFrame.identity_camera()
    ground = fit_ground(np.concatenate(tracks), layout)
    first = tracks[0][np.isfinite(tracks[0]).all(axis=(1, 2))]
    pelvis = first[0, layout.joint_names.index("pelvis")] if len(first) else np.zeros(3)
    return world_frame(ground, pelvis)

"""Joint angles in degrees from world-frame 3D joints (Y up), for biomechanics.

Definitions (docs/outputs.md repeats them with pictures in words). The body's
own axes per frame: *lateral* = right hip to left hip, *trunk up* = pelvis to
thorax made perpendicular to lateral, *forward* = lateral x trunk up (the way
the chest faces). For the shoulders the lateral axis is the shoulder line.

- ``<side>_knee_flexion``: the angle between thigh (hip to knee) and shank
  (knee to ankle); 0 straight, positive bent. ``<side>_elbow_flexion``: the
  same for upper arm (shoulder to elbow) and forearm (elbow to wrist). Both
  are unsigned: positions alone cannot tell a hyperextension from a bend.
- ``<side>_hip_flexion``: the thigh in the trunk's sagittal plane (forward,
  trunk up) against "down the trunk": 0 in line with the trunk, positive with
  the knee forward (90 sitting), negative behind (extension).
- ``<side>_shoulder_flexion``: the upper arm in the same plane (lateral from
  the shoulder line) against down the trunk: 0 hanging, 90 forward and
  level, 180 overhead, negative behind. An arm held straight out sideways
  has almost no sagittal component; its value there is unreliable.
- ``trunk_lean_forward`` / ``trunk_lean_sideways``: pelvis to thorax against
  world up, in the vertical plane through the body's level forward (positive
  leaning forward) and through its level lateral (positive leaning towards
  the person's left).
- ``pelvis_rotation``: the pelvis's level forward direction about world up,
  0 facing the camera (world +Z), positive turning counter-clockwise seen
  from above (towards world +X).

Signed angles are unwrapped over each person's frames, so a turn keeps
counting past 180 degrees instead of jumping to -180.
"""

from __future__ import annotations

import csv
import os
from typing import IO

import numpy as np

from ..files import atomic_write
from ..skeleton import H36M

_J = {name: index for index, name in enumerate(H36M.joint_names)}
ANGLE_NAMES = (
    "left_knee_flexion", "right_knee_flexion", "left_hip_flexion", "right_hip_flexion",
    "left_elbow_flexion", "right_elbow_flexion", "left_shoulder_flexion", "right_shoulder_flexion",
    "trunk_lean_forward", "trunk_lean_sideways", "pelvis_rotation",
)
_UNSIGNED = {"left_knee_flexion", "right_knee_flexion", "left_elbow_flexion", "right_elbow_flexion"}
_UP = np.array([0.0, 1.0, 0.0])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...d,...d->...", a, b)


def _between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unsigned angle (degrees) between vectors a and b (..., 3)."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), _dot(a, b)))


def _point(joints: np.ndarray, name: str) -> np.ndarray:
    return joints[:, _J[name]]


def _body_axes(joints: np.ndarray, right: str, left: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lateral, trunk up, forward) unit vectors (F, 3) with lateral from ``right`` to ``left``."""
    lateral = _unit(_point(joints, left) - _point(joints, right))
    up = _point(joints, "thorax") - _point(joints, "pelvis")
    up = _unit(up - _dot(up, lateral)[:, None] * lateral)
    return lateral, up, np.cross(lateral, up)


def _sagittal(limb: np.ndarray, up: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Signed angle (degrees) of ``limb`` from down-the-trunk towards forward."""
    return np.degrees(np.arctan2(_dot(limb, forward), -_dot(limb, up)))


def joint_angles(joints: np.ndarray) -> dict[str, np.ndarray]:
    """Every angle of :data:`ANGLE_NAMES`, (F,) degrees, for one person's
    consecutive frames of (F, 17, 3) world joints (Y up)."""
    p = lambda name: _point(joints, name)  # noqa: E731
    out: dict[str, np.ndarray] = {}
    _, hip_up, hip_forward = _body_axes(joints, "right_hip", "left_hip")
    _, arm_up, arm_forward = _body_axes(joints, "right_shoulder", "left_shoulder")
    for side in ("left", "right"):
        thigh, shank = p(f"{side}_knee") - p(f"{side}_hip"), p(f"{side}_ankle") - p(f"{side}_knee")
        upper, fore = p(f"{side}_elbow") - p(f"{side}_shoulder"), p(f"{side}_wrist") - p(f"{side}_elbow")
        out[f"{side}_knee_flexion"] = _between(thigh, shank)
        out[f"{side}_elbow_flexion"] = _between(upper, fore)
        out[f"{side}_hip_flexion"] = _sagittal(thigh, hip_up, hip_forward)
        out[f"{side}_shoulder_flexion"] = _sagittal(upper, arm_up, arm_forward)
    trunk = p("thorax") - p("pelvis")
    lateral = p("left_hip") - p("right_hip")
    level_lateral = _unit(lateral - _dot(lateral, _UP)[:, None] * _UP)
    level_forward = np.cross(level_lateral, _UP)
    out["trunk_lean_forward"] = np.degrees(np.arctan2(_dot(trunk, level_forward), trunk @ _UP))
    out["trunk_lean_sideways"] = np.degrees(np.arctan2(_dot(trunk, level_lateral), trunk @ _UP))
    out["pelvis_rotation"] = np.degrees(np.arctan2(level_forward[:, 0], level_forward[:, 2]))
    for name in ANGLE_NAMES:
        if name not in _UNSIGNED:
            out[name] = np.degrees(np.unwrap(np.radians(out[name])))
    return {name: out[name] for name in ANGLE_NAMES}


def angles_header() -> list[str]:
    """frame, time_s, person_id, then every angle of :data:`ANGLE_NAMES` in degrees."""
    return ["frame", "time_s", "person_id", *ANGLE_NAMES]


def write_angles_csv(path: str | os.PathLike, frame: np.ndarray, time_s: np.ndarray, person_id: np.ndarray,
                     angles: np.ndarray) -> None:
    """Rows (R,) sorted by frame then person, ``angles`` (R, len(ANGLE_NAMES)) degrees."""
    table = np.column_stack([frame, time_s, person_id, angles])

    def write(f: IO[str]) -> None:
        csv.writer(f).writerow(angles_header())
        if len(table):
            np.savetxt(f, table, fmt=["%d", "%.4f", "%d"] + ["%.2f"] * len(ANGLE_NAMES), delimiter=",")

    atomic_write(path, write, binary=False)

"""Joints to files: one CSV row per frame and person, or the same as NumPy arrays.

Coordinates are metres, in camera space by default (x right, y down, z
forward from the camera: the Human3.6M camera convention the lifter was
trained in) or in the Y-up world frame (``formats.py`` decides), plus the
2D pixel position and detector confidence the 3D came from. Files are written
to a temporary name and renamed, so a failed run never leaves half a file.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from typing import IO

import numpy as np

from ..files import atomic_write
from ..skeleton import COCO17_NAMES, H36M
from ..tracks import Track

CSV_SUFFIXES = (".csv",)
NPZ_SUFFIXES = (".npz",)
_PER_JOINT = ("x", "y", "z", "u", "v", "score")
# After the joints: 1 where that foot is planted (world/contacts.py), else 0.
CONTACT_COLUMNS = ("right_foot_contact", "left_foot_contact")


@dataclass
class JointRows:
    """Everything exported, one row per (frame, person), sorted by frame then
    person: frame (R,), time_s (R,), person_id (R,), joints_3d (R, 17, 3)
    metres (camera space, unless ``formats.py`` moved them to the world
    frame), joints_2d (R, 17, 2) pixels, scores (R, 17), contacts (R, 2)
    planted feet (:data:`CONTACT_COLUMNS`; all False when not given)."""

    frame: np.ndarray
    time_s: np.ndarray
    person_id: np.ndarray
    joints_3d: np.ndarray
    joints_2d: np.ndarray
    scores: np.ndarray
    contacts: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.contacts is None:
            self.contacts = np.zeros((len(self.frame), len(CONTACT_COLUMNS)), bool)


def csv_header() -> list[str]:
    """frame, time_s, person_id, then per Human3.6M joint (in layout order)
    <joint>_x, _y, _z (metres), _u, _v (pixels), _score, then
    :data:`CONTACT_COLUMNS`."""
    return ["frame", "time_s", "person_id"] + [
        f"{joint}_{field}" for joint in H36M.joint_names for field in _PER_JOINT] + list(CONTACT_COLUMNS)


def write_csv(path: str | os.PathLike, rows: JointRows) -> None:
    """The CSV, formatted in bulk: 0.1 mm for metres, 0.01 px, 4-digit scores."""
    per_joint = np.concatenate([rows.joints_3d, rows.joints_2d, rows.scores[..., None]], axis=-1)
    body = per_joint.reshape(len(rows.frame), H36M.num_joints * len(_PER_JOINT))
    fmt = (["%d", "%.4f", "%d"] + ["%.4f", "%.4f", "%.4f", "%.2f", "%.2f", "%.4f"] * H36M.num_joints
           + ["%d"] * len(CONTACT_COLUMNS))
    table = np.column_stack([rows.frame, rows.time_s, rows.person_id, body, rows.contacts.astype(np.int64)])

    def write(f: IO[str]) -> None:
        csv.writer(f).writerow(csv_header())
        if len(table):
            np.savetxt(f, table, fmt=fmt, delimiter=",")

    atomic_write(path, write, binary=False)


def _rows_of(arrays: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    return np.concatenate(arrays) if arrays else empty


def write_npz(path: str | os.PathLike, rows: JointRows, raw_tracks: list[Track], fps: float,
              focal: float, axes: str = "camera", camera: dict | None = None) -> None:
    """The CSV's arrays plus the raw tracker output (COCO-17 keypoints as
    detected, before conversion and gap filling) as flat rows ``raw_*``, so
    nothing needs pickling to read it back (``np.load`` without allow_pickle).

    ``contacts`` (R, 2) bools are the planted feet (``contact_names``).
    ``axes`` ("camera" or "world") names the axes of ``joints_3d``; ``camera``
    (``outputs.camera_pose``) adds the camera's pose in the world frame:
    ``camera_position`` (3,), ``camera_rotation`` (3, 3), ``image_size``,
    ``ground_method``, ``ground_normal`` and ``ground_offset`` (camera axes).
    """
    joints = len(COCO17_NAMES)
    extra = {} if camera is None else dict(
        camera_position=np.array(camera["camera_position"]), camera_rotation=np.array(camera["camera_rotation"]),
        image_size=np.array(camera["image_size"]), ground_method=np.array(camera["ground_method"]),
        ground_normal=np.array(camera["ground_normal_in_camera"]),
        ground_offset=np.float64(camera["ground_offset_in_camera"]))
    arrays = dict(axes=np.array(axes), **extra,
        frame=rows.frame, time_s=rows.time_s, person_id=rows.person_id,
        joints_3d=rows.joints_3d, joints_2d=rows.joints_2d, scores=rows.scores, contacts=rows.contacts,
        contact_names=np.array(CONTACT_COLUMNS),
        joint_names=np.array(H36M.joint_names), fps=np.float64(fps), focal=np.float64(focal),
        raw_frame=_rows_of([t.frames for t in raw_tracks], np.zeros(0, np.int64)),
        raw_person_id=_rows_of([np.full(len(t), t.person_id) for t in raw_tracks], np.zeros(0, np.int64)),
        raw_keypoints=_rows_of([t.keypoints for t in raw_tracks], np.zeros((0, joints, 2), np.float32)),
        raw_scores=_rows_of([t.scores for t in raw_tracks], np.zeros((0, joints), np.float32)),
        raw_joint_names=np.array(COCO17_NAMES),
    )
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))

"""Which files a run writes besides its video, their axes, and writing them all.

CSV and NPZ default to camera axes (as before the world frame existed, so
existing readers keep working); BVH, TRC, C3D default to the Y-up world
frame of ``world/frame.py`` (what animation and biomechanics tools expect);
``frame`` = "camera" or "world" puts all of them in one. Joint angles are
always measured in the world frame (lean and pelvis rotation need "up").
Whenever something is written in world axes, a JSON sidecar beside the video
(``<video>.camera.json``) says where the camera is in that frame.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from ..files import DemoError, atomic_write, check_output_path
from ..skeleton import H36M
from ..tracks import Track
from ..world.frame import WorldFrame
from .angles import ANGLE_NAMES, joint_angles, write_angles_csv
from .bvh import motion_from_joints, person_paths, write_bvh
from .joints import CSV_SUFFIXES, NPZ_SUFFIXES, JointRows, write_csv, write_npz
from .markers import write_c3d, write_trc

FRAMES = ("camera", "world")
# Export -> (accepted suffixes, the name given after an input's stem, axes by default).
FORMATS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "csv": (CSV_SUFFIXES, ".csv", "camera"),
    "npz": (NPZ_SUFFIXES, ".npz", "camera"),
    "bvh": ((".bvh",), ".bvh", "world"),
    "trc": ((".trc",), ".trc", "world"),
    "c3d": ((".c3d",), ".c3d", "world"),
    "angles": (CSV_SUFFIXES, "_angles.csv", "world"),
}
PER_PERSON = ("bvh", "trc", "c3d")  # one file per person: <name>_<ID><suffix>
CAMERA_JSON_SUFFIX = ".camera.json"
WORLD_AXES = {
    "x": "level, to the right as the camera sees it",
    "y": "up, against gravity (the ground's normal)",
    "z": "level, towards the camera (its viewing direction on the ground, reversed)",
}
CAMERA_AXES = {"x": "right in the image", "y": "down in the image", "z": "forward, along the viewing direction"}


class PersonLike(Protocol):
    person_id: int
    frames: np.ndarray

    @property
    def joints_3d(self) -> np.ndarray: ...


@dataclass
class Exports:
    """Paths of the requested exports (None: not written); per-person formats
    are a base name (``out.bvh`` -> ``out_<ID>.bvh``). ``frame``: None for
    each format's default axes (:data:`FORMATS`), or "camera" / "world"."""

    csv: Path | None = None
    npz: Path | None = None
    bvh: Path | None = None
    trc: Path | None = None
    c3d: Path | None = None
    angles: Path | None = None
    frame: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "frame" and value is not None:
                setattr(self, f.name, Path(value))
        if self.frame is not None and self.frame not in FRAMES:
            raise DemoError(f"--frame {self.frame}", f"must be {' or '.join(FRAMES)}")

    @staticmethod
    def named_after(stem: Path, formats: Sequence[str], frame: str | None = None) -> "Exports":
        """The exports of ``formats`` named after ``stem`` (a path without
        suffix): ``clip`` -> ``clip.csv``, ``clip_angles.csv``, ``clip.bvh``..."""
        return Exports(**{name: stem.with_name(stem.name + FORMATS[name][1]) for name in formats}, frame=frame)

    @staticmethod
    def from_options(values: dict[str, Path | bool | None], stem: Path, frame: str | None = None) -> "Exports":
        """From the command line's values per format: a path, True (named
        after ``stem``, see :meth:`named_after`) or None (not written)."""
        named = Exports.named_after(stem, [name for name, value in values.items() if value is True], frame)
        return replace(named, **{name: value for name, value in values.items() if isinstance(value, Path)})

    def requested(self) -> dict[str, Path]:
        return {name: getattr(self, name) for name in FORMATS if getattr(self, name) is not None}

    def axes(self, name: str) -> str:
        """"camera" or "world": the axes export ``name`` is written in."""
        return "world" if name == "angles" else self.frame or FORMATS[name][2]

    def camera_json(self, video_out: Path) -> Path | None:
        """The sidecar beside the video, when anything is written in world axes."""
        if any(self.axes(name) == "world" for name in self.requested()):
            return video_out.with_name(video_out.stem + CAMERA_JSON_SUFFIX)
        return None

    def check(self, video: Path, out: Path) -> None:
        """Fail before any slow work on a bad extension, folder or a name
        clash with the input or another output."""
        seen = {video.resolve()}
        named = [(out, (".mp4",))] + [(path, FORMATS[name][0]) for name, path in self.requested().items()]
        sidecar = self.camera_json(out)
        if sidecar is not None:
            named.append((sidecar, (".json",)))
        for path, suffixes in named:
            check_output_path(path, suffixes)
            if path.resolve() in seen:
                raise DemoError(path, "would overwrite the input or another output; choose another name")
            seen.add(path.resolve())


def contact_timeline(people: Sequence[PersonLike], num_frames: int) -> dict[int, np.ndarray]:
    """Person ID -> (num_frames, 2) planted feet on the video's frames (False
    where that person is not tracked, or has no contacts)."""
    out: dict[int, np.ndarray] = {}
    for person in people:
        planted = out.setdefault(person.person_id, np.zeros((num_frames, 2), bool))
        contacts = getattr(person, "contacts", None)
        if contacts is not None:
            planted[person.frames] = contacts
    return out


def person_timeline(people: Sequence[PersonLike], num_frames: int) -> dict[int, np.ndarray]:
    """Person ID -> (num_frames, 17, 3) camera-space joints on the video's
    frames, NaN where that person is not tracked (segments of one ID merged)."""
    out: dict[int, np.ndarray] = {}
    for person in people:
        joints = out.setdefault(person.person_id, np.full((num_frames, H36M.num_joints, 3), np.nan))
        joints[person.frames] = person.joints_3d
    return dict(sorted(out.items()))


def camera_pose(world: WorldFrame, focal: float, width: int, height: int) -> dict:
    """The camera in the world frame, as written to the JSON sidecar and the NPZ."""
    return {
        "units": "metres",
        "world_axes": WORLD_AXES,
        "origin": "on the ground under the first person's pelvis in their first frame",
        "camera_position": world.camera_position.round(6).tolist(),
        "camera_rotation": world.camera_rotation.round(9).tolist(),
        "camera_rotation_columns": "the camera's x (image right), y (image down), z (viewing direction) "
                                   "in world axes; world = camera_rotation @ camera + camera_position",
        "focal_px": float(focal),
        "image_size": [int(width), int(height)],
        "principal_point": [width / 2, height / 2],
        "ground_method": world.ground.method,
        "ground_normal_in_camera": world.ground.normal.round(9).tolist(),
        "ground_offset_in_camera": round(float(world.ground.offset), 6),
    }


def _in_axes(points: np.ndarray, axes: str, world: WorldFrame) -> np.ndarray:
    return world.to_world(points) if axes == "world" else np.asarray(points, np.float32)


def write_exports(exports: Exports, video_out: Path, rows: JointRows, people: Sequence[PersonLike],
                  raw_tracks: list[Track], num_frames: int, fps: float, focal: float, size: tuple[int, int],
                  world: WorldFrame) -> list[Path]:
    """Write every requested export (and the camera sidecar); returns the
    files written. If one fails, those already written are removed."""
    written: list[Path] = []
    try:
        _write_all(exports, video_out, rows, people, raw_tracks, num_frames, fps, focal, size, world, written)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def _write_all(exports: Exports, video_out: Path, rows: JointRows, people: Sequence[PersonLike],
               raw_tracks: list[Track], num_frames: int, fps: float, focal: float, size: tuple[int, int],
               world: WorldFrame, written: list[Path]) -> None:
    pose = camera_pose(world, focal, *size)
    if exports.csv is not None:
        write_csv(exports.csv, replace(rows, joints_3d=_in_axes(rows.joints_3d, exports.axes("csv"), world)))
        written.append(exports.csv)
    if exports.npz is not None:
        npz_rows = replace(rows, joints_3d=_in_axes(rows.joints_3d, exports.axes("npz"), world))
        write_npz(exports.npz, npz_rows, raw_tracks, fps, focal, axes=exports.axes("npz"), camera=pose)
        written.append(exports.npz)
    timelines = person_timeline(people, num_frames)
    contacts = contact_timeline(people, num_frames)
    for name in PER_PERSON:
        base = getattr(exports, name)
        if base is None:
            continue
        for pid, path in person_paths(base, list(timelines)).items():
            joints = _in_axes(timelines[pid], exports.axes(name), world)
            tracked = np.flatnonzero(np.isfinite(joints).all(axis=(1, 2)))
            if name == "bvh":
                write_bvh(path, motion_from_joints(joints, fps))
            elif name == "trc":
                write_trc(path, tracked, joints[tracked], fps)
            else:
                write_c3d(path, tracked, joints[tracked], fps, contacts[pid][tracked])
            written.append(Path(path))
    if exports.angles is not None:
        write_angles(exports.angles, timelines, fps, world)
        written.append(exports.angles)
    sidecar = exports.camera_json(video_out)
    if sidecar is not None:
        atomic_write(sidecar, lambda f: f.write(json.dumps(pose, indent=2) + "\n"), binary=False)
        written.append(sidecar)


def write_angles(path: Path, timelines: dict[int, np.ndarray], fps: float, world: WorldFrame) -> None:
    """The joint-angle CSV: one row per tracked frame and person, sorted by frame then person."""
    frame, person, values = [], [], []
    for pid, joints in timelines.items():
        tracked = np.flatnonzero(np.isfinite(joints).all(axis=(1, 2)))
        angles = joint_angles(world.to_world(joints[tracked]).astype(np.float64))
        frame.append(tracked)
        person.append(np.full(len(tracked), pid))
        values.append(np.column_stack([angles[name] for name in ANGLE_NAMES]))
    if frame:
        frame_a, person_a, values_a = np.concatenate(frame), np.concatenate(person), np.concatenate(values)
    else:
        frame_a, person_a, values_a = np.zeros(0, int), np.zeros(0, int), np.zeros((0, len(ANGLE_NAMES)))
    order = np.lexsort((person_a, frame_a))
    write_angles_csv(path, frame_a[order], frame_a[order] / fps, person_a[order], values_a[order])


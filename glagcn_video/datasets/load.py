"""Human3.6M and HumanEva-I in the VideoPose3D npz format.

Turns the world-space 3D file, a 2D keypoint file and the camera parameters
into per-(subject, action, camera) sequences of normalised 2D inputs and
camera-space, root-relative 3D targets, checking the user's files on the way
so that a wrong file fails with a message instead of a silent bad model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..camera import normalize_screen_coordinates, world_to_camera
from ..skeleton import H36M, H36M32_KEPT, HUMANEVA15, Layout

# Human3.6M's camera calibration ships with the package: its numbers are
# published constants of the dataset, so preparing the data needs no extra file.
H36M_CAMERAS = Path(__file__).with_name("h36m_cameras.json")


class DataError(ValueError):
    """A problem in the user's dataset files; the message names the file."""


@dataclass(frozen=True)
class Camera:
    id: str
    res_w: int
    res_h: int
    focal: np.ndarray
    center: np.ndarray
    radial: np.ndarray
    tangential: np.ndarray
    orientation: np.ndarray
    translation: np.ndarray  # metres, camera centre in world coordinates


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    layout: Layout
    fps: int
    train_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]
    file_3d: str
    cameras_file: str
    # The protocol's action prefixes (None: all), for train.py's default -a.
    actions: tuple[str, ...] | None = None
    # Image width in pixels: one pixel is 2 / image_width in normalised coordinates.
    image_width: int = 1000


DATASETS = {
    "h36m": DatasetInfo("h36m", H36M, 50, ("S1", "S5", "S6", "S7", "S8"), ("S9", "S11"),
                        "data_3d_h36m.npz", "cameras.json"),
    # The HumanEva-I protocol (VideoPose3D, GLA-GCN): train on Train/S1-S3, test on
    # Validate/S1-S3, actions Walk, Jog and Box only (Gestures and ThrowCatch left out).
    "humaneva15": DatasetInfo("humaneva15", HUMANEVA15, 60, ("Train/S1", "Train/S2", "Train/S3"),
                              ("Validate/S1", "Validate/S2", "Validate/S3"),
                              "data_3d_humaneva15.npz", "cameras_humaneva15.json",
                              actions=("Walk", "Jog", "Box"), image_width=640),
}
DATASET_ALIASES = {"humaneva": "humaneva15"}


def dataset_info(name: str) -> DatasetInfo:
    name = DATASET_ALIASES.get(name, name)
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def load_cameras(path: str | Path) -> dict[str, list[Camera]]:
    """Read camera parameters: ``intrinsics`` (one per camera, in the 2D files'
    camera order) and ``extrinsics`` (per subject, same order; translation in mm).

    ``intrinsics`` may also be a dict subject -> list, for datasets that
    calibrated every subject's session separately (HumanEva-I, see
    ``prepare_humaneva.py``); Human3.6M's single list is shared
    by all subjects.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
        cameras: dict[str, list[Camera]] = {}
        for subject, extrinsics in raw["extrinsics"].items():
            intrinsics = raw["intrinsics"]
            if isinstance(intrinsics, dict):
                if subject not in intrinsics:
                    raise DataError(f"{path}: no intrinsics for subject {subject} "
                                    f"(has {', '.join(sorted(intrinsics))})")
                intrinsics = intrinsics[subject]
            cameras[subject] = [
                Camera(id=str(intr["id"]), res_w=int(intr["res_w"]), res_h=int(intr["res_h"]),
                       focal=np.asarray(intr["focal_length"], np.float32),
                       center=np.asarray(intr["center"], np.float32),
                       radial=np.asarray(intr["radial_distortion"], np.float32),
                       tangential=np.asarray(intr["tangential_distortion"], np.float32),
                       orientation=np.asarray(extr["orientation"], np.float32),
                       translation=np.asarray(extr["translation"], np.float32) / 1000)
                for intr, extr in zip(intrinsics, extrinsics, strict=True)
            ]
    except FileNotFoundError:
        raise DataError(f"{path}: camera parameters not found") from None
    except DataError:
        raise
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: not a valid camera file ({type(exc).__name__}: {exc})") from None
    return cameras


def camera_for(cameras: Mapping[str, list[Camera]], subject: str) -> list[Camera]:
    """Cameras of a subject; HumanEva's 'Train/S1' uses the extrinsics of 'S1'."""
    for key in (subject, subject.split("/")[-1]):
        if key in cameras:
            return cameras[key]
    raise DataError(f"no camera extrinsics for subject {subject}")


def load_npz_dict(path: str | Path, key: str) -> dict:
    """The nested dict stored under ``key`` of a VideoPose3D-format npz file
    (``positions_3d``, ``positions_2d``); problems raise :class:`DataError`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=True) as data:
            if key not in data.files:
                raise DataError(f"{path}: no {key!r} array (has {', '.join(data.files)}); "
                                f"is it a VideoPose3D-format file?")
            return data[key].item()
    except DataError:  # a ValueError too, but already says what is wrong
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable npz file ({exc})") from None


def load_positions_3d(path: str | Path, dataset: str) -> dict[str, dict[str, np.ndarray]]:
    """World-space 3D, reduced to the dataset's joint layout (H3.6M: 32 -> 17 joints)."""
    info = dataset_info(dataset)
    path = Path(path)
    raw = load_npz_dict(path, "positions_3d")
    out: dict[str, dict[str, np.ndarray]] = {}
    for subject, actions in raw.items():
        out[subject] = {}
        for action, positions in actions.items():
            positions = np.asarray(positions, np.float32)
            if info.name == "h36m" and positions.shape[1:] == (32, 3):
                positions = positions[:, H36M32_KEPT]
            if positions.shape[1:] != (info.layout.num_joints, 3):
                raise DataError(f"{path}: {subject} {action} has shape {positions.shape}, "
                                f"expected (frames, {info.layout.num_joints}, 3)")
            if not np.isfinite(positions).all():
                raise DataError(f"{path}: {subject} {action} contains NaN or infinite values")
            out[subject][action] = positions
    return out


@dataclass
class Sequence:
    """One (subject, action, camera) clip: normalised 2D in, root-relative 3D out."""

    subject: str
    action: str
    camera: int
    poses_2d: np.ndarray  # (F, J, 2) normalised screen coordinates
    poses_3d: np.ndarray  # (F, J, 3) camera space, metres, joint 0 at the origin

    @property
    def action_group(self) -> str:
        """Sub-actions ('Walking 1') pool into their action ('Walking')."""
        return self.action.split(" ")[0]


@dataclass
class PoseDataset:
    info: DatasetInfo
    sequences: list[Sequence] = field(default_factory=list)

    def select(self, subjects: Iterable[str], actions: Iterable[str] | None = None) -> list[Sequence]:
        """Sequences of these subjects whose action starts with one of ``actions`` (all if None)."""
        subjects = set(subjects)
        actions = list(actions) if actions is not None else None
        return [s for s in self.sequences if s.subject in subjects
                and (actions is None or any(s.action.startswith(a) for a in actions))]


def load_dataset(dataset: str, data_dir: str | Path, keypoints: str = "gt",
                 subjects: Iterable[str] | None = None) -> PoseDataset:
    """Build every sequence of ``subjects`` (default: train and test subjects).

    The 2D file is ``data_2d_<dataset>_<keypoints>.npz``; a detection file
    holding more frames than the 3D data is trimmed to the 3D length, one
    holding fewer is an error.
    """
    info = dataset_info(dataset)
    data_dir = Path(data_dir)
    cameras_path = data_dir / info.cameras_file
    if info.name == "humaneva15" and not cameras_path.is_file():
        raise DataError(f"{cameras_path}: camera parameters not found; HumanEva-I's npz files carry "
                        f"none: fit them with 'python data/prepare_data_humaneva.py --from-npz DIR "
                        f"--output-dir {data_dir}' (DIR: the folder with the two npz files)")
    if info.name == "h36m" and not cameras_path.is_file():
        cameras_path = H36M_CAMERAS  # the published constants; a prepared folder has its own copy
    positions = load_positions_3d(data_dir / info.file_3d, info.name)
    cameras = load_cameras(cameras_path)
    path_2d = data_dir / f"data_2d_{info.name}_{keypoints}.npz"
    keypoints_2d = load_npz_dict(path_2d, "positions_2d")
    wanted = list(subjects) if subjects is not None else [*info.train_subjects, *info.test_subjects]

    dataset_out = PoseDataset(info)
    for subject in wanted:
        if subject not in positions:
            raise DataError(f"{data_dir / info.file_3d}: no subject {subject} "
                            f"(has {', '.join(sorted(positions))})")
        if subject not in keypoints_2d:
            raise DataError(f"{path_2d}: no subject {subject} (has {', '.join(sorted(keypoints_2d))})")
        subject_cameras = camera_for(cameras, subject)
        for action, world in positions[subject].items():
            if action not in keypoints_2d[subject]:
                raise DataError(f"{path_2d}: {subject} has no action {action!r}")
            views = keypoints_2d[subject][action]
            if len(views) != len(subject_cameras):
                raise DataError(f"{path_2d}: {subject} {action} has {len(views)} cameras, "
                                f"expected {len(subject_cameras)}")
            for cam_index, (cam, kp) in enumerate(zip(subject_cameras, views)):
                dataset_out.sequences.append(
                    _make_sequence(path_2d, subject, action, cam_index, cam, world, kp, info.layout))
    return dataset_out


def _make_sequence(path_2d: Path, subject: str, action: str, cam_index: int, cam: Camera,
                   world: np.ndarray, kp: np.ndarray, layout: Layout) -> Sequence:
    where = f"{path_2d}: {subject} {action} camera {cam_index}"
    kp = np.asarray(kp, np.float32)
    if kp.ndim != 3 or kp.shape[1:] != (layout.num_joints, 2):
        raise DataError(f"{where}: 2D shape {kp.shape}, expected (frames, {layout.num_joints}, 2)")
    if kp.shape[0] < world.shape[0]:
        raise DataError(f"{where}: 2D has {kp.shape[0]} frames but 3D has {world.shape[0]}")
    kp = kp[:world.shape[0]]
    if not np.isfinite(kp).all():
        raise DataError(f"{where}: 2D keypoints contain NaN or infinite values")
    cam_space = world_to_camera(world, cam.orientation, cam.translation)
    root_relative = cam_space - cam_space[:, :1]
    return Sequence(subject, action, cam_index,
                    normalize_screen_coordinates(kp, cam.res_w, cam.res_h).astype(np.float32),
                    root_relative.astype(np.float32))

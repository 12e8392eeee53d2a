"""Data preparation for Human3.6M: the 3D npz from the public h5 release, and
the ground-truth 2D npz projected from the 3D with the dataset's cameras."""

from __future__ import annotations

import io
import re
import shutil
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..camera import project_to_2d, world_to_camera
from ..files import atomic_write
from ..skeleton import H36M
from .load import DataError, load_cameras, load_positions_3d

SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
_H5_PATH = re.compile(r"(?:^|/)(S\d+)/MyPoses/3D_positions/([^/]+)\.h5$")


def canonical_action(subject: str, action: str) -> str | None:
    """VideoPose3D's action names; None for the one sequence it discards."""
    if subject == "S11" and action == "Directions":
        return None  # corrupt video in the dataset
    return action.replace("TakingPhoto", "Photo").replace("WalkingDog", "WalkDog")


def _archive_members(source: Path) -> Iterator[tuple[str, str, bytes]]:
    """(subject, file action name, h5 bytes) for every 3D_positions file."""
    if source.is_dir():
        for path in sorted(source.rglob("*.h5")):
            match = _H5_PATH.search(path.as_posix())
            if match:
                yield match[1], match[2], path.read_bytes()
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            for name in sorted(archive.namelist()):
                match = _H5_PATH.search(name)
                if match:
                    yield match[1], match[2], archive.read(name)
    else:
        raise DataError(f"{source}: neither a folder nor a zip archive")


def positions_from_archive(source: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Read ``S*/MyPoses/3D_positions/*.h5`` (32 joints x 3, mm) into metres.

    Unreadable or missing sequences are reported with a warning and skipped,
    since the public release is known to lack a few.
    """
    import h5py

    source = Path(source)
    if not source.exists():
        raise DataError(f"{source}: not found")
    positions: dict[str, dict[str, np.ndarray]] = {}
    for subject, action, payload in _archive_members(source):
        name = canonical_action(subject, action)
        if subject not in SUBJECTS or name is None:
            continue
        try:
            with h5py.File(io.BytesIO(payload), "r") as f:
                raw = np.asarray(f["3D_positions"], np.float32)
            poses = raw.reshape(32, 3, -1).transpose(2, 0, 1) / 1000
        except (OSError, KeyError, ValueError) as exc:
            warnings.warn(f"{source}: skipping {subject}/{action}.h5 ({exc})", stacklevel=2)
            continue
        positions.setdefault(subject, {})[name] = poses.astype(np.float32)
    missing = [s for s in SUBJECTS if s not in positions]
    if len(missing) == len(SUBJECTS):
        raise DataError(f"{source}: no S*/MyPoses/3D_positions/*.h5 files found")
    for subject in missing:
        warnings.warn(f"{source}: no sequences for subject {subject}", stacklevel=2)
    return positions


def ground_truth_2d(positions: dict[str, dict[str, np.ndarray]],
                    cameras_path: str | Path) -> dict[str, dict[str, list[np.ndarray]]]:
    """Project every sequence (17 joints) into every camera of its subject, in pixels."""
    cameras = load_cameras(cameras_path)
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in positions.items():
        if subject not in cameras:
            raise DataError(f"{cameras_path}: no extrinsics for subject {subject}")
        out[subject] = {}
        for action, world in actions.items():
            out[subject][action] = [
                project_to_2d(world_to_camera(world, cam.orientation, cam.translation),
                              cam.focal, cam.center, cam.radial, cam.tangential).astype(np.float32)
                for cam in cameras[subject]
            ]
    return out


def _save_npz(path: Path, **arrays: object) -> None:
    def write(f) -> None:
        np.savez_compressed(f, **arrays)
    atomic_write(path, write)


def prepare(output_dir: str | Path, cameras_path: str | Path, from_3d: str | Path | None = None,
            from_archive: str | Path | None = None) -> list[Path]:
    """Write ``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz`` and ``cameras.json`` into ``output_dir``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    out_3d = output_dir / "data_3d_h36m.npz"
    if from_archive is not None:
        raw = positions_from_archive(from_archive)
        _save_npz(out_3d, positions_3d=raw)
    elif from_3d is not None:
        if not Path(from_3d).is_file():
            raise DataError(f"{from_3d}: file not found")
        if Path(from_3d).resolve() != out_3d.resolve():
            shutil.copyfile(from_3d, out_3d)
    else:
        raise DataError("give --from-3d or --from-archive")
    positions = load_positions_3d(out_3d, "h36m")
    out_cameras = output_dir / "cameras.json"
    if Path(cameras_path).resolve() != out_cameras.resolve():
        load_cameras(cameras_path)  # validate before copying
        shutil.copyfile(cameras_path, out_cameras)
    metadata = {"layout_name": "h36m", "num_joints": H36M.num_joints,
                "keypoints_symmetry": [list(H36M.joints_left), list(H36M.joints_right)]}
    out_2d = output_dir / "data_2d_h36m_gt.npz"
    _save_npz(out_2d, positions_2d=ground_truth_2d(positions, out_cameras), metadata=metadata)
    return [out_3d, out_2d, out_cameras]


def run_preparation(job: Callable[[], list[Path]]) -> int:
    """The data/prepare_data_*.py scripts' exit: run ``job``, print what it
    wrote, or one ``error: <file>: <problem>`` line and exit code 1."""
    warnings.formatwarning = lambda message, *_: f"warning: {message}\n"
    try:
        written = job()
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. an output folder that cannot be written
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0

"""Data preparation for HumanEva-I: the VideoPose3D-format npz files plus the
camera parameters they lack, fitted from their own 2D/3D correspondences.

The public ``data_3d_humaneva15.npz`` (world 3D, metres) and
``data_2d_humaneva15_gt.npz`` (ground-truth 2D, pixels) were made by
projecting the mocap with each subject's calibrated cameras, but carry no
camera parameters, which training needs to turn world 3D into camera-space
targets. HumanEva calibrated every subject's session separately, so each
(subject, camera) gets its own fit (:func:`calibrate.fit_camera`) from all
frames of both splits (``Train/S1`` and ``Validate/S1`` are parts of the same
recording: one camera set). The result is written in the Human3.6M
``cameras.json`` format with per-subject intrinsics (see
:func:`load.load_cameras`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..files import atomic_write
from .calibrate import FittedCamera, fit_camera, reprojection_errors
from .load import DataError, load_npz_dict, load_positions_3d

FILE_3D = "data_3d_humaneva15.npz"
FILE_2D = "data_2d_humaneva15_gt.npz"
CAMERAS_FILE = "cameras_humaneva15.json"
IMAGE_SIZE = (640, 480)  # HumanEva-I's colour cameras C1-C3
CAMERA_IDS = ("C1", "C2", "C3")  # the 2D files' camera order
FPS = 60

ABOUT = (
    "HumanEva-I camera parameters fitted by data/prepare_data_humaneva.py to the 2D/3D "
    "correspondences of data_2d_humaneva15_gt.npz and data_3d_humaneva15.npz (DLT, then "
    "cv2.calibrateCamera with k1, k2 radial distortion, zero tangential distortion, k3 = 0). "
    "Same format as Human3.6M's cameras.json except that 'intrinsics' is per subject "
    "(HumanEva calibrated each subject's session separately); subjects S1-S3 serve both "
    "Train/Sn and Validate/Sn. translation = camera centre in world coordinates, mm; "
    "orientation = unit quaternion (w, x, y, z) rotating camera axes into world axes. "
    "'reprojection_px' is each fit's median and maximum error over its points."
)


def correspondences(positions: dict[str, dict[str, np.ndarray]],
                    keypoints: dict[str, dict[str, list[np.ndarray]]],
                    path_2d: str | Path = FILE_2D, frame_step: int = 1,
                    ) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per subject ('S1', pooling 'Train/S1' and 'Validate/S1'), per camera:
    (world points (N, 3), pixels (N, 2)) of every ``frame_step``-th frame.

    Checks that every 3D sequence has its 2D in every camera, with matching
    shapes, finite values, inside the image: a different file fails here
    instead of producing a silently wrong camera.
    """
    pooled: dict[str, list[tuple[list[np.ndarray], list[np.ndarray]]]] = {}
    for subject, actions in sorted(positions.items()):
        if subject not in keypoints:
            raise DataError(f"{path_2d}: no subject {subject} (has {', '.join(sorted(keypoints))})")
        person = subject.split("/")[-1]
        for action, world in actions.items():
            views = keypoints[subject].get(action)
            if views is None:
                raise DataError(f"{path_2d}: {subject} has no action {action!r}")
            if len(views) != len(CAMERA_IDS):
                raise DataError(f"{path_2d}: {subject} {action} has {len(views)} cameras, "
                                f"expected {len(CAMERA_IDS)}")
            cams = pooled.setdefault(person, [([], []) for _ in CAMERA_IDS])
            for index, view in enumerate(views):
                view = np.asarray(view, np.float64)
                where = f"{path_2d}: {subject} {action} camera {index}"
                if view.shape != world.shape[:2] + (2,):
                    raise DataError(f"{where}: 2D shape {view.shape}, expected {world.shape[:2] + (2,)}")
                if not np.isfinite(view).all():
                    raise DataError(f"{where}: 2D keypoints contain NaN or infinite values")
                if (view < 0).any() or (view > np.array(IMAGE_SIZE)).any():
                    raise DataError(f"{where}: 2D keypoints outside the {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} "
                                    f"image; not HumanEva-I ground truth?")
                cams[index][0].append(world[::frame_step].reshape(-1, 3))
                cams[index][1].append(view[::frame_step].reshape(-1, 2))
    return {person: [(np.concatenate(p), np.concatenate(x)) for p, x in cams]
            for person, cams in pooled.items()}


def fit_cameras(positions: dict[str, dict[str, np.ndarray]],
                keypoints: dict[str, dict[str, list[np.ndarray]]],
                path_2d: str | Path = FILE_2D, frame_step: int = 1,
                report: Callable[[str, int, FittedCamera], None] | None = None,
                ) -> dict[str, list[FittedCamera]]:
    """One :func:`calibrate.fit_camera` per subject and camera; ``report(subject,
    camera_index, camera)`` is called after each. The reported errors are over
    every frame, also when only every ``frame_step``-th frame was fitted (a
    faster fit, for tests)."""
    fitted: dict[str, list[FittedCamera]] = {}
    every = correspondences(positions, keypoints, path_2d) if frame_step > 1 else None
    for person, cams in correspondences(positions, keypoints, path_2d, frame_step).items():
        fitted[person] = []
        for index, (points, pixels) in enumerate(cams):
            camera = fit_camera(points, pixels, IMAGE_SIZE)
            if every is not None:
                errors = reprojection_errors(camera, *every[person][index])
                camera = FittedCamera(**{**camera.__dict__, "median_px": float(np.median(errors)),
                                         "max_px": float(errors.max())})
            fitted[person].append(camera)
            if report is not None:
                report(person, index, camera)
    return fitted


def cameras_json(fitted: dict[str, list[FittedCamera]]) -> dict:
    """The camera file's contents (translations converted from metres to mm)."""
    def intrinsics(index: int, cam: FittedCamera) -> dict:
        return {"id": CAMERA_IDS[index], "res_w": IMAGE_SIZE[0], "res_h": IMAGE_SIZE[1],
                "focal_length": cam.focal.tolist(), "center": cam.center.tolist(),
                "radial_distortion": cam.radial.tolist(), "tangential_distortion": [0.0, 0.0]}

    return {
        "about": ABOUT,
        "fps": FPS,
        "intrinsics": {p: [intrinsics(i, c) for i, c in enumerate(cams)] for p, cams in fitted.items()},
        "extrinsics": {p: [{"orientation": c.orientation.tolist(),
                            "translation": (1000 * c.translation).tolist()} for c in cams]
                       for p, cams in fitted.items()},
        "reprojection_px": {p: [{"median": round(c.median_px, 4), "max": round(c.max_px, 4)}
                                for c in cams] for p, cams in fitted.items()},
    }


def _copy(source: Path, target: Path) -> None:
    if target.exists() and target.resolve() == source.resolve():
        return
    with source.open("rb") as src:
        atomic_write(target, lambda f: shutil.copyfileobj(src, f))


def prepare_humaneva(source_dir: str | Path, output_dir: str | Path, frame_step: int = 1,
                     report: Callable[[str, int, FittedCamera], None] | None = None,
                     ) -> tuple[list[Path], dict[str, list[FittedCamera]]]:
    """Copy the two npz files from ``source_dir`` into ``output_dir`` (unless
    they are already there) and write ``cameras_humaneva15.json`` fitted to
    them. Everything is read and fitted before anything is written.
    ``report(subject, camera_index, camera)`` is called after each fit."""
    source_dir, output_dir = Path(source_dir), Path(output_dir)
    path_3d, path_2d = source_dir / FILE_3D, source_dir / FILE_2D
    positions = load_positions_3d(path_3d, "humaneva15")
    keypoints = load_npz_dict(path_2d, "positions_2d")
    fitted = fit_cameras(positions, keypoints, path_2d, frame_step, report)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in (path_3d, path_2d):
        _copy(path, output_dir / path.name)
        written.append(output_dir / path.name)
    out_cameras = output_dir / CAMERAS_FILE
    text = json.dumps(cameras_json(fitted), indent=1) + "\n"
    atomic_write(out_cameras, lambda f: f.write(text), binary=False)
    written.append(out_cameras)
    return written, fitted

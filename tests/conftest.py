"""Fixtures for the lifter, data and training tests.

Real data comes from the development share (``../shared`` beside the
repository, or ``$GLAGCN_SHARED``). A user's clone does not have it, so every
test that needs it skips with a clear reason when it is absent.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from glagcn_video.datasets.load import load_npz_dict

ROOT = Path(__file__).resolve().parent.parent

# The small Human3.6M set the data and training tests use: two subjects (one
# train, one test), two actions with their sub-actions, trimmed.
SMALL_SUBJECTS = ("S1", "S9")
SMALL_ACTIONS = ("Directions 1", "Directions", "Walking 1", "Walking")
SMALL_FRAMES = 400


def shared_dir() -> Path:
    """The development share: ``$GLAGCN_SHARED`` or ``ROOT/../shared``."""
    return Path(os.environ.get("GLAGCN_SHARED") or ROOT.parent / "shared")


def shared_path(relative: str) -> Path:
    """A file or folder of the development share, or skip the test."""
    path = shared_dir() / relative
    if not path.exists():
        pytest.skip(f"{path} not available: the development share ../shared is not in a user's clone "
                    f"(set GLAGCN_SHARED to point at it)")
    return path


def save_npz_dict(path: Path, **dicts: object) -> Path:
    np.savez_compressed(path, **{k: np.array(v, dtype=object) if isinstance(v, dict) else v
                                 for k, v in dicts.items()})
    return path


@pytest.fixture(autouse=True, scope="session")
def detector_cache(tmp_path_factory) -> Iterator[Path]:
    """Detectors exported for OpenVINO go to a folder of this test session, not
    the user's cache (the demo's subprocesses inherit it through the environment)."""
    folder = tmp_path_factory.mktemp("detector_cache")
    before = os.environ.get("GLAGCN_VIDEO_CACHE")
    os.environ["GLAGCN_VIDEO_CACHE"] = str(folder)
    yield folder
    if before is None:
        del os.environ["GLAGCN_VIDEO_CACHE"]
    else:
        os.environ["GLAGCN_VIDEO_CACHE"] = before


@pytest.fixture(scope="session")
def h36m_positions_32() -> dict[str, dict[str, np.ndarray]]:
    """The small set's world 3D, 32 joints in metres, straight from the shared file."""
    full = load_npz_dict(shared_path("h36m/data_3d_h36m.npz"), "positions_3d")
    return {s: {a: np.asarray(full[s][a][:SMALL_FRAMES], np.float32) for a in SMALL_ACTIONS}
            for s in SMALL_SUBJECTS}


@pytest.fixture(scope="session")
def cameras_json() -> Path:
    return shared_path("h36m/cameras.json")


@pytest.fixture(scope="session")
def h36m_small(tmp_path_factory, h36m_positions_32, cameras_json) -> Path:
    """A prepared data folder (3D, ground-truth 2D, cameras) of the small set,
    made with the project's own :func:`prepare`. Treat it as read-only."""
    from glagcn_video.datasets.prepare_h36m import prepare

    folder = tmp_path_factory.mktemp("h36m_small")
    save_npz_dict(folder / "data_3d_h36m.npz", positions_3d=h36m_positions_32)
    prepare(folder, cameras_json, from_3d=folder / "data_3d_h36m.npz")
    return folder


@pytest.fixture
def h36m_copy(tmp_path, h36m_small) -> Path:
    """A writable copy of the small prepared set, for tests that break files."""
    folder = tmp_path / "data"
    shutil.copytree(h36m_small, folder)
    return folder


def camera_params(cameras_path: Path, subject: str, index: int) -> dict:
    """Raw camera parameters from the JSON file, independent of the code under test."""
    raw = json.loads(Path(cameras_path).read_text())
    return {**raw["intrinsics"][index], **raw["extrinsics"][subject][index]}

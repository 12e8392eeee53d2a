"""Rendering speed: our OpenCV renderer against the usual matplotlib mplot3d approach.

Both draw the same frames: two synthetic people walking in place at different
depths, projected into a 1280x720 frame (the 2D overlay) and shown in a 3D
panel beside it. Only the 3D panel differs: ours is ``Panel3D`` (the demo's
default scene layout: a following virtual camera, a per-frame 1 m ground
grid, a row of per-person views); the
baseline is a reused mplot3d figure whose line data is updated each frame and
rasterised with ``fig.canvas.draw()`` + ``buffer_rgba()``, as demo scripts do.
The 2D overlay and the composition are our OpenCV code in both, so the
baseline is, if anything, flattered. Each repetition times every frame's
drawing (not the copy of the input frame, which the pipeline has anyway);
the median over repetitions is reported.

    nice .venv/bin/python benchmarks/bench_render.py [--frames 100] [--repeats 5]
        [--video VIDEO] [--save-frame render_check.png]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's glagcn_video, installed or not

from machine import cpu_model, usable_cores  # noqa: E402
from glagcn_video.view.render import draw_pose_2d, person_color, side_by_side  # noqa: E402
from glagcn_video.view.layouts import AZIMUTH_DEG, ELEVATION_DEG, Panel3D  # noqa: E402
from glagcn_video.world.tracks import WorldTrack  # noqa: E402
from glagcn_video.world.frame import estimate_world_frame  # noqa: E402
from glagcn_video.skeleton import H36M  # noqa: E402

FRAME_W, FRAME_H = 1280, 720
FOCAL = 1000.0  # pixels, a typical 1280x720 camera
GROUND_Y = 1.2  # the camera 1.2 m above the ground (camera y points down)

# A person standing upright facing the camera, pelvis at the origin, metres,
# camera axes (x right, y down, z forward): their left side is at +x.
REST_POSE = np.array([
    [0.00, 0.00, 0.00],    # pelvis
    [-0.13, 0.00, 0.00],   # right_hip
    [-0.14, 0.45, 0.02],   # right_knee
    [-0.15, 0.88, 0.05],   # right_ankle
    [0.13, 0.00, 0.00],    # left_hip
    [0.14, 0.45, 0.02],    # left_knee
    [0.15, 0.88, 0.05],    # left_ankle
    [0.00, -0.23, 0.02],   # spine
    [0.00, -0.48, 0.00],   # thorax
    [0.00, -0.57, -0.06],  # neck (nose)
    [0.00, -0.70, -0.02],  # head
    [0.18, -0.46, 0.00],   # left_shoulder
    [0.22, -0.20, 0.02],   # left_elbow
    [0.24, 0.04, -0.03],   # left_wrist
    [-0.18, -0.46, 0.00],  # right_shoulder
    [-0.22, -0.20, 0.02],  # right_elbow
    [-0.24, 0.04, -0.03],  # right_wrist
])
# Limb chains swung forward/back about their first joint, with their phase.
SWINGS = (((1, 2, 3), 1.0), ((4, 5, 6), -1.0), ((11, 12, 13), 1.0), ((14, 15, 16), -1.0))


def _rotation_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rotation_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def synthetic_people(
    frames: int, people: int = 2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walking-in-place people: poses (F, P, 17, 3) m, keypoints (F, P, 17, 2) px, scores (F, P, 17)."""
    rng = np.random.default_rng(seed)
    poses = np.empty((frames, people, 17, 3))
    for f in range(frames):
        for p in range(people):
            pose = REST_POSE.copy()
            phase = 2 * np.pi * f / 36 + p
            for chain, sign in SWINGS:
                pivot = pose[chain[0]].copy()
                swing = _rotation_x(0.45 * sign * np.sin(phase))
                pose[list(chain)] = (pose[list(chain)] - pivot) @ swing.T + pivot
            pose = pose @ _rotation_y(0.4 * np.sin(2 * np.pi * f / 90 + p)).T
            sway = 0.2 * np.sin(f / 30)
            root = np.array([(p - (people - 1) / 2) * 1.4 + sway, GROUND_Y - 0.93, 4.0 + 1.2 * p])
            poses[f, p] = pose + root
    keypoints = FOCAL * poses[..., :2] / poses[..., 2:] + np.array([FRAME_W / 2, FRAME_H / 2])
    scores = rng.uniform(0.5, 1.0, size=poses.shape[:3])
    scores[rng.random(scores.shape) < 0.05] = 0.1  # the odd missed joint, as detectors give
    return poses, keypoints, scores


def background_frame(video: Path | None) -> np.ndarray:
    """The middle frame of ``video`` resized to 1280x720, or a plain grey frame."""
    if video is None:
        return np.full((FRAME_H, FRAME_W, 3), 110, dtype=np.uint8)
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, capture.get(cv2.CAP_PROP_FRAME_COUNT) // 2)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"could not read a frame from {video}")
    return cv2.resize(frame, (FRAME_W, FRAME_H))


class MatplotlibPanel:
    """The baseline: one reused mplot3d figure, same viewpoint, bones as Line3D objects."""

    def __init__(self, width: int, height: int, all_poses: np.ndarray, people: int) -> None:
        dpi = 100
        self.figure = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        self.axes = self.figure.add_subplot(projection="3d")
        # mplot3d is z-up: plot (x, z, -y) so people stand upright.
        flat = all_poses.reshape(-1, 3)
        ground = flat[:, 1].max()
        self.axes.set_xlim(flat[:, 0].min() - 0.5, flat[:, 0].max() + 0.5)
        self.axes.set_ylim(flat[:, 2].min() - 0.5, flat[:, 2].max() + 0.5)
        self.axes.set_zlim(-ground, -flat[:, 1].min() + 0.2)
        self.axes.view_init(elev=ELEVATION_DEG, azim=-90 - AZIMUTH_DEG)
        (x0, z0), (x1, z1) = flat[:, [0, 2]].min(axis=0), flat[:, [0, 2]].max(axis=0)
        for x in np.arange(np.floor(x0), np.ceil(x1) + 0.25, 0.5):
            self.axes.plot([x, x], [z0, z1], [-ground, -ground], color="0.6", lw=0.5)
        for z in np.arange(np.floor(z0), np.ceil(z1) + 0.25, 0.5):
            self.axes.plot([x0, x1], [z, z], [-ground, -ground], color="0.6", lw=0.5)
        self.bones = [(c, p) for c, p in enumerate(H36M.parents) if p >= 0]
        left, right = set(H36M.joints_left), set(H36M.joints_right)
        self.lines = []
        for person in range(people):
            light, dark = person_color(person)
            for child, _ in self.bones:
                bgr = light if child in left else dark if child in right else (128, 128, 128)
                rgb = tuple(channel / 255 for channel in bgr[::-1])
                self.lines.append(self.axes.plot([0, 0], [0, 0], [0, 0], color=rgb, lw=3)[0])

    def render(self, poses: list[np.ndarray]) -> np.ndarray:
        lines = iter(self.lines)
        for pose in poses:
            for child, parent in self.bones:
                ends = pose[[child, parent]]
                next(lines).set_data_3d(ends[:, 0], ends[:, 2], -ends[:, 1])
        self.figure.canvas.draw()
        return cv2.cvtColor(np.asarray(self.figure.canvas.buffer_rgba()), cv2.COLOR_RGBA2BGR)


def draw_frame(
    frame: np.ndarray,
    index: int,
    keypoints: np.ndarray,
    scores: np.ndarray,
    panel: Callable[[int], np.ndarray],
) -> np.ndarray:
    """Output frame ``index``: every person's 2D overlay on ``frame`` (in place), then the panel beside it."""
    for person in range(len(keypoints)):
        draw_pose_2d(frame, keypoints[person], scores[person], person)
    return side_by_side(frame, panel(index))


def time_frames(
    background: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, panel: Callable[[int], np.ndarray]
) -> float:
    """Mean ms per frame of ``draw_frame`` over all frames, the input-frame copy excluded."""
    total = 0.0
    for f in range(len(keypoints)):
        frame = background.copy()
        start = time.perf_counter()
        draw_frame(frame, f, keypoints[f], scores[f], panel)
        total += time.perf_counter() - start
    return 1000 * total / len(keypoints)


def our_panel(poses: np.ndarray, width: int, fps: float = 30.0) -> Panel3D:
    """The demo's 3D panel for camera-space poses (F, P, 17, 3), through the world frame as the demo does."""
    tracks = [poses[:, person] for person in range(poses.shape[1])]
    world = estimate_world_frame(tracks)
    people = [WorldTrack(person, np.arange(len(poses)), world.to_world(track), float(len(poses)))
              for person, track in enumerate(tracks)]
    return Panel3D(width, FRAME_H, people, len(poses), fps)


def machine() -> str:
    model, usable = cpu_model(), usable_cores()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores ({usable} usable), load average {load}; "
        f"python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__}, "
        f"matplotlib {matplotlib.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--panel-width", type=int, default=FRAME_W, help="3D panel width (height is 720)")
    parser.add_argument("--video", type=Path, help="take the background frame from this video")
    parser.add_argument("--save-frame", type=Path, help="write our middle side-by-side frame as an image")
    args = parser.parse_args()

    poses, keypoints, scores = synthetic_people(args.frames)
    background = background_frame(args.video)
    start = time.perf_counter()
    view = our_panel(poses, args.panel_width)
    plan_ms = 1000 * (time.perf_counter() - start)
    baseline = MatplotlibPanel(args.panel_width, FRAME_H, poses, poses.shape[1])

    ours, theirs = [], []
    for _ in range(args.repeats):
        ours.append(time_frames(background, keypoints, scores, view.render))
        theirs.append(time_frames(background, keypoints, scores, lambda f: baseline.render(list(poses[f]))))
    ours_ms, theirs_ms = statistics.median(ours), statistics.median(theirs)

    print(f"machine: {machine()}")
    print(
        f"{args.frames} frames x {args.repeats} repetitions, 2 people, {FRAME_W}x{FRAME_H} frame + "
        f"{args.panel_width}x{FRAME_H} 3D panel (2D overlay + 3D panel + side-by-side)"
    )
    for name, runs, median in (("opencv renderer", ours, ours_ms), ("matplotlib baseline", theirs, theirs_ms)):
        print(f"{name:19}: {median:7.2f} ms/frame  (repetitions: {', '.join(f'{x:.2f}' for x in runs)})")
    print(f"speed-up: {theirs_ms / ours_ms:.1f}x")
    print(f"planning the camera path once per video: {plan_ms:.1f} ms for {args.frames} frames")

    if args.save_frame:
        middle = args.frames // 2
        out = draw_frame(background.copy(), middle, keypoints[middle], scores[middle], view.render)
        cv2.imwrite(str(args.save_frame), out)
        print(f"wrote {args.save_frame}")


if __name__ == "__main__":
    main()

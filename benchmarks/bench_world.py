"""People in the world: where the demo puts them, against motion capture and on real clips.

    nice .venv/bin/python benchmarks/bench_world.py [--data-dir DIR] [--videos DIR]
        [--seconds 20] [--subjects S9,S11] [--max-sequences N] [--configs before,after]
        [--cache DIR] [--skip-h36m] [--skip-clips]

Configurations (``--configs``, comma-separated): ``before`` is the placement
this benchmark was written to replace (body size only, no filter, no foot
locking), ``after`` the demo's defaults (world.motion.WorldOptions());
others: ``ground`` (feet placement only), ``ground+lock``, ``ground+bw6``,
``ground+oe``, ``ground+bw4``, ``ground+bw8`` and each with ``+lock``.

(a) Human3.6M (``--data-dir``: the prepared npz files, docs/data.md): for
each S9/S11 sequence, one camera per sequence in turn, its first
``--seconds`` at 25 fps: the ground-truth 3D projected through that camera
(with its distortion) to 2D, clean and with 5 px Gaussian noise plus the
training's keypoint dropout (5%, dropped joints get score 0 and are filled
by the demo's cleaning), run through every stage after the detector
(keypoints.densify, lifting with the default lifter, placement, world frame,
contacts, filter, locking), compared with the ground truth in its world
frame (metres, z up). Figures, means over sequences:

* W-MPJPE: 100-frame segments, each aligned to the truth by the similarity
  transform (rotation, translation, scale; Umeyama) of its first two frames;
  WA-MPJPE: aligned by the whole segment's joints (WHAM's definitions);
  pelvis: the pelvis error within the WA alignment; all mm;
* sliding, penetration, acceleration as in (b); the same for the truth;
* contacts F1: world.contacts.foot_contacts on the output against the same
  rule on the truth (resampled to 25 fps);
* each at the dataset's focal (about 1146 px) and at the demo's default
  guess (the image diagonal, 1414 px).

(b) The clips (``--videos``, default ``../shared/videos``): the demo's 2D
stage once per clip, then each configuration; per person with at least 30
frames: median pelvis speed (horizontal, m/s), pelvis path / net
displacement (m), pelvis speed while the benchmark's rule has both ankles
planted (median, m/s), planted-ankle sliding (cm/s; an ankle is planted in a
frame pair when within 1.5 cm of that person's 10th-percentile ankle height
in both frames and moving less than 1 cm vertically), the share of frames
whose lowest ankle is more than 3 cm under the ground (y = 0), and the
median joint acceleration |x(t+1) - 2x(t) + x(t-1)| (cm/frame^2).
The world stage's time per clip and configuration is printed too.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the OpenMP runtime's start

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from machine import cpu_model, usable_cores  # noqa: E402

from glagcn_video.camera import project_to_2d, world_to_camera  # noqa: E402
from glagcn_video.datasets.load import camera_for, load_cameras, load_positions_3d  # noqa: E402
from glagcn_video.pipeline.keypoints import MAX_GAP_S, clean_tracks, densify  # noqa: E402
from glagcn_video.pipeline.runner import (  # noqa: E402
    DemoOptions, StageClock, lift_track, load_lifter, load_models, place_people, track_people)
from glagcn_video.lifter.inference import resolve_device  # noqa: E402
from glagcn_video.pipeline.track import PersonTracker  # noqa: E402
from glagcn_video.pipeline.video import VideoInfo, VideoReader  # noqa: E402
from glagcn_video.tracks import Track  # noqa: E402
from glagcn_video.world.contacts import foot_contacts  # noqa: E402
from glagcn_video.world.motion import WorldOptions  # noqa: E402
from glagcn_video.world.placement import default_focal, fit_translation, smooth_depth  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FPS = 25.0
H36M_FPS = 50
SEGMENT = 100
ANKLES = (3, 6)


def config(name: str) -> WorldOptions:
    """The world options a configuration name stands for (module docstring)."""
    if name == "before":
        return WorldOptions(placement="size", foot_lock=False, smooth="none")
    if name == "after":
        return WorldOptions()
    parts = name.split("+")
    if parts[0] not in ("ground", "size"):
        raise SystemExit(f"error: unknown configuration {name!r}")
    options = WorldOptions(placement=parts[0], foot_lock="lock" in parts, smooth="none")
    for part in parts[1:]:
        if part.startswith("bw"):
            options = dataclasses.replace(options, smooth="butterworth", smooth_hz=float(part[2:] or 6))
        elif part.startswith("oe"):
            options = dataclasses.replace(options, smooth="oneeuro", smooth_hz=float(part[2:] or 1))
    return options


# ---- figures -----------------------------------------------------------------------------------

def similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama: (s, R, t) minimising |s R source + t - target| over (N, 3) points."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    a, b = source - mu_s, target - mu_t
    u, d, vt = np.linalg.svd(b.T @ a / len(a))
    sign = np.eye(3)
    sign[2, 2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(d) @ sign) / max((a ** 2).sum() / len(a), 1e-12))
    return scale, rotation, mu_t - scale * rotation @ mu_s


def aligned(pred: np.ndarray, truth: np.ndarray, frames: slice) -> np.ndarray:
    scale, rotation, shift = similarity(pred[frames].reshape(-1, 3), truth[frames].reshape(-1, 3))
    return scale * pred @ rotation.T + shift


def world_errors(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """W-MPJPE, WA-MPJPE and the pelvis error (mm) over 100-frame segments, (F, J, 3) each."""
    w, wa, pelvis = [], [], []
    for start in range(0, len(pred) - SEGMENT + 1, SEGMENT):
        p, t = pred[start:start + SEGMENT], truth[start:start + SEGMENT]
        first = aligned(p, t, slice(0, 2))
        whole = aligned(p, t, slice(None))
        w.append(np.linalg.norm(first - t, axis=-1).mean())
        wa.append(np.linalg.norm(whole - t, axis=-1).mean())
        pelvis.append(np.linalg.norm(whole[:, 0] - t[:, 0], axis=-1).mean())
    return {"W-MPJPE": 1000 * float(np.mean(w)), "WA-MPJPE": 1000 * float(np.mean(wa)),
            "pelvis": 1000 * float(np.mean(pelvis))}


def planted_pairs(joints: np.ndarray) -> np.ndarray:
    """(F-1, 2): ankle planted in frame pair (t, t+1), the benchmark's rule (module docstring)."""
    height = joints[:, ANKLES, 1]
    floor = np.percentile(height, 10, axis=0)
    near = np.abs(height - floor) < 0.015
    return near[1:] & near[:-1] & (np.abs(np.diff(height, axis=0)) < 0.01)


def motion_figures(joints: np.ndarray, fps: float) -> dict[str, float]:
    """One person's world (Y-up) joints (F, J, 3) -> the figures of (b)."""
    pelvis = joints[:, 0][:, [0, 2]]
    step = np.linalg.norm(np.diff(pelvis, axis=0), axis=-1)
    planted = planted_pairs(joints)
    ankle_step = np.linalg.norm(np.diff(joints[:, ANKLES][..., [0, 2]], axis=0), axis=-1)
    both = planted.all(axis=1)
    accel = np.linalg.norm(joints[2:] - 2 * joints[1:-1] + joints[:-2], axis=-1)
    return {
        "speed": float(np.median(step) * fps),
        "path": float(step.sum()),
        "net": float(np.linalg.norm(pelvis[-1] - pelvis[0])),
        "still": float(np.median(step[both]) * fps) if both.any() else float("nan"),
        "sliding": float(100 * ankle_step[planted].mean() * fps) if planted.any() else float("nan"),
        "under": float(100 * np.mean(joints[:, ANKLES, 1].min(axis=1) < -0.03)),
        "accel": float(100 * np.median(accel)),
    }


def f1(pred: np.ndarray, truth: np.ndarray) -> float:
    hits = (pred & truth).sum()
    return float(2 * hits / max(pred.sum() + truth.sum(), 1))


# ---- (a) Human3.6M -----------------------------------------------------------------------------

def h36m_sequences(data_dir: Path, subjects: list[str], seconds: float, limit: int | None):
    """(name, truth world z-up joints at 25 fps, camera) per sequence, one camera each in turn."""
    positions = load_positions_3d(data_dir / "data_3d_h36m.npz", "h36m")
    cameras = load_cameras(data_dir / "cameras.json")
    count = 0
    for subject in subjects:
        for action in sorted(positions[subject])[:limit]:
            camera = camera_for(cameras, subject)[count % 4]
            count += 1
            world = positions[subject][action][::H36M_FPS // int(FPS)][:int(seconds * FPS)]
            yield f"{subject} {action} cam{count % 4}", world.astype(np.float64), camera


def corrupt(keypoints: np.ndarray, rng: np.random.Generator, noise_px: float,
            drop: float) -> tuple[np.ndarray, np.ndarray]:
    """Noisy keypoints and scores: dropped joints get score 0 (the cleaning fills them)."""
    noisy = keypoints + rng.standard_normal(keypoints.shape) * noise_px
    scores = np.where(rng.random(keypoints.shape[:2]) < drop, 0.0, 1.0)
    return noisy.astype(np.float32), scores.astype(np.float32)


def run_h36m(args: argparse.Namespace, configs: list[str]) -> None:
    lifter = load_lifter(DemoOptions().checkpoint, resolve_device("cpu"), 128, True)
    rng = np.random.default_rng(0)
    rows: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    truth_rows: list[dict[str, float]] = []
    for name, world, camera in h36m_sequences(args.data_dir, args.subjects.split(","), args.seconds,
                                                   args.max_sequences):
        cam_space = world_to_camera(world, camera.orientation, camera.translation)
        pixels = project_to_2d(cam_space, camera.focal, camera.center, camera.radial, camera.tangential)
        truth_yup = world[..., [0, 2, 1]] * np.array([1, 1, -1])  # z up -> y up, right-handed
        truth_rows.append(motion_figures(truth_yup, FPS))
        truth_contacts = foot_contacts(truth_yup, FPS)
        info = VideoInfo(Path(name), camera.res_w, camera.res_h, FPS, len(world), False)
        for noise in ("clean", "5px"):
            keypoints, scores = ((pixels.astype(np.float32), np.ones(pixels.shape[:2], np.float32))
                                 if noise == "clean" else corrupt(pixels, rng, 5.0, 0.05))
            track = densify(Track(1, np.arange(len(world)), keypoints, scores), round(MAX_GAP_S * FPS))
            lifted = lift_track(track, lifter, info, float(camera.focal.mean()))
            for focal_name, focal in (("dataset", float(camera.focal.mean())),
                                      ("diagonal", default_focal(camera.res_w, camera.res_h))):
                # Lifting does not depend on the focal length; the body-size placement does.
                root = smooth_depth(fit_translation(lifted.poses_3d, track.keypoints, track.scores, focal,
                                                    (camera.res_w / 2, camera.res_h / 2)), FPS)
                person = dataclasses.replace(lifted, root=root)
                for name_config in configs:
                    wf, (placed,) = place_people([person], info, focal, config(name_config))
                    ours = wf.to_world(placed.joints_3d).astype(np.float64)
                    figures = world_errors(ours, world)
                    figures.update(motion_figures(ours, FPS))
                    figures["F1"] = f1(placed.contacts, truth_contacts)
                    rows.setdefault((noise, focal_name, name_config), []).append(figures)
        print(f"  {name}: {len(world)} frames", file=sys.stderr)
    keys = ["W-MPJPE", "WA-MPJPE", "pelvis", "sliding", "under", "accel", "F1"]
    print(f"\n(a) Human3.6M {args.subjects}, {len(truth_rows)} sequences (one camera each), first "
          f"{args.seconds:g} s at 25 fps; means over sequences")
    print("| 2D | focal | config | " + " | ".join(keys) + " |")
    print("|" + " --- |" * (len(keys) + 3))
    for (noise, focal_name, name_config), figures in rows.items():
        print(f"| {noise} | {focal_name} | {name_config} | "
              + " | ".join(f"{np.nanmean([f[k] for f in figures]):.3g}" for k in keys) + " |")
    print("| truth | | | 0 | 0 | 0 | " + " | ".join(
        f"{np.nanmean([f[k] for f in truth_rows]):.3g}" for k in ("sliding", "under", "accel")) + " | 1 |")


# ---- (b) the clips -----------------------------------------------------------------------------

def two_d_stage(reader: VideoReader, models, options: DemoOptions, cache: Path | None) -> tuple[list[Track], int]:
    """The demo's 2D stage on a clip, or its tracks from ``cache`` (a folder) when an
    earlier run of this benchmark left them there: the world stages can then be
    compared again without detecting again."""
    stored = cache / f"{reader.path.stem}.npz" if cache is not None else None
    if stored is not None and stored.is_file():
        data = np.load(stored)
        tracks = [Track(int(i), data[f"frames{k}"], data[f"keypoints{k}"], data[f"scores{k}"])
                  for k, i in enumerate(data["ids"])]
        return tracks, int(data["num_frames"])
    tracks, num_frames, _ = track_people(reader, models.detector, PersonTracker(options.tracker, reader.info.fps),
                                         options, StageClock({}), progress=False)
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"ids": np.array([t.person_id for t in tracks]), "num_frames": np.array(num_frames)}
        for k, t in enumerate(tracks):
            arrays.update({f"frames{k}": t.frames, f"keypoints{k}": t.keypoints, f"scores{k}": t.scores})
        np.savez(stored, **arrays)
    return tracks, num_frames


def run_clips(args: argparse.Namespace, configs: list[str]) -> None:
    videos = sorted(Path(args.videos).glob("*.mp4"))
    options = DemoOptions()
    models = load_models(options)
    keys = ["speed", "path", "net", "still", "sliding", "under", "accel"]
    print("\n(b) clips, per person with at least 30 frames")
    print("| clip | config | person | median pelvis speed m/s | path m | net m | pelvis speed, both "
          "feet planted m/s | sliding cm/s | lowest ankle > 3 cm under % | accel cm/frame^2 | world ms |")
    print("|" + " --- |" * 11)
    for video in videos:
        reader = VideoReader(video)
        info = reader.info
        tracks, num_frames = two_d_stage(reader, models, options, args.cache)
        focal = default_focal(info.width, info.height)
        people = [lift_track(t, models.lifter, info, focal) for t in clean_tracks(tracks, info.fps, num_frames)]
        for name_config in configs:
            start = time.perf_counter()
            world, placed = place_people(people, info, focal, config(name_config))
            elapsed = 1000 * (time.perf_counter() - start)
            for person in placed:
                if len(person) < 30:
                    continue
                figures = motion_figures(world.to_world(person.joints_3d).astype(np.float64), info.fps)
                print(f"| {video.stem} | {name_config} | {person.person_id} | "
                      + " | ".join(f"{figures[k]:.3g}" for k in keys) + f" | {elapsed:.0f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--subjects", default="S9,S11")
    parser.add_argument("--max-sequences", type=int, default=None, help="per subject (quick runs)")
    parser.add_argument("--configs", default="before,after")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder keeping each clip's 2D tracks between runs (the 2D stage runs once)")
    parser.add_argument("--skip-h36m", action="store_true")
    parser.add_argument("--skip-clips", action="store_true")
    args = parser.parse_args()
    configs = args.configs.split(",")
    for name in configs:
        config(name)
    print(f"CPU: {cpu_model()}, {usable_cores()} usable cores")
    if not args.skip_h36m:
        run_h36m(args, configs)
    if not args.skip_clips:
        run_clips(args, configs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

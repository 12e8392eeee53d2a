"""Video in, 3D skeletons out: the demo's stages, run in order.

Pass 1 decodes the video frame by frame, detects people and tracks them;
only their keypoints are kept. Each track is then cleaned, resampled to the
lifter's 50 fps, lifted to 3D, mapped back to the video's frame times and
placed in camera space. Pass 2 decodes the video again, draws the 2D and 3D
skeletons and encodes the result frame by frame. Memory therefore grows with
people x frames x joints (a few hundred bytes per person-frame), never with
pixels x frames.

Every stage is its own module with plain arrays in between (see docs/demo.md);
this one only wires them together and times them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from tqdm import tqdm

from ..camera import normalize_screen_coordinates
from ..cpu import torch_threads, usable_cores
from ..files import DemoError, check_output_path
from ..lifter.checkpoint import load_checkpoint
from ..lifter.fast import optimize_for_inference
from ..lifter.inference import DEFAULT_BATCH_SIZE, Lifter, resolve_device
from ..skeleton import H36M
from .detect import (AUTO, DEFAULT_CONF, DEFAULT_DETECT_BATCH, DEFAULT_DETECTOR, DEFAULT_IMGSZ, PoseDetector,
                     choose_imgsz, probe_frames)
from .export import CSV_SUFFIXES, NPZ_SUFFIXES, JointRows, write_csv, write_npz
from .keypoints import clean_tracks
from .lift import match_training_scale
from .position import default_focal, fit_translation, smooth_depth
from .refine import DEFAULT_REFINE, Refiner
from .render import Skeleton3DView, draw_pose_2d, side_by_side
from .shots import find_cuts, frame_signature
from .stitch import appearance, stitch
from .timebase import model_times, resample
from .track import DEFAULT_TRACKER, PersonTracker, Track, TrackAccumulator
from .video import VIDEO_SUFFIXES, VideoInfo, VideoReader, open_video_writer

T = TypeVar("T")
_DONE = object()
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "models" / "glagcn_h36m_default.bin"


@dataclass
class DemoOptions:
    """Everything the command line can set besides the file names."""

    checkpoint: str | os.PathLike = DEFAULT_CHECKPOINT
    detector: str = DEFAULT_DETECTOR
    imgsz: int | str = AUTO  # pixels, or "auto": chosen from the video's first second (detect.choose_imgsz)
    conf: float = DEFAULT_CONF
    detect_batch: int = DEFAULT_DETECT_BATCH  # frames per detector call
    runtime: str = "auto"  # what runs the detector: auto, torch or openvino (detect.RUNTIMES)
    device: str | None = None  # None: CUDA if available, else MPS, else CPU
    batch_size: int = DEFAULT_BATCH_SIZE
    tta: bool = True
    rescale: bool = True  # scale each track to the training data's body size (lift.match_training_scale)
    focal: float | None = None  # pixels; None: the image diagonal
    tracker: str = DEFAULT_TRACKER
    threads: int | None = None  # PyTorch CPU threads while the demo runs; None: every usable core
    refine: bool = DEFAULT_REFINE  # a second look at small people's keypoints on a crop (refine.py)


@dataclass
class Person:
    """One lifted track segment: F consecutive video frames of one person.

    keypoints_2d (F, 17, 2) Human3.6M-layout pixels (gaps filled), scores
    (F, 17) detector confidences (0 where the person was not detected),
    poses_3d (F, 17, 3) pelvis-relative metres, root (F, 3) the pelvis in
    camera space (metres; x right, y down, z forward).
    """

    person_id: int
    frames: np.ndarray
    keypoints_2d: np.ndarray
    scores: np.ndarray
    poses_3d: np.ndarray
    root: np.ndarray

    @property
    def joints_3d(self) -> np.ndarray:
        """(F, 17, 3) camera-space joints, metres."""
        return self.poses_3d + self.root[:, None]

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class DemoResult:
    """What a run produced, like an Ultralytics ``Results`` for a whole video."""

    video: VideoInfo
    num_frames: int  # decoded, not the header's claim
    focal: float
    people: list[Person]
    raw_tracks: list[Track]  # COCO-17 tracks, re-linked and split at cuts (stitch.py), before cleaning
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage: load, decode,
    # detect, track, keypoints, lift, render, encode, export
    outputs: list[Path] = field(default_factory=list)
    detector_runtime: str = "torch"  # what ran the detector: torch or openvino
    detector_imgsz: int = DEFAULT_IMGSZ  # its input size (the one chosen, with --imgsz auto)
    cuts: list[int] = field(default_factory=list)  # frames that start a new shot (shots.py)

    @property
    def fps(self) -> float:
        return self.video.fps

    @property
    def person_ids(self) -> list[int]:
        return sorted({p.person_id for p in self.people})

    def rows(self) -> JointRows:
        """Every (frame, person) as export rows, sorted by frame then person."""
        if not self.people:
            joints = H36M.num_joints
            return JointRows(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64),
                             np.zeros((0, joints, 3), np.float32), np.zeros((0, joints, 2), np.float32),
                             np.zeros((0, joints), np.float32))
        frame = np.concatenate([p.frames for p in self.people])
        person = np.concatenate([np.full(len(p), p.person_id) for p in self.people])
        order = np.lexsort((person, frame))
        return JointRows(
            frame=frame[order], time_s=frame[order] / self.fps, person_id=person[order],
            joints_3d=np.concatenate([p.joints_3d for p in self.people])[order],
            joints_2d=np.concatenate([p.keypoints_2d for p in self.people])[order],
            scores=np.concatenate([p.scores for p in self.people])[order],
        )


def load_lifter(checkpoint: str | os.PathLike, device: torch.device, batch_size: int, tta: bool) -> Lifter:
    """The GLA-GCN checkpoint on ``device``, through the fast inference path
    (same outputs as the eval-mode model, less work; see ``lifter/fast.py``)."""
    model = load_checkpoint(checkpoint, map_location=device)
    if model.layout.name != H36M.name or model.maps_coco17:
        raise DemoError(checkpoint, f"is a {model.layout.name} model; the demo needs a Human3.6M "
                                    f"17-joint model")
    return Lifter(optimize_for_inference(model), model.receptive_field, device, H36M, batch_size, tta)


class StageClock:
    """Accumulated wall time per stage, for interleaved per-frame work."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

    def iterate(self, stage: str, iterable: Iterable[T]) -> Iterator[T]:
        """Yield from ``iterable``, charging the time spent producing items to ``stage``."""
        iterator = iter(iterable)
        while True:
            with self(stage):
                item = next(iterator, _DONE)
            if item is _DONE:
                return
            yield item


def detect_and_track(reader: VideoReader, detector: PoseDetector, tracker: PersonTracker,
                     clock: StageClock, progress: bool = True, batch: int = DEFAULT_DETECT_BATCH,
                     refiner: Refiner | None = None) -> tuple[list[Track], int, list[int]]:
    """Pass 1: COCO-17 tracks of everyone tracked (with boxes and appearance),
    the decoded frame count and the shot cuts.

    Frames are detected ``batch`` at a time (faster than one by one), then
    tracked one by one in order, so the tracks do not depend on ``batch``;
    with a ``refiner`` the small tracked people of the batch are refined
    together.
    """
    accumulator = TrackAccumulator()
    pending: list[np.ndarray] = []
    signatures = []
    num_frames = 0

    def detect_and_track_pending() -> None:
        with clock("detect"):
            found = detector.detect(pending)
        with clock("track"):
            ids = [tracker.update(detections, frame) for frame, detections in zip(pending, found)]
        if refiner is not None:
            with clock("refine"):
                found = refiner.refine(pending, found, [refiner.select(d, frame.shape, i >= 0)
                                                        for frame, d, i in zip(pending, found, ids)])
        with clock("track"):
            first = num_frames - len(pending)
            for offset, (frame, detections, tracked) in enumerate(zip(pending, found, ids)):
                signatures.append(frame_signature(frame))
                accumulator.add(first + offset, tracked, detections,
                                appearance(frame, detections.boxes, tracked >= 0))
        pending.clear()

    frames = tqdm(clock.iterate("decode", reader), desc="detect+track",
                  total=reader.info.header_frames or None, unit="frame", disable=not progress)
    for frame in frames:
        pending.append(frame)
        num_frames += 1
        if len(pending) == batch:
            detect_and_track_pending()
    if pending:
        detect_and_track_pending()
    return accumulator.tracks(), num_frames, find_cuts(signatures)


def lift_track(track: Track, lifter: Lifter, video: VideoInfo, focal: float, rescale: bool = True) -> Person:
    """A cleaned Human3.6M track to 3D: at 50 fps (and, with ``rescale``, at the
    training data's body size) through the lifter, back to the frame times,
    then placed in camera space from the track's own pixels."""
    times = track.frames / video.fps
    grid = model_times(times)
    keypoints = resample(track.keypoints.astype(np.float32), times, grid)
    inputs = normalize_screen_coordinates(keypoints, video.width, video.height)
    if rescale:
        inputs, _ = match_training_scale(inputs)
    poses = resample(lifter(inputs), grid, times)
    poses = poses - poses[:, :1]  # exactly pelvis-relative, so `root` is the pelvis
    center = (video.width / 2, video.height / 2)
    root = smooth_depth(fit_translation(poses, track.keypoints, track.scores, focal, center), video.fps)
    return Person(track.person_id, track.frames, track.keypoints, track.scores, poses, root)


def render_video(reader: VideoReader, people: list[Person], out: Path, num_frames: int,
                 clock: StageClock, progress: bool = True) -> None:
    """Pass 2: each frame with its 2D skeletons, beside a square 3D panel."""
    height, width = reader.info.height, reader.info.width
    view = Skeleton3DView(height, height)
    if people:
        view.set_scene(np.concatenate([p.joints_3d for p in people]))
    out_h, out_w = side_by_side(np.zeros((height, width, 3), np.uint8), view.render([], [])).shape[:2]
    with open_video_writer(out, out_w, out_h, reader.info.fps) as writer:
        frames = tqdm(clock.iterate("decode", reader), desc="render+encode", total=num_frames,
                      unit="frame", disable=not progress)
        for index, frame in enumerate(frames):
            with clock("render"):
                present = [(p, index - p.frames[0]) for p in people
                           if p.frames[0] <= index <= p.frames[-1]]
                for person, row in present:
                    draw_pose_2d(frame, person.keypoints_2d[row], person.scores[row], person.person_id)
                panel = view.render([p.joints_3d[row] for p, row in present],
                                    [p.person_id for p, _ in present])
                composed = side_by_side(frame, panel)
            with clock("encode"):
                writer.write(composed)


def _check_outputs(video: Path, out: Path, csv: Path | None, npz: Path | None) -> None:
    named = [(out, VIDEO_SUFFIXES), (csv, CSV_SUFFIXES), (npz, NPZ_SUFFIXES)]
    seen = {video.resolve()}
    for path, suffixes in ((p, s) for p, s in named if p is not None):
        check_output_path(path, suffixes)
        if path.resolve() in seen:
            raise DemoError(path, "would overwrite the input or another output; choose another name")
        seen.add(path.resolve())


def run_demo(video: str | os.PathLike, out: str | os.PathLike, csv: str | os.PathLike | None = None,
             npz: str | os.PathLike | None = None, options: DemoOptions | None = None,
             progress: bool = True) -> DemoResult:
    """Run every stage on ``video`` and write ``out`` (and ``csv``, ``npz`` if given).

    Inputs, outputs, checkpoint, detector and tracker are all checked before
    the slow work starts; any problem raises :class:`DemoError` (or
    :class:`~glagcn_video.lifter.checkpoint.CheckpointError`) naming the file, and
    leaves no output behind.
    """
    options = options or DemoOptions()
    # Ultralytics sets PyTorch to one thread fewer than the cores (one thread on
    # two cores, for its training); the demo's stages run one at a time, so
    # each gets every core unless told otherwise.
    with torch_threads(options.threads or usable_cores()):
        return _run_demo(video, out, csv, npz, options, progress)


def _run_demo(video: str | os.PathLike, out: str | os.PathLike, csv: str | os.PathLike | None,
              npz: str | os.PathLike | None, options: DemoOptions, progress: bool) -> DemoResult:
    out = Path(out)
    csv_path, npz_path = (Path(p) if p is not None else None for p in (csv, npz))
    timings: dict[str, float] = {}
    clock = StageClock(timings)
    with clock("load"):
        reader = VideoReader(video)
        _check_outputs(reader.path, out, csv_path, npz_path)
        device = resolve_device(options.device)
        tracker = PersonTracker(options.tracker, reader.info.fps)
        lifter = load_lifter(options.checkpoint, device, options.batch_size, options.tta)
        detector = PoseDetector(options.detector, DEFAULT_IMGSZ if options.imgsz == AUTO else options.imgsz,
                                options.conf, device, options.runtime)
    info = reader.info
    if options.imgsz == AUTO:
        with clock("detect"):
            detector.imgsz = choose_imgsz(detector, probe_frames(reader, info.fps))
    focal = options.focal or default_focal(info.width, info.height)

    raw_tracks, num_frames, cuts = detect_and_track(reader, detector, tracker, clock, progress,
                                                    options.detect_batch,
                                                    Refiner(detector) if options.refine else None)
    with clock("track"):
        raw_tracks = stitch(raw_tracks, cuts, info.fps)
    with clock("keypoints"):
        segments = clean_tracks(raw_tracks, info.fps, num_frames)
    with clock("lift"):
        people = [lift_track(t, lifter, info, focal, options.rescale)
                  for t in tqdm(segments, desc="lift", unit="track", disable=not progress)]
    result = DemoResult(info, num_frames, focal, people, raw_tracks, timings,
                        detector_runtime=detector.runtime, detector_imgsz=detector.imgsz, cuts=cuts)

    written: list[Path] = []
    try:
        render_video(reader, people, out, num_frames, clock, progress)
        written.append(out)
        with clock("export"):
            rows = result.rows()
            if csv_path is not None:
                write_csv(csv_path, rows)
                written.append(csv_path)
            if npz_path is not None:
                write_npz(npz_path, rows, raw_tracks, info.fps, focal)
                written.append(npz_path)
    except BaseException:
        for path in written:  # all outputs or none
            path.unlink(missing_ok=True)
        raise
    result.outputs = written
    return result

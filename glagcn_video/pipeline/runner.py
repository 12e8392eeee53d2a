"""Video in, 3D skeletons out: the demo's stages, run in order.

Pass 1 decodes the video frame by frame, detects people, tracks them and
(with ``refine``) refines the small ones' keypoints; only their keypoints,
boxes and colours, and a small signature of each frame, are kept. The
tracks are then re-linked where a person was lost and split at shot cuts.
Each is cleaned, resampled to the lifter's 50 fps, lifted to 3D, mapped
back to the video's frame times and placed in camera space. Pass 2 decodes
the video again, draws the 2D and 3D skeletons and encodes the result frame
by frame. Memory therefore grows with people x frames (under a kilobyte per
person-frame), never with pixels x frames.

Every stage is its own module with plain arrays in between (see docs/demo.md);
this one only wires them together and times them.
"""

from __future__ import annotations

import logging
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
from ..exports.formats import Exports, write_exports
from ..exports.joints import JointRows
from ..files import DemoError, check_output_path
from ..lifter.checkpoint import load_checkpoint
from ..lifter.fast import optimize_for_inference
from ..lifter.inference import DEFAULT_BATCH_SIZE, Lifter, resolve_device
from ..lifter.zoo import DEFAULT_MODEL, ZOO, resolve_checkpoint
from ..skeleton import H36M
from ..tracks import Track
from ..view.html_viewer import HTML_SUFFIXES, write_html
from ..view.layouts import DEFAULT_VIEW, VIEWS, Panel3D
from ..view.render import draw_pose_2d, side_by_side
from ..world.frame import WorldFrame
from ..world.motion import Body, WorldOptions, settle
from ..world.placement import default_focal, fit_translation, smooth_depth
from ..world.tracks import WorldTrack
from .detect import (AUTO, DEFAULT_CONF, DEFAULT_DETECT_BATCH, DEFAULT_DETECTOR, DEFAULT_IMGSZ, PoseDetector,
                     choose_imgsz, probe_frames)
from .keypoints import clean_tracks
from .lift import match_training_scale
from .refine import DEFAULT_REFINE, Refiner
from .shots import find_cuts, frame_signature
from .stitch import appearance, stitch
from .timebase import model_times, resample, samples_used
from .track import DEFAULT_TRACKER, PersonTracker, TrackAccumulator
from .video import VideoInfo, VideoReader, open_video_writer

T = TypeVar("T")
_DONE = object()
DEFAULT_CHECKPOINT = ZOO[DEFAULT_MODEL].path
log = logging.getLogger(__name__)


@dataclass
class DemoOptions:
    """Everything the command line can set besides the file names."""

    checkpoint: str | os.PathLike = DEFAULT_MODEL  # a path or a name in lifter.zoo.ZOO
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
    view: str = DEFAULT_VIEW  # the 3D panel's layout (view.VIEWS)
    refine: bool = DEFAULT_REFINE  # a second look at small people's keypoints on a crop (refine.py)
    world: WorldOptions = field(default_factory=WorldOptions)  # placement, contacts, locking, filters


@dataclass
class Person:
    """One lifted track segment: F consecutive video frames of one person.

    keypoints_2d (F, 17, 2) Human3.6M-layout pixels (gaps filled), scores
    (F, 17) detector confidences (0 where the person was not detected),
    poses_3d (F, 17, 3) pelvis-relative metres, root (F, 3) the pelvis in
    camera space (metres; x right, y down, z forward), contacts (F, 2) the
    planted feet (world.contacts.FEET: right, left).
    """

    person_id: int
    frames: np.ndarray
    keypoints_2d: np.ndarray
    scores: np.ndarray
    poses_3d: np.ndarray
    root: np.ndarray
    contacts: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.contacts is None:
            self.contacts = np.zeros((len(self.frames), 2), bool)

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
    # detect, refine, track, keypoints, lift, render, encode, export
    outputs: list[Path] = field(default_factory=list)
    detector_runtime: str = "torch"  # what ran the detector: torch or openvino
    world: WorldFrame = field(default_factory=WorldFrame.identity_camera)  # ground and Y-up frame (world/frame.py)
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
            contacts=np.concatenate([p.contacts for p in self.people])[order],
        )


def load_lifter(checkpoint: str | os.PathLike, device: torch.device, batch_size: int, tta: bool) -> Lifter:
    """The GLA-GCN checkpoint on ``device``, through the fast inference path
    (same outputs as the eval-mode model, less work; see ``lifter/fast.py``)."""
    model = load_checkpoint(resolve_checkpoint(checkpoint), map_location=device)
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
                                appearance(frame, detections.keypoints, detections.keypoint_scores, tracked >= 0))
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


def track_people(reader: VideoReader, detector: PoseDetector, tracker: PersonTracker, options: DemoOptions,
                 clock: StageClock, progress: bool = True) -> tuple[list[Track], int, list[int]]:
    """The whole 2D stage: the detector's input size (``--imgsz auto``), pass 1,
    then each person's tracklets stitched and split at the cuts. Returns the
    people's COCO-17 tracks (several may share an ID: one per shot), the
    decoded frame count and the cuts."""
    if options.imgsz == AUTO:
        with clock("detect"):
            detector.imgsz = choose_imgsz(detector, probe_frames(reader, reader.info.fps))
    tracks, num_frames, cuts = detect_and_track(reader, detector, tracker, clock, progress, options.detect_batch,
                                                Refiner(detector) if options.refine else None)
    with clock("track"):
        return stitch(tracks, cuts, reader.info.fps), num_frames, cuts


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
    used = samples_used(grid, times)  # the grid poses the frames are drawn from; the rest are not lifted
    lifted = np.zeros((len(grid), *keypoints.shape[1:-1], 3), np.float32)
    lifted[used] = lifter(inputs, frames=used)
    poses = resample(lifted, grid, times)
    poses = poses - poses[:, :1]  # exactly pelvis-relative, so `root` is the pelvis
    center = (video.width / 2, video.height / 2)
    root = smooth_depth(fit_translation(poses, track.keypoints, track.scores, focal, center), video.fps)
    return Person(track.person_id, track.frames, track.keypoints, track.scores, poses, root)


def place_people(people: list[Person], video: VideoInfo, focal: float,
                 options: WorldOptions) -> tuple[WorldFrame, list[Person]]:
    """The world frame and the people placed in it (world/motion.py): on the
    ground, filtered, feet locked, as ``options`` say; the people come back in
    their order, the world's origin under the first to appear."""
    ordered = first_appearance_order(people)
    bodies = [Body(p.poses_3d, p.root, p.keypoints_2d, p.scores) for p in ordered]
    world, placed = settle(bodies, focal, (video.width / 2, video.height / 2), video.fps, options)
    moved = {id(p): Person(p.person_id, p.frames, p.keypoints_2d, p.scores, q.joints - q.joints[:, :1],
                           q.joints[:, 0].copy(), q.contacts) for p, q in zip(ordered, placed)}
    return world, [moved[id(p)] for p in people]


def world_tracks(people: list[Person], world: WorldFrame) -> list[WorldTrack]:
    """The people in world axes, each with its evidence (summed joint scores) for the 3D views."""
    return [WorldTrack(p.person_id, p.frames, world.to_world(p.joints_3d), float(p.scores.sum()), p.contacts)
            for p in people]


def render_video(reader: VideoReader, people: list[Person], world: WorldFrame, out: Path, num_frames: int,
                 clock: StageClock, view: str = DEFAULT_VIEW, progress: bool = True) -> None:
    """Pass 2: each frame with its 2D skeletons, beside a square 3D panel in world axes."""
    height, width = reader.info.height, reader.info.width
    panel = Panel3D(height, height, world_tracks(people, world), num_frames, reader.info.fps, view)
    out_h, out_w = side_by_side(np.zeros((height, width, 3), np.uint8), panel.render(0)).shape[:2]
    with open_video_writer(out, out_w, out_h, reader.info.fps) as writer:
        frames = tqdm(clock.iterate("decode", reader), desc="render+encode", total=num_frames,
                      unit="frame", disable=not progress)
        for index, frame in enumerate(frames):
            with clock("render"):
                for person in people:
                    if person.frames[0] <= index <= person.frames[-1]:
                        row = index - person.frames[0]
                        draw_pose_2d(frame, person.keypoints_2d[row], person.scores[row], person.person_id,
                                     contacts=person.contacts[row])
                composed = side_by_side(frame, panel.render(index))
            with clock("encode"):
                writer.write(composed)


@dataclass
class Models:
    """The detector and the lifter, loaded once and reused for every video of a batch."""

    detector: PoseDetector
    lifter: Lifter


def load_models(options: DemoOptions) -> Models:
    """Load the lifter and the detector (:class:`DemoError` or
    :class:`~glagcn_video.lifter.checkpoint.CheckpointError` naming the file)."""
    device = resolve_device(options.device)
    lifter = load_lifter(options.checkpoint, device, options.batch_size, options.tta)
    imgsz = DEFAULT_IMGSZ if options.imgsz == AUTO else options.imgsz  # auto: set per video (choose_imgsz)
    return Models(PoseDetector(options.detector, imgsz, options.conf, device, options.runtime), lifter)


def first_appearance_order(people: list[Person]) -> list[Person]:
    """People by their first frame (then ID): the world's origin is under the first."""
    return sorted(people, key=lambda p: (int(p.frames[0]), p.person_id))


def run_demo(video: str | os.PathLike, out: str | os.PathLike, csv: str | os.PathLike | None = None,
             npz: str | os.PathLike | None = None, options: DemoOptions | None = None,
             progress: bool = True, exports: Exports | None = None, models: Models | None = None,
             html: str | os.PathLike | None = None) -> DemoResult:
    """Run every stage on ``video`` and write ``out`` (and ``csv``, ``npz``,
    any of ``exports``, and the interactive viewer ``html``, if given).

    Inputs, outputs, checkpoint, detector and tracker are all checked before
    the slow work starts; any problem raises :class:`DemoError` (or
    :class:`~glagcn_video.lifter.checkpoint.CheckpointError`) naming the file, and
    leaves no output behind. ``models`` (from :func:`load_models`) skips
    loading them, for many videos in a row.
    """
    options = options or DemoOptions()
    exports = exports or Exports()
    if csv is not None or npz is not None:
        if exports.csv is not None or exports.npz is not None:
            raise ValueError("give csv and npz either as arguments or in exports, not both")
        exports = Exports(**{**vars(exports), "csv": csv, "npz": npz})
    # Ultralytics sets PyTorch to one thread fewer than the cores (one thread on
    # two cores, for its training); the demo's stages run one at a time, so
    # each gets every core unless told otherwise.
    with torch_threads(options.threads or usable_cores()):
        return _run_demo(video, Path(out), exports, options, progress, models,
                         Path(html) if html is not None else None)


def _run_demo(video: str | os.PathLike, out: Path, exports: Exports, options: DemoOptions, progress: bool,
              models: Models | None, html: Path | None) -> DemoResult:
    timings: dict[str, float] = {}
    clock = StageClock(timings)
    with clock("load"):
        reader = VideoReader(video)
        exports.check(reader.path, out)
        if html is not None:
            check_output_path(html, HTML_SUFFIXES)
            taken = {reader.path, out, *exports.requested().values()}
            if html.resolve() in {p.resolve() for p in taken}:
                raise DemoError(html, "would overwrite the input or another output; choose another name")
        if options.view not in VIEWS:
            raise DemoError(f"--view {options.view}", f"not a layout; use one of {', '.join(VIEWS)}")
        tracker = PersonTracker(options.tracker, reader.info.fps)
        models = models or load_models(options)
    info = reader.info
    detector = models.detector
    focal = options.focal or default_focal(info.width, info.height)

    raw_tracks, num_frames, cuts = track_people(reader, detector, tracker, options, clock, progress)
    if not info.is_image and info.header_frames and num_frames != info.header_frames:
        log.warning(f"{reader.path}: decoded {num_frames} of the {info.header_frames} frames its container "
                    f"lists (a damaged or cut file, or a wrong count in its header); processed those")
    with clock("keypoints"):
        segments = clean_tracks(raw_tracks, info.fps, num_frames)
    with clock("lift"):
        people = [lift_track(t, models.lifter, info, focal, options.rescale)
                  for t in tqdm(segments, desc="lift", unit="track", disable=not progress)]
    with clock("world"):
        world, people = place_people(people, info, focal, options.world)
    result = DemoResult(info, num_frames, focal, people, raw_tracks, timings,
                        detector_runtime=detector.runtime, detector_imgsz=detector.imgsz, cuts=cuts,
                        world=world)

    written: list[Path] = []
    try:
        render_video(reader, people, world, out, num_frames, clock, options.view, progress)
        written.append(out)
        with clock("export"):
            written += write_exports(exports, out, result.rows(), people, raw_tracks, num_frames, info.fps,
                                     focal, (info.width, info.height), world)
            if html is not None:
                write_html(html, world_tracks(people, world), num_frames, info.fps, video=out)
                written.append(html)
    except BaseException:
        for path in written:  # all outputs or none
            path.unlink(missing_ok=True)
        raise
    result.outputs = written
    return result

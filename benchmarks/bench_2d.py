"""The 2D stage: who it finds, how precisely, how fast, and how well it keeps their IDs.

    nice .venv/bin/python benchmarks/bench_2d.py [VIDEO ...] [--step 10] [--scales 1,2,3,4]
        [--sizes 960] [--track-scales 1] [--threads N]

Without VIDEO it runs on the six clips of the development share
(``../shared/videos``). Every clip is also shrunk: each frame scaled to 1/2,
1/3 and 1/4 of its size and pasted in the middle of a copy of itself blurred
beyond recognition, so the people are 2-4x smaller in a frame of the same
size, and the truth about them is known from the full-size frame.

Truth: a slow reference, yolo11n-pose at 1280 px on the full-size frame and on
its mirror image, merged (boxes matched at IoU >= 0.5, keypoints averaged by
confidence), on every ``--step``-th frame. Its confident people (box score
>= 0.5), mapped through the shrinking, are the people to find; their height in
the evaluated frame puts them in a band (< 80, 80-150, >= 150 px).

Per clip, scale, band and setting, on the same sampled frames:

* found: the share of those people matched (IoU >= 0.5, greedily) by a
  detection the tracker can start a track from (box score >= 0.25);
* kpt err: the mean distance of the matched people's keypoints from the
  truth's (keypoints the truth is sure of, score >= 0.5), in % of the
  person's height;
* ms/frame: the setting's detector (and refinement) time per frame, frames
  four per call as in the demo, each batch run by every setting in turn
  (rotating who goes first) so load changes hit all alike; ``x today`` is
  the ratio to today's setting (640 px, no refinement) summed over the same
  batches.

Settings: ``today`` (640 px, as before this benchmark existed), fixed sizes,
``auto`` (``--imgsz auto``: the size detect.choose_imgsz picks from the
clip's first second), each with ``+refine`` (refine.py, on the people the
detector found with box score >= 0.25 and saw small enough to refine).

Tracking, on every frame of the clips at ``--track-scales``: today's stage
(640 px, ByteTrack, no duplicate suppression, no stitching, no cut
splitting) against the demo's default 2D stage (runner.track_people); both
then cleaned as for lifting (keypoints.clean_tracks).
Reported: lifted IDs, people (the most confident reference people in one
sampled frame), IDs per person, and the median length of the lifted
segments. On a clip whose people come and go (skating's crowd) more IDs
than people is right.

OMP_WAIT_POLICY is set to PASSIVE unless set (see bench_detector.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the OpenMP runtime's start

import argparse  # noqa: E402
import itertools  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's glagcn_video, installed or not

from bench_detector import CONFIDENT_SCORE, MATCH_IOU, greedy_match, percent  # noqa: E402
from machine import cpu_model, usable_cores  # noqa: E402
from glagcn_video.pipeline import detect as detect_module  # noqa: E402
from glagcn_video.pipeline.detect import (DEFAULT_CONF, DEFAULT_DETECTOR, DEFAULT_IMGSZ, Detections,  # noqa: E402
                                          PoseDetector, choose_imgsz, probe_frames, resolve_weights)
from glagcn_video.pipeline.keypoints import clean_tracks  # noqa: E402
from glagcn_video.pipeline.refine import Refiner  # noqa: E402
from glagcn_video.pipeline.runner import DemoOptions, StageClock, track_people  # noqa: E402
from glagcn_video.pipeline.track import PersonTracker, TrackAccumulator  # noqa: E402
from glagcn_video.tracks import Track  # noqa: E402
from glagcn_video.pipeline.video import VideoInfo, VideoReader  # noqa: E402

SHARED_VIDEOS = ROOT.parent / "shared" / "videos"
REFERENCE_IMGSZ = 1280
TRACKABLE_SCORE = 0.25  # ByteTrack starts tracks from detections scoring this much
SURE_KEYPOINT = 0.5
BANDS = ((0, 80), (80, 150), (150, float("inf")))
BAND_NAMES = ("<80", "80-150", ">=150")
BATCH = 4
# COCO-17 left/right keypoint pairs swap in a mirror image.
MIRROR = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


@dataclass(frozen=True)
class Shrink:
    """A frame scaled by 1/``factor`` and pasted at ``offset`` into a blurred copy of itself."""

    factor: int

    def transform(self, width: int, height: int) -> tuple[float, float, float, float]:
        """(scale x, scale y, offset x, offset y) from the full frame to the shrunk one."""
        small_w, small_h = round(width / self.factor), round(height / self.factor)
        return small_w / width, small_h / height, (width - small_w) // 2, (height - small_h) // 2

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if self.factor == 1:
            return frame
        height, width = frame.shape[:2]
        sx, sy, ox, oy = self.transform(width, height)
        small_w, small_h = round(width * sx), round(height * sy)
        # 1/32 of the size and back: colours and light remain, nobody is recognisable
        tiny = cv2.resize(frame, (max(1, width // 32), max(1, height // 32)), interpolation=cv2.INTER_AREA)
        out = cv2.resize(tiny, (width, height), interpolation=cv2.INTER_LINEAR)
        out[oy:oy + small_h, ox:ox + small_w] = cv2.resize(frame, (small_w, small_h), interpolation=cv2.INTER_AREA)
        return out

    def detections(self, d: Detections, width: int, height: int) -> Detections:
        """Full-frame detections where they are in the shrunk frame."""
        sx, sy, ox, oy = self.transform(width, height)
        return Detections(d.boxes * [sx, sy, sx, sy] + [ox, oy, ox, oy], d.box_scores,
                          d.keypoints * [sx, sy] + [ox, oy], d.keypoint_scores)


def mirrored(d: Detections, width: int) -> Detections:
    """Detections made on a mirrored frame, in the frame's own coordinates and left/right order."""
    boxes = d.boxes.copy()
    boxes[:, [0, 2]] = width - d.boxes[:, [2, 0]]
    keypoints = d.keypoints[:, MIRROR].copy()
    keypoints[..., 0] = width - keypoints[..., 0]
    return Detections(boxes, d.box_scores, keypoints, d.keypoint_scores[:, MIRROR])


def merge(a: Detections, b: Detections) -> Detections:
    """The union of two detections of one frame; people both found (IoU >= 0.5)
    averaged: boxes plainly, keypoints weighted by confidence, the higher box score."""
    pairs = dict(greedy_match(a.boxes, b.boxes, MATCH_IOU))
    rows = []
    for i in range(len(a)):
        if i in pairs:
            j = pairs[i]
            wa, wb = a.keypoint_scores[i][:, None] + 1e-6, b.keypoint_scores[j][:, None] + 1e-6
            rows.append(((a.boxes[i] + b.boxes[j]) / 2, max(a.box_scores[i], b.box_scores[j]),
                         (a.keypoints[i] * wa + b.keypoints[j] * wb) / (wa + wb),
                         (a.keypoint_scores[i] + b.keypoint_scores[j]) / 2))
        else:
            rows.append((a.boxes[i], a.box_scores[i], a.keypoints[i], a.keypoint_scores[i]))
    rows += [(b.boxes[j], b.box_scores[j], b.keypoints[j], b.keypoint_scores[j])
             for j in range(len(b)) if j not in pairs.values()]
    if not rows:
        return Detections.empty()
    boxes, scores, keypoints, keypoint_scores = zip(*rows)
    return Detections(np.array(boxes, np.float32), np.array(scores, np.float32),
                      np.array(keypoints, np.float32), np.array(keypoint_scores, np.float32))


def reference(detector: PoseDetector, frames: list[np.ndarray]) -> list[Detections]:
    """The slow reference: each frame and its mirror image at the reference size, merged."""
    out = []
    for i in range(0, len(frames), BATCH):
        batch = frames[i:i + BATCH]
        plain = detector.detect(batch)
        flipped = detector.detect([np.ascontiguousarray(f[:, ::-1]) for f in batch])
        out += [merge(p, mirrored(f, frame.shape[1])) for p, f, frame in zip(plain, flipped, batch)]
    return out


def undeduplicated(detector: PoseDetector, frames: Sequence[np.ndarray]) -> list[Detections]:
    """Detections as the demo made them before duplicate suppression (today's stage)."""
    results = detector.model.predict(list(frames), imgsz=detector.imgsz, conf=detector.conf,
                                     device=detector.device, verbose=False)
    return [detect_module._detections(r) for r in results]


Setting = Callable[[list[np.ndarray]], list[Detections]]


class Detectors(dict):
    """One detector per input size, built when first asked for."""

    def __init__(self, weights: str):
        super().__init__()
        self.weights = weights

    def __missing__(self, size: int) -> PoseDetector:
        self[size] = PoseDetector(self.weights, size, DEFAULT_CONF, torch.device("cpu"), "auto")
        return self[size]


def settings(detectors: Detectors, auto_size: int, sizes: list[int]) -> dict[str, Setting]:
    """Every setting compared, by name: a function of a batch of frames."""
    def with_refine(detector: PoseDetector) -> Setting:
        refiner = Refiner(detector)

        def run(frames: list[np.ndarray]) -> list[Detections]:
            found = detector.detect(frames)
            chosen = [refiner.select(d, f.shape, d.box_scores >= TRACKABLE_SCORE) for f, d in zip(frames, found)]
            return refiner.refine(frames, found, chosen)
        return run

    out: dict[str, Setting] = {"today": lambda frames: undeduplicated(detectors[DEFAULT_IMGSZ], frames)}
    for size in sizes:
        out[str(size)] = detectors[size].detect
    out["auto"] = detectors[auto_size].detect
    out["today+refine"] = with_refine(detectors[DEFAULT_IMGSZ])
    out["auto+refine"] = with_refine(detectors[auto_size])
    return out


@dataclass
class Tally:
    """One setting's counts in one band."""

    people: int = 0
    found: int = 0
    errors: list[float] = field(default_factory=list)  # per matched person, fraction of height

    def add(self, other: Tally) -> None:
        self.people += other.people
        self.found += other.found
        self.errors += other.errors

    def error(self) -> str:
        return f"{100 * np.mean(self.errors):.1f}" if self.errors else "-"


def score(truth: list[Detections], found: list[Detections]) -> list[Tally]:
    """Per band, how many of the truth's confident people ``found`` has, and how far off their keypoints are."""
    tallies = [Tally() for _ in BANDS]
    for ref, cand in zip(truth, found, strict=True):
        keep = ref.box_scores >= CONFIDENT_SCORE
        boxes, keypoints, sure = ref.boxes[keep], ref.keypoints[keep], ref.keypoint_scores[keep] >= SURE_KEYPOINT
        trackable = np.flatnonzero(cand.box_scores >= TRACKABLE_SCORE)
        pairs = dict(greedy_match(boxes, cand.boxes[trackable], MATCH_IOU))
        for i, box in enumerate(boxes):
            height = float(box[3] - box[1])
            tally = tallies[next(b for b, (lo, hi) in enumerate(BANDS) if lo <= height < hi)]
            tally.people += 1
            if i in pairs:
                tally.found += 1
                if sure[i].any():
                    j = trackable[pairs[i]]
                    distance = np.linalg.norm(cand.keypoints[j][sure[i]] - keypoints[i][sure[i]], axis=-1)
                    tally.errors.append(float(distance.mean()) / height)
    return tallies


class ShrunkVideo:
    """A video whose frames are shrunk on the fly, with the reader interface track_people needs."""

    def __init__(self, path: Path, shrink: Shrink):
        self.reader, self.shrink = VideoReader(path), shrink
        self.info: VideoInfo = self.reader.info

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.shrink(f) for f in self.reader)


def today_tracks(video: ShrunkVideo, detector: PoseDetector) -> tuple[list[Track], int]:
    """Today's 2D stage: ByteTrack on the undeduplicated detections, nothing else."""
    tracker, accumulator, frames = PersonTracker("bytetrack", video.info.fps), TrackAccumulator(), 0
    iterator = iter(video)
    while batch := list(itertools.islice(iterator, BATCH)):
        for frame, detections in zip(batch, undeduplicated(detector, batch)):
            accumulator.add(frames, tracker.update(detections, frame), detections)
            frames += 1
    return accumulator.tracks(), frames


def default_tracks(video: ShrunkVideo, detector: PoseDetector) -> tuple[list[Track], int]:
    """The demo's 2D stage with its default options (runner.track_people), on
    ``detector``, whose input size it sets and this puts back."""
    options, size = DemoOptions(), detector.imgsz
    try:
        tracks, frames, _ = track_people(video, detector, PersonTracker(options.tracker, video.info.fps),
                                         options, StageClock({}), progress=False)
    finally:
        detector.imgsz = size
    return tracks, frames


def track_summary(tracks: list[Track], fps: float, frames: int, people: int) -> str:
    segments = clean_tracks(tracks, fps, frames)
    ids = len({s.person_id for s in segments})
    length = statistics.median(len(s) for s in segments) / fps if segments else 0.0
    return f"{ids:>4} {people:>6} {ids / max(people, 1):>8.2f} {length:>9.1f}"


@dataclass
class ClipResult:
    tallies: dict[tuple[int, str], list[Tally]]  # (scale, setting) -> per band
    seconds: dict[tuple[int, str], float]  # (scale, setting) -> summed over batches
    frames: dict[int, int]  # scale -> sampled frames


def bench_clip(path: Path, detectors: Detectors, sizes: list[int], step: int,
               scales: list[int], track_scales: list[int]) -> ClipResult:
    reader = VideoReader(path)
    info = reader.info
    sampled = list(itertools.islice(reader, 0, None, step))
    start = time.perf_counter()
    truth_full = reference(detectors[REFERENCE_IMGSZ], sampled)
    reference_s = (time.perf_counter() - start) / len(sampled)
    people = max((int((d.box_scores >= CONFIDENT_SCORE).sum()) for d in truth_full), default=0)
    print(f"\nclip: {path.name}, {info.width}x{info.height}, {info.fps:.2f} fps, {len(sampled)} frames "
          f"sampled (every {step}th); reference {REFERENCE_IMGSZ} px + mirror: "
          f"{sum(int((d.box_scores >= CONFIDENT_SCORE).sum()) for d in truth_full)} confident people, "
          f"{reference_s * 1e3:.0f} ms/frame", flush=True)
    result = ClipResult({}, {}, {})
    for factor in scales:
        shrink = Shrink(factor)
        frames = [shrink(f) for f in sampled]
        truth = [shrink.detections(d, info.width, info.height) for d in truth_full]
        auto_size = choose_imgsz(detectors[DEFAULT_IMGSZ],
                                 [shrink(f) for f in probe_frames(VideoReader(path), info.fps)])
        named = settings(detectors, auto_size, sizes)
        found: dict[str, list[Detections]] = {name: [] for name in named}
        seconds = dict.fromkeys(named, 0.0)
        for b, i in enumerate(range(0, len(frames), BATCH)):
            order = list(named)
            order = order[b % len(order):] + order[:b % len(order)]
            for name in order:
                begin = time.perf_counter()
                out = named[name](frames[i:i + BATCH])
                seconds[name] += time.perf_counter() - begin
                found[name] += out
        result.frames[factor] = len(frames)
        for name in named:
            result.tallies[factor, name] = score(truth, found[name])
            result.seconds[factor, name] = seconds[name]
        print_scale(path.name, factor, auto_size, result, list(named))
    if track_scales:
        print(f"tracking, every frame ({info.fps:.2f} fps): setting, scale, lifted IDs, people, "
              f"IDs/person, median segment s")
    for factor in track_scales:
        video = ShrunkVideo(path, Shrink(factor))
        for name, run in (("today", lambda: today_tracks(video, detectors[DEFAULT_IMGSZ])),
                          ("default", lambda: default_tracks(video, detectors[DEFAULT_IMGSZ]))):
            tracks, frames = run()
            print(f"  {name:<8} 1/{factor} {track_summary(tracks, info.fps, frames, people)}", flush=True)
    return result


def print_scale(clip: str, factor: int, auto_size: int, result: ClipResult, names: list[str]) -> None:
    frames = result.frames[factor]
    print(f"  scale 1/{factor} (auto: imgsz {auto_size})")
    print(f"  {'setting':<14}" + "".join(f"{'found ' + b:>14}{'err ' + b:>12}" for b in BAND_NAMES)
          + f"{'ms/frame':>10}{'x today':>9}")
    today = result.seconds[factor, "today"]
    for name in names:
        tallies = result.tallies[factor, name]
        cells = "".join(f"{percent(t.found, t.people) + f' /{t.people}':>14}{t.error():>12}" for t in tallies)
        seconds = result.seconds[factor, name]
        print(f"  {name:<14}{cells}{seconds / frames * 1e3:>10.1f}{seconds / today:>8.2f}x", flush=True)


def print_summary(results: list[ClipResult], names: list[str], scales: list[int]) -> None:
    print(f"\nall clips and scales, pooled (found and kpt err over people; time summed over frames)")
    print(f"  {'setting':<14}" + "".join(f"{'found ' + b:>16}{'err ' + b:>12}" for b in BAND_NAMES)
          + f"{'found >=80':>12}{'x today':>9}")
    for name in names:
        pooled = [Tally() for _ in BANDS]
        seconds = today = 0.0
        for result in results:
            for factor in scales:
                for total, tally in zip(pooled, result.tallies[factor, name]):
                    total.add(tally)
                seconds += result.seconds[factor, name]
                today += result.seconds[factor, "today"]
        cells = "".join(f"{percent(t.found, t.people) + f' /{t.people}':>16}{t.error():>12}" for t in pooled)
        big = pooled[1].found + pooled[2].found, pooled[1].people + pooled[2].people
        print(f"  {name:<14}{cells}{percent(*big):>12}{seconds / today:>8.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", nargs="*", type=Path, metavar="VIDEO",
                        help=f"clips (default: every .mp4 in {SHARED_VIDEOS})")
    parser.add_argument("--step", type=int, default=10, help="evaluate every STEP-th frame (default: %(default)s)")
    parser.add_argument("--scales", default="1,2,3,4", help="shrink factors (default: %(default)s)")
    parser.add_argument("--sizes", default="960", help="fixed detector sizes to compare (default: %(default)s)")
    parser.add_argument("--track-scales", default="1",
                        help="shrink factors to track every frame at; empty for none (default: %(default)s)")
    parser.add_argument("--weights", default=DEFAULT_DETECTOR, help="YOLO pose weights (default: %(default)s)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: every usable core)")
    args = parser.parse_args(argv)
    videos = args.videos or sorted(SHARED_VIDEOS.glob("*.mp4"))
    if not videos:
        parser.error(f"no VIDEO given and none in {SHARED_VIDEOS}")
    scales = [int(s) for s in args.scales.split(",")]
    track_scales = [int(s) for s in args.track_scales.split(",") if s]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    threads = args.threads or usable_cores()
    torch.set_num_threads(threads)

    import ultralytics

    detectors = Detectors(resolve_weights(args.weights))
    print(f"detector: {detectors.weights}, conf {DEFAULT_CONF}, cpu, runtime {detectors[DEFAULT_IMGSZ].runtime}, "
          f"{threads} threads; truth: box score >= {CONFIDENT_SCORE}, keypoints >= {SURE_KEYPOINT}; "
          f"found: box score >= {TRACKABLE_SCORE}, IoU >= {MATCH_IOU}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores ({usable_cores()} usable), nice {os.nice(0)}, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; torch {torch.__version__}, "
          f"ultralytics {ultralytics.__version__}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    results = []
    for path in videos:
        results.append(bench_clip(path, detectors, sizes, args.step, scales, track_scales))
    names = list(results[0].tallies and dict.fromkeys(name for _, name in results[0].tallies))
    print_summary(results, names, scales)
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

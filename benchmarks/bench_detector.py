"""Pose detector input size (``--imgsz``): speed against a recall proxy, per clip.

    nice .venv/bin/python benchmarks/bench_detector.py VIDEO [VIDEO ...]
        [--sizes 320,480,640,960] [--frames 120] [--repeats 3] [--batch N] [--threads N]
        [--runtime auto|torch|openvino]

Each clip's first ``--frames`` frames are decoded once and kept in memory
(about 6 MB per 1080p frame). One :class:`PoseDetector` per size (the demo's
weights and ``conf``, on the CPU) is warmed up on a few frames, then every
repetition times one pass of each size over all the frames, alternating the
order of sizes between repetitions so that a change in machine load does not
favour one size; the median time per frame is reported, and its ratio to the
reference size measured in the same run. Frames go to the detector ``--batch``
at a time, as in the demo; each repetition also times one frame per call, and
``batch x`` is how much faster the batched pass is.

There is no ground truth, so the largest size is the reference: of the people
it detects confidently (box score >= 0.5), ``found`` is the share that a
smaller size also reports (any score the detector returns, i.e. >= the demo's
``conf``, which the tracker can still use) and ``found@0.5`` the share it also
detects confidently, each by greedy matching of boxes at IoU >= 0.5 in the
same frame. ``kpt conf`` is the mean keypoint confidence of the matched people
at that size, next to the reference's for the same people; ``people/frame``
counts confident detections. A size can also find people the reference
misses; those are not counted against it.

On a shared machine, OpenMP threads that spin while waiting make CPU timings
meaningless, so unless OMP_WAIT_POLICY is set this script sets it to PASSIVE
before torch starts; the value in effect is printed.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the OpenMP runtime's start

import argparse  # noqa: E402
import itertools  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import TypeVar  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's glagcn_video, installed or not

from machine import cpu_model, usable_cores  # noqa: E402
from glagcn_video.pipeline.detect import (DEFAULT_CONF, DEFAULT_DETECT_BATCH, DEFAULT_DETECTOR, RUNTIMES,  # noqa: E402
                                          Detections, PoseDetector, resolve_runtime, resolve_weights)
from glagcn_video.pipeline.video import VideoReader  # noqa: E402

CONFIDENT_SCORE = 0.5  # a reference detection counts as a person to find from this box score
MATCH_IOU = 0.5
K = TypeVar("K")  # what a benchmark compares detectors by: an input size, a runtime name
WARMUP_FRAMES = 3  # untimed calls per detector before timing (the first call builds the predictor)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every xyxy box in ``a`` (N, 4) with every box in ``b`` (M, 4): (N, M)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=-1)
    area_a = (a[:, 2:] - a[:, :2]).clip(0, None).prod(axis=-1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0, None).prod(axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def greedy_match(reference: np.ndarray, candidate: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """One-to-one (reference index, candidate index) pairs, highest IoU first, each >= ``min_iou``."""
    if len(reference) == 0 or len(candidate) == 0:
        return []
    iou = iou_matrix(reference, candidate)
    pairs: list[tuple[int, int]] = []
    used_ref: set[int] = set()
    used_cand: set[int] = set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        r, c = divmod(int(flat), iou.shape[1])
        if iou[r, c] < min_iou:
            break
        if r not in used_ref and c not in used_cand:
            pairs.append((r, c))
            used_ref.add(r)
            used_cand.add(c)
    return pairs


@dataclass
class Agreement:
    """How one size's detections compare with the reference size's over a clip."""

    reference_people: int  # confident reference detections, summed over frames
    found: int  # of those, matched by any detection the size reports
    found_confident: int  # of those, matched by a confident detection of the size
    keypoint_conf: float  # mean keypoint confidence of the size's matched people (nan if none)
    reference_keypoint_conf: float  # the same people's mean keypoint confidence at the reference
    people_per_frame: float  # confident detections of the size per frame


def compare(reference: list[Detections], candidate: list[Detections]) -> Agreement:
    """Match, frame by frame, the reference's confident people with the candidate's detections."""
    total = found = found_confident = 0
    conf: list[float] = []
    ref_conf: list[float] = []
    for ref, cand in zip(reference, candidate, strict=True):
        keep = ref.box_scores >= CONFIDENT_SCORE
        ref_boxes, ref_kpt = ref.boxes[keep], ref.keypoint_scores[keep]
        total += len(ref_boxes)
        pairs = greedy_match(ref_boxes, cand.boxes, MATCH_IOU)
        found += len(pairs)
        for r, c in pairs:
            conf.append(float(cand.keypoint_scores[c].mean()))
            ref_conf.append(float(ref_kpt[r].mean()))
        found_confident += len(greedy_match(ref_boxes, cand.boxes[cand.box_scores >= CONFIDENT_SCORE],
                                            MATCH_IOU))
    confident = sum(int((d.box_scores >= CONFIDENT_SCORE).sum()) for d in candidate)
    return Agreement(total, found, found_confident,
                     float(np.mean(conf)) if conf else float("nan"),
                     float(np.mean(ref_conf)) if ref_conf else float("nan"),
                     confident / max(len(candidate), 1))


def percent(count: int, total: int) -> str:
    """``count`` as a share of ``total``, or "n/a" when there is nothing to share."""
    return f"{100 * count / total:.1f}%" if total else "n/a"


def network_input(detector: PoseDetector, frame: np.ndarray) -> str:
    """The letterboxed size (width x height) the network sees for ``frame`` at the detector's imgsz."""
    from ultralytics.data.augment import LetterBox

    stride = int(detector.model.predictor.model.stride)  # the loaded model's, whatever runs it
    height, width = LetterBox((detector.imgsz, detector.imgsz), auto=True, stride=stride)(image=frame).shape[:2]
    return f"{width}x{height}"


def time_detectors(detectors: dict[K, PoseDetector], frames: list[np.ndarray], repeats: int,
                   batch: int) -> tuple[dict[K, float], dict[K, float], dict[K, list[Detections]]]:
    """Median seconds per frame of each detector (keyed by what is compared: a
    size, a runtime), ``batch`` frames per call and one per call, and each
    detector's detections (from its first batched pass)."""
    for detector in detectors.values():
        for frame in frames[:WARMUP_FRAMES]:
            detector(frame)
        detector.detect(frames[:batch])
    batched: dict[K, list[float]] = {key: [] for key in detectors}
    single: dict[K, list[float]] = {key: [] for key in detectors}
    detections: dict[K, list[Detections]] = {}
    for rep in range(repeats):
        order = list(detectors) if rep % 2 == 0 else list(reversed(detectors))
        for key in order:
            start = time.perf_counter()
            found = [d for i in range(0, len(frames), batch) for d in detectors[key].detect(frames[i:i + batch])]
            batched[key].append((time.perf_counter() - start) / len(frames))
            detections.setdefault(key, found)
            start = time.perf_counter()
            for frame in frames:
                detectors[key](frame)
            single[key].append((time.perf_counter() - start) / len(frames))
    median = statistics.median
    return ({key: median(t) for key, t in batched.items()}, {key: median(t) for key, t in single.items()},
            detections)


def bench_clip(path: Path, weights: str, sizes: list[int], num_frames: int,
               repeats: int, batch: int, runtime: str) -> dict[int, tuple[float, Agreement]]:
    """Print one clip's table; return each size's seconds per frame and agreement with the reference."""
    reader = VideoReader(path)
    frames = list(itertools.islice(reader, num_frames))
    info = reader.info
    detectors = {size: PoseDetector(weights, size, conf=DEFAULT_CONF, device=torch.device("cpu"),
                                    runtime=runtime) for size in sizes}
    seconds, single, detections = time_detectors(detectors, frames, repeats, batch)
    ref_size = max(sizes)
    agreements = {size: compare(detections[ref_size], detections[size]) for size in sizes}
    ref = agreements[ref_size]

    print(f"\nclip: {path.name}, {info.width}x{info.height}, {len(frames)} frames decoded; "
          f"reference imgsz {ref_size}: {ref.reference_people} confident people "
          f"({ref.people_per_frame:.2f}/frame)")
    print(f"{'imgsz':>5} {'net input':>10} {'ms/frame':>9} {'vs ref':>7} {'found':>7} {'found@0.5':>10} "
          f"{'kpt conf':>9} {'ref kpt':>8} {'people/frame':>13} {'1/call ms':>10} {'batch x':>8}")
    for size in sizes:
        a = agreements[size]
        print(f"{size:>5} {network_input(detectors[size], frames[0]):>10} {seconds[size] * 1e3:>9.1f} "
              f"{seconds[size] / seconds[ref_size]:>6.2f}x {percent(a.found, a.reference_people):>7} "
              f"{percent(a.found_confident, a.reference_people):>10} "
              f"{a.keypoint_conf:>9.3f} {a.reference_keypoint_conf:>8.3f} {a.people_per_frame:>13.2f} "
              f"{single[size] * 1e3:>10.1f} {single[size] / seconds[size]:>7.2f}x",
              flush=True)
    return {size: (seconds[size], agreements[size]) for size in sizes}


def print_summary(results: list[dict[int, tuple[float, Agreement]]], sizes: list[int]) -> None:
    """Over all clips: mean ms/frame, and the reference's people found, pooled over clips."""
    print(f"\nall {len(results)} clips (ms/frame: mean of clips; found: pooled over clips' reference people)")
    print(f"{'imgsz':>5} {'ms/frame':>9} {'vs ref':>7} {'found':>7} {'found@0.5':>10}")
    ref_ms = statistics.mean(clip[max(sizes)][0] for clip in results) * 1e3
    people = sum(clip[max(sizes)][1].reference_people for clip in results)
    for size in sizes:
        ms = statistics.mean(clip[size][0] for clip in results) * 1e3
        found = sum(clip[size][1].found for clip in results)
        confident = sum(clip[size][1].found_confident for clip in results)
        print(f"{size:>5} {ms:>9.1f} {ms / ref_ms:>6.2f}x {percent(found, people):>7} {percent(confident, people):>10}")


def clip_arguments(parser: argparse.ArgumentParser, compared: str) -> None:
    """The arguments every detector benchmark takes: clips, frames, repetitions per
    ``compared`` setting, frames per call, weights and threads."""
    parser.add_argument("videos", nargs="+", type=Path, metavar="VIDEO")
    parser.add_argument("--frames", type=int, default=120, help="first frames of each clip (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help=f"timed passes per {compared} (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=DEFAULT_DETECT_BATCH,
                        help="frames per detector call, as the demo's --detect-batch (default: %(default)s)")
    parser.add_argument("--weights", default=DEFAULT_DETECTOR, help="YOLO pose weights (default: %(default)s)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    clip_arguments(parser, "size")
    parser.add_argument("--sizes", default="320,480,640,960",
                        help="comma-separated detector input sizes; the largest is the reference "
                             "(default: %(default)s)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="what runs the detector, as the demo's --runtime (default: %(default)s)")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    if len(sizes) < 2 or args.frames < 1 or args.repeats < 1 or args.batch < 1:
        parser.error("need at least two sizes, --frames >= 1, --repeats >= 1 and --batch >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)

    import ultralytics

    weights = resolve_weights(args.weights)
    runtime = resolve_runtime(args.runtime, weights, torch.device("cpu"))
    print(f"detector: {weights}, conf {DEFAULT_CONF}, cpu, runtime {runtime}; confident box score >= {CONFIDENT_SCORE}, "
          f"match IoU >= {MATCH_IOU}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores ({usable_cores()} usable), "
          f"nice {os.nice(0)}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), ultralytics {ultralytics.__version__}, "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    print(f"median of {args.repeats} passes over the first {args.frames} frames, {args.batch} per call, after "
          f"{WARMUP_FRAMES} warm-up frames per size; vs ref = time / time at imgsz {max(sizes)}; "
          f"batch x = time one frame per call / time {args.batch} per call")

    results = [bench_clip(path, weights, sizes, args.frames, args.repeats, args.batch, runtime)
               for path in args.videos]
    if len(results) > 1:
        print_summary(results, sizes)
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

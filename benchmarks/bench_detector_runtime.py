"""Detector runtimes: PyTorch against OpenVINO (float32) on the same frames, per clip.

    nice .venv/bin/python benchmarks/bench_detector_runtime.py VIDEO [VIDEO ...]
        [--imgsz 640] [--frames 120] [--repeats 3] [--batch N] [--threads N]

Each clip's first ``--frames`` frames are decoded once and kept in memory. The
demo's detector (weights, ``conf``, CPU) is built once per runtime, warmed up,
and every repetition times one pass of each runtime over all the frames,
``--batch`` per call as in the demo and then one per call, alternating which
runtime goes first; medians per frame are reported, with ``x torch``, the
PyTorch time over the runtime's, measured in the same run.

PyTorch is also the reference for the detections: ``found`` is the share of
its confident people (box score >= 0.5) that the runtime reports, ``found@0.5``
the share it reports confidently (boxes matched greedily at IoU >= 0.5 in the
same frame, as in bench_detector.py), and ``max kpt px`` the largest keypoint
difference between matched people. Where the CPU computes in bfloat16
(AVX512-BF16, AMX), a third row runs OpenVINO in it, the plugin's default
there, which the demo does not use.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the OpenMP runtime's start

import argparse  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's glagcn_video, installed or not

from bench_detector import (CONFIDENT_SCORE, MATCH_IOU, clip_arguments, compare,  # noqa: E402
                            greedy_match, network_input, percent, time_detectors)
from machine import cpu_model, usable_cores  # noqa: E402
from glagcn_video.pipeline import detect_openvino  # noqa: E402
from glagcn_video.pipeline.detect import DEFAULT_CONF, DEFAULT_IMGSZ, Detections, PoseDetector, resolve_weights  # noqa: E402
from glagcn_video.pipeline.video import VideoReader  # noqa: E402

RUNTIMES = ("torch", "openvino")
# Not offered by the demo (keypoints move by pixels), measured for comparison where the CPU has it.
BF16 = "ov-bf16"


def max_keypoint_difference(reference: list[Detections], candidate: list[Detections]) -> float:
    """Largest keypoint distance (px, per coordinate) between matched confident reference people."""
    worst = 0.0
    for ref, cand in zip(reference, candidate, strict=True):
        keep = ref.box_scores >= CONFIDENT_SCORE
        for r, c in greedy_match(ref.boxes[keep], cand.boxes, MATCH_IOU):
            worst = max(worst, float(np.abs(ref.keypoints[keep][r] - cand.keypoints[c]).max()))
    return worst


def bench_clip(path: Path, weights: str, imgsz: int, num_frames: int, repeats: int, batch: int,
               bf16: bool) -> None:
    """Print one clip's table."""
    reader = VideoReader(path)
    frames = list(itertools.islice(reader, num_frames))
    info = reader.info
    detectors = {name: PoseDetector(weights, imgsz, conf=DEFAULT_CONF, device=torch.device("cpu"), runtime=name)
                 for name in RUNTIMES}
    if bf16:
        detectors[BF16] = PoseDetector(weights, imgsz, conf=DEFAULT_CONF, device=torch.device("cpu"),
                                       runtime="openvino")
        detect_openvino.compile_for_cpu(detectors[BF16].model, detect_openvino.exported_model(weights),
                                        torch.get_num_threads(), precision="bf16")
    seconds, single, detections = time_detectors(detectors, frames, repeats, batch)
    print(f"\nclip: {path.name}, {info.width}x{info.height}, {len(frames)} frames, network input "
          f"{network_input(detectors['torch'], frames[0])}")
    print(f"{'runtime':>8} {'ms/frame':>9} {'x torch':>8} {'1/call ms':>10} {'found':>7} {'found@0.5':>10} "
          f"{'max kpt px':>11}")
    for name in detectors:
        a = compare(detections["torch"], detections[name])
        print(f"{name:>8} {seconds[name] * 1e3:>9.1f} {seconds['torch'] / seconds[name]:>7.2f}x "
              f"{single[name] * 1e3:>10.1f} {percent(a.found, a.reference_people):>7} "
              f"{percent(a.found_confident, a.reference_people):>10} "
              f"{max_keypoint_difference(detections['torch'], detections[name]):>11.2g}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    clip_arguments(parser, "runtime")
    parser.add_argument("--imgsz", type=int, default=DEFAULT_IMGSZ, help="detector input size (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.repeats < 1 or args.batch < 1:
        parser.error("need --frames >= 1, --repeats >= 1 and --batch >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)

    import openvino
    import ultralytics

    weights = resolve_weights(args.weights)
    bf16 = "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    print(f"detector: {weights}, imgsz {args.imgsz}, conf {DEFAULT_CONF}, cpu")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores ({usable_cores()} usable), nice {os.nice(0)}, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), openvino {openvino.__version__.split('-')[0]} (float32, "
          f"same threads), ultralytics {ultralytics.__version__}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    print(f"median of {args.repeats} passes, {args.batch} frames per call (1/call: one per call); "
          f"{BF16 + ': OpenVINO in bfloat16' if bf16 else 'no bfloat16 on this CPU'}")
    for path in args.videos:
        bench_clip(path, weights, args.imgsz, args.frames, args.repeats, args.batch, bf16)
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

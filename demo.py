#!/usr/bin/env python3
"""Turn a video (or photo) of people into 3D skeletons with GLA-GCN.

    python demo.py INPUT --out result.mp4 [--csv joints.csv] [--npz joints.npz]

Without INPUT it runs on a photo that ships with Ultralytics (bus.jpg), so it
works offline on a fresh install. docs/demo.md describes the stages and options.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

# Sleeping, not spinning, OpenMP threads: on a busy laptop spin-waiting threads
# can slow PyTorch on the CPU a hundredfold. Must be set before torch starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from glagcn_video.files import DemoError
from glagcn_video.lifter.checkpoint import CheckpointError
from glagcn_video.lifter.inference import DEFAULT_BATCH_SIZE
from glagcn_video.pipeline.detect import AUTO, AUTO_MAX_IMGSZ, DEFAULT_CONF, DEFAULT_DETECT_BATCH, DEFAULT_DETECTOR, DEFAULT_IMGSZ, RUNTIMES
from glagcn_video.pipeline.refine import DEFAULT_REFINE
from glagcn_video.pipeline.runner import DEFAULT_CHECKPOINT, DemoOptions, DemoResult, run_demo
from glagcn_video.pipeline.track import DEFAULT_TRACKER


def _positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def _imgsz(text: str) -> int | str:
    return AUTO if text == AUTO else _positive(int)(text)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", nargs="?", type=Path,
                        help="video (mp4, mov, avi, mkv, webm, ...) or image; default: Ultralytics' bus.jpg")
    parser.add_argument("--out", type=Path, default=Path("result.mp4"),
                        help="output video (.mp4): the input with 2D skeletons beside a 3D view "
                             "(default: result.mp4)")
    parser.add_argument("--csv", type=Path, help="write joints to this CSV, one row per frame and person")
    parser.add_argument("--npz", type=Path, help="write joints and raw 2D tracks to this NumPy .npz")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="GLA-GCN weights (default: models/glagcn_h36m_default.bin)")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR,
                        help=f"YOLO pose weights: a path or an Ultralytics name, a .yaml builds random "
                             f"weights (default: {DEFAULT_DETECTOR})")
    parser.add_argument("--imgsz", type=_imgsz, default=AUTO,
                        help=f"detector input size in pixels, or auto: {DEFAULT_IMGSZ}, or up to {AUTO_MAX_IMGSZ} "
                             f"when the first second shows small people (default: {AUTO})")
    parser.add_argument("--refine", action=argparse.BooleanOptionalAction, default=DEFAULT_REFINE,
                        help="look again at each small tracked person on an enlarged crop of the frame, for more "
                             "precise keypoints (default: %(default)s)")
    parser.add_argument("--conf", type=_fraction, default=DEFAULT_CONF, help=f"detector confidence threshold (default: {DEFAULT_CONF})")
    parser.add_argument("--detect-batch", type=_positive(int), default=DEFAULT_DETECT_BATCH,
                        help=f"frames per detector call, each held in memory until detected "
                             f"(default: {DEFAULT_DETECT_BATCH})")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="what runs the detector: openvino (CPU only, faster there with the same "
                             "detections; exported once per weights file into a cache folder), torch, or "
                             "auto: openvino for .pt weights on the CPU when installed, else torch "
                             "(default: auto)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: cuda if available, else mps, "
                                         "else cpu)")
    parser.add_argument("--batch-size", type=_positive(int), default=DEFAULT_BATCH_SIZE,
                        help=f"lifter windows per batch (default: {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--no-tta", dest="tta", action="store_false",
                        help="skip flip test-time augmentation (each window lifted once instead of twice, a little "
                             "less accurate)")
    parser.add_argument("--no-rescale", dest="rescale", action="store_false",
                        help="feed the lifter each person at their size on screen instead of at the training "
                             "data's body size (small or large people then get too short or long bones)")
    parser.add_argument("--focal", type=_positive(float),
                        help="focal length in pixels (default: the image diagonal, a 53 degree diagonal view)")
    parser.add_argument("--threads", type=_positive(int),
                        help="CPU threads for PyTorch and OpenVINO (default: every usable core)")
    parser.add_argument("--tracker", default=DEFAULT_TRACKER,
                        help=f"bytetrack, botsort, or an Ultralytics tracker .yaml (default: {DEFAULT_TRACKER})")
    return parser.parse_args(argv)


def _summary(result: DemoResult) -> str:
    if not result.raw_tracks:
        lines = [f"no people detected in {result.video.path}; the 3D panel is empty"]
    elif not result.people:
        lines = [f"nobody in {result.video.path} was tracked long enough to lift; the 3D panel is empty"]
    else:
        ids = ", ".join(map(str, result.person_ids))
        lines = [f"{len(result.person_ids)} people lifted (IDs {ids})"]
    stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.timings.items())
    lines.append(f"{result.num_frames} frames at {result.fps:.2f} fps, detector on {result.detector_runtime} "
                 f"at {result.detector_imgsz} px; "
                 f"{stages}")
    lines.append("wrote " + ", ".join(map(str, result.outputs)))
    return "\n".join(lines)


def _show_package_messages() -> None:
    """The package's log messages (a one-off detector export, a fallback) as plain lines on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("glagcn_video")
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _show_package_messages()
    if args.input is None:
        from ultralytics.utils import ASSETS
        args.input = ASSETS / "bus.jpg"
    options = DemoOptions(checkpoint=args.checkpoint, detector=args.detector, imgsz=args.imgsz,
                          refine=args.refine, conf=args.conf, detect_batch=args.detect_batch, runtime=args.runtime,
                          device=args.device,
                          batch_size=args.batch_size, tta=args.tta, rescale=args.rescale, focal=args.focal,
                          tracker=args.tracker, threads=args.threads)
    try:
        result = run_demo(args.input, args.out, args.csv, args.npz, options)
    except (DemoError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; no output written", file=sys.stderr)
        return 130
    print(_summary(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

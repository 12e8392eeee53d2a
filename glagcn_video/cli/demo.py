"""Turn a video (or photo) of people into 3D skeletons with GLA-GCN.

    glagcn-video INPUT --out result.mp4 [--csv joints.csv] [--npz joints.npz] [--bvh anim.bvh] [--html result.html] ...
    glagcn-video clips/ more.mov 'other/*.mp4' --out-dir results/ [--csv] [--bvh] ...

(``python demo.py ...`` in a checkout.) Without INPUT it runs on a photo that
ships with Ultralytics (bus.jpg), so it works offline on a fresh install.
docs/demo.md describes the stages and options, docs/outputs.md every output
file and its axes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

# Sleeping, not spinning, OpenMP threads: on a busy laptop spin-waiting threads
# can slow PyTorch on the CPU a hundredfold. Must be set before torch starts
# (the package's facade imports nothing, so torch is not loaded yet).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# FFmpeg's own decoder messages ("partial file", "Invalid NAL unit") off: the
# demo says in one line how many frames a damaged file gave.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from ..exports.formats import FRAMES, Exports
from ..files import DemoError
from ..lifter.checkpoint import CheckpointError
from ..lifter.inference import DEFAULT_BATCH_SIZE
from ..lifter.zoo import DEFAULT_MODEL, ZOO
from ..pipeline.batch import batch_formats, is_pattern, run_batch, summary_table
from ..pipeline.detect import (AUTO, AUTO_MAX_IMGSZ, DEFAULT_CONF, DEFAULT_DETECT_BATCH, DEFAULT_DETECTOR,
                               DEFAULT_IMGSZ, RUNTIMES, import_ultralytics)
from ..pipeline.refine import DEFAULT_REFINE
from ..pipeline.runner import DemoOptions, DemoResult, run_demo
from ..pipeline.track import DEFAULT_TRACKER
from ..view.layouts import DEFAULT_VIEW, VIEWS
from ..world.filters import DEFAULT_CUTOFF_HZ, SMOOTHERS
from ..world.motion import PLACEMENTS, WorldOptions


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
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="video (mp4, mov, avi, mkv, webm, ...) or image; several, folders (the videos in "
                             "them) or patterns such as 'clips/*.mp4' need --out-dir; default: Ultralytics' "
                             "bus.jpg")
    parser.add_argument("--out", type=Path,
                        help="output video (.mp4): the input with 2D skeletons beside a 3D view "
                             "(default: result.mp4)")
    parser.add_argument("--out-dir", type=Path,
                        help="folder for the outputs of many inputs: <stem>.mp4 and each export named after "
                             "the input; an input whose video is there already is skipped")
    parser.add_argument("--overwrite", action="store_true", help="with --out-dir: redo inputs already done")
    for option, what in (
            ("--csv", "joints to this CSV, one row per frame and person"),
            ("--npz", "joints, raw 2D tracks and the camera's pose to this NumPy .npz"),
            ("--bvh", "one BVH animation per person, NAME_<ID>.bvh (Y up, metres)"),
            ("--trc", "one OpenSim marker file per person, NAME_<ID>.trc (millimetres)"),
            ("--c3d", "one C3D marker file per person, NAME_<ID>.c3d (millimetres)")):
        parser.add_argument(option, type=Path, nargs="?", const=True,
                            help=f"write {what} (without a file name: named after the output video)")
    parser.add_argument("--angles", type=Path, nargs="?", const=True,
                        help="write joint angles in degrees to this CSV, one row per frame and person "
                             "(without a file name: <video name>_angles.csv)")
    parser.add_argument("--frame", choices=FRAMES,
                        help="axes of every 3D export: camera (x right, y down, z forward) or world (y up, "
                             "on the ground); default: camera for CSV and NPZ, world for BVH, TRC and C3D")
    parser.add_argument("--html", type=Path,
                        help="write an interactive 3D viewer to this self-contained .html (opens offline; "
                             "plays the output video in step when it is in the same folder)")
    parser.add_argument("--view", choices=VIEWS, default=DEFAULT_VIEW,
                        help="the 3D panel's layout: scene (everyone where they stand, the camera following "
                             "the people present, plus a small view per person when there are several), "
                             "people (one view centred on each person), orbit (scene, the camera circling "
                             f"slowly) (default: {DEFAULT_VIEW})")
    parser.add_argument("--checkpoint", default=DEFAULT_MODEL,
                        help=f"GLA-GCN weights: a shipped model's name ({', '.join(ZOO)}; see "
                             f"models/README.md) or a checkpoint file (default: {DEFAULT_MODEL})")
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
    world = WorldOptions()
    parser.add_argument("--placement", choices=PLACEMENTS, default=world.placement,
                        help="how far away each person is: 'ground' from where their planted feet meet the "
                             "ground, body size where no foot is down; 'size' from body size alone "
                             f"(default: {world.placement})")
    parser.add_argument("--foot-lock", action=argparse.BooleanOptionalAction, default=world.foot_lock,
                        help="keep a planted foot where it landed (knee by two-bone IK, bone lengths kept)")
    parser.add_argument("--smooth", choices=SMOOTHERS, default=world.smooth,
                        help="filter for the world joints before every output: zero-phase 'butterworth', "
                             f"causal 'oneeuro', or 'none' (default: {world.smooth})")
    parser.add_argument("--smooth-hz", type=_positive(float), metavar="HZ",
                        help="the filter's cut-off (One Euro: its minimum cut-off) in Hz (default: "
                             + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_CUTOFF_HZ.items()) + ")")
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
    """The package's log messages (a one-off detector export, a fallback, a
    cut file) as plain lines on stderr, once however often ``main`` runs."""
    log = logging.getLogger("glagcn_video")
    for old in [h for h in log.handlers if getattr(h, "demo_cli", False)]:
        log.removeHandler(old)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.demo_cli = True
    log.addHandler(handler)
    log.setLevel(logging.INFO)


EXPORTS = ("csv", "npz", "bvh", "trc", "c3d", "angles")


def _is_batch(args: argparse.Namespace) -> bool:
    return (args.out_dir is not None or len(args.inputs) > 1
            or any(Path(i).is_dir() or (is_pattern(i) and not Path(i).exists()) for i in args.inputs))


def _run_one(args: argparse.Namespace, options: DemoOptions, values: dict) -> int:
    if args.overwrite:
        raise DemoError("--overwrite", "only with --out-dir (a single run always writes its outputs)")
    if args.inputs:
        video = Path(args.inputs[0])
    else:
        import_ultralytics()
        from ultralytics.utils import ASSETS
        video = ASSETS / "bus.jpg"
    out = args.out or Path("result.mp4")
    exports = Exports.from_options(values, out.with_suffix(""), args.frame)
    result = run_demo(video, out, options=options, exports=exports, html=args.html)
    print(_summary(result), file=sys.stderr)
    return 0


def _run_many(args: argparse.Namespace, options: DemoOptions, values: dict) -> int:
    if args.html is not None:
        raise DemoError(f"--html {args.html}", "names one page; it is written for a single input only")
    if args.out is not None:
        raise DemoError(f"--out {args.out}", "names one output video; with several inputs use --out-dir, "
                                             "where each is <stem>.mp4")
    if args.out_dir is None:
        raise DemoError("--out-dir", "several inputs, a folder or a pattern need an output folder: "
                                     "add --out-dir FOLDER")
    rows = run_batch(args.inputs, args.out_dir, batch_formats(values), args.frame, options, args.overwrite)
    print(summary_table(rows))
    return 1 if any(row.failed for row in rows) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _show_package_messages()
    options = DemoOptions(checkpoint=args.checkpoint, detector=args.detector, imgsz=args.imgsz,
                          refine=args.refine, conf=args.conf, detect_batch=args.detect_batch, runtime=args.runtime,
                          device=args.device,
                          batch_size=args.batch_size, tta=args.tta, rescale=args.rescale, focal=args.focal,
                          tracker=args.tracker, threads=args.threads, view=args.view,
                          world=WorldOptions(placement=args.placement, foot_lock=args.foot_lock,
                                             smooth=args.smooth, smooth_hz=args.smooth_hz))
    values = {name: getattr(args, name) for name in EXPORTS}
    try:
        return (_run_many if _is_batch(args) else _run_one)(args, options, values)
    except (DemoError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; no output written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

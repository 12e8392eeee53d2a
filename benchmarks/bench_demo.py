"""End-to-end demo benchmark: time per frame of every stage, on one video.

    python benchmarks/bench_demo.py VIDEO [--repeats 3] [--checkpoint PATH] [--imgsz 640|auto]
        [--refine|--no-refine] [--runtime auto|torch|openvino] [--threads N] [--device D] [--no-tta]
        [--compare-world]

Runs the whole demo ``--repeats`` times and prints, per stage, the median time
per decoded frame (decode, detect, refine, track, keypoints, lift, render, encode),
the total divided by the video's duration (below 1.0 means faster than real
time) and the peak resident memory. As a baseline measured in the same run,
the lift stage is repeated with the plain eval-mode GLA-GCN module instead of
the fast inference path, and the ratio printed. With ``--compare-world`` every
repeat also runs the demo with the world stage as it was before placement
from the feet, foot locking and filtering (body-size placement only),
alternating with the default, and prints both totals and their ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as demo.py: before torch starts

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's glagcn_video, installed or not

from machine import cpu_model  # noqa: E402
from glagcn_video.cpu import torch_threads, usable_cores  # noqa: E402
from glagcn_video.lifter.checkpoint import load_checkpoint  # noqa: E402
from glagcn_video.lifter.inference import Lifter, resolve_device  # noqa: E402
from glagcn_video.pipeline.detect import AUTO, RUNTIMES  # noqa: E402
from glagcn_video.pipeline.refine import DEFAULT_REFINE  # noqa: E402
from glagcn_video.pipeline.keypoints import clean_tracks  # noqa: E402
from glagcn_video.pipeline.runner import DEFAULT_CHECKPOINT, DemoOptions, lift_track, run_demo  # noqa: E402
from glagcn_video.skeleton import H36M  # noqa: E402
from glagcn_video.world.motion import WorldOptions  # noqa: E402

STAGES = ("decode", "detect", "refine", "track", "keypoints", "lift", "world", "render", "encode")
# The world stage before bench_world.py's work: body-size placement, no filter, no foot locking.
WORLD_BEFORE = WorldOptions(placement="size", foot_lock=False, smooth="none")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--imgsz", type=lambda text: text if text == AUTO else int(text), default=AUTO,
                        help="detector input size or auto, as the demo's --imgsz (default: %(default)s)")
    parser.add_argument("--refine", action=argparse.BooleanOptionalAction, default=DEFAULT_REFINE,
                        help="as the demo's --refine (default: %(default)s)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--no-tta", dest="tta", action="store_false")
    parser.add_argument("--threads", type=int, help="PyTorch CPU threads (default: the demo's, every core)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="what runs the detector, as the demo's --runtime (default: %(default)s)")
    parser.add_argument("--compare-world", action="store_true",
                        help="also time the demo with the world stage as it was before (WORLD_BEFORE)")
    args = parser.parse_args()

    threads = args.threads or usable_cores()
    options = DemoOptions(checkpoint=args.checkpoint, imgsz=args.imgsz, refine=args.refine, device=args.device,
                          tta=args.tta, threads=threads, runtime=args.runtime)
    runs, before_runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            order = [(options, runs)]
            if args.compare_world:  # alternating which goes first, so load changes hit both alike
                order.append((dataclasses.replace(options, world=WORLD_BEFORE), before_runs))
                order = order[::-1] if repeat % 2 else order
            for run_options, into in order:
                start = time.perf_counter()
                result = run_demo(args.video, Path(tmp) / "out.mp4", options=run_options, progress=False)
                into.append((time.perf_counter() - start, dict(result.timings)))
    frames = result.num_frames
    duration = frames / result.fps

    # Baseline in the same run: the lift stage with the faithful module.
    device = resolve_device(args.device)
    model = load_checkpoint(args.checkpoint, map_location=device)
    plain = Lifter(model, model.receptive_field, device, H36M, options.batch_size, options.tta)
    segments = clean_tracks(result.raw_tracks, result.fps, frames)
    plain_times = []
    with torch_threads(threads):  # as many as the demo's lift stage had
        for _ in range(args.repeats):
            start = time.perf_counter()
            for track in segments:
                lift_track(track, plain, result.video, result.focal)
            plain_times.append(time.perf_counter() - start)

    print(f"video: {args.video} ({result.video.width}x{result.video.height}, {frames} frames, "
          f"{result.fps:.2f} fps, {duration:.1f} s, {len(result.person_ids)} people lifted)")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({threads} threads), device {device}")
    print(f"settings: detector on {result.detector_runtime}, imgsz {args.imgsz} ({result.detector_imgsz} px), "
          f"refine {'on' if args.refine else 'off'}, TTA {'on' if args.tta else 'off'}, "
          f"lifter {args.checkpoint.name} ({model.receptive_field} frames, {model.channels} channels); "
          f"median of {args.repeats} runs\n")
    print(f"{'stage':<12}{'ms/frame':>10}")
    for stage in STAGES:
        per_frame = statistics.median(t.get(stage, 0.0) for _, t in runs) / frames * 1000
        print(f"{stage:<12}{per_frame:>10.2f}")
    total = statistics.median(wall for wall, _ in runs)
    print(f"{'total':<12}{total / frames * 1000:>10.2f}  (wall, incl. loading "
          f"{statistics.median(t['load'] for _, t in runs):.2f} s)")
    print(f"\ntotal / video duration: {total / duration:.2f}")
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if before_runs:
        before_total = statistics.median(wall for wall, _ in before_runs)
        print(f"world stage as before: total / video duration {before_total / duration:.2f}, world "
              f"{statistics.median(t.get('world', 0.0) for _, t in before_runs) / frames * 1000:.2f} ms/frame; "
              f"default / before {total / before_total:.3f}")
    fast_lift = statistics.median(t["lift"] for _, t in runs)
    plain_lift = statistics.median(plain_times)
    print(f"lift stage: fast path {fast_lift:.2f} s, plain module {plain_lift:.2f} s "
          f"-> {plain_lift / max(fast_lift, 1e-9):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The output video's encoder: x264 presets compared on the demo's own frames.

    python benchmarks/bench_encode.py VIDEO [--presets veryfast,superfast] [--repeats 3]

VIDEO is a demo output (or any video); its decoded frames are encoded again
by the demo's writer (glagcn_video.pipeline.video.open_video_writer) with each
preset, in turn, ``--repeats`` times. Reported per preset: the encoder's CPU
time per frame (user + system of the ffmpeg process, all its threads: on a
2-core machine this is what the encoder takes away from the other stages),
median over the repeats, and its ratio to the first preset's; the file size;
and the PSNR of the decoded result against the frames it was given.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's glagcn_video, installed or not

from glagcn_video.pipeline.video import VideoReader, open_video_writer  # noqa: E402


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def encode(frames: list[np.ndarray], fps: float, path: Path, preset: str) -> float:
    """Encode ``frames`` to ``path``; the encoder's CPU seconds."""
    before = children_cpu_s()
    height, width = frames[0].shape[:2]
    with open_video_writer(path, width, height, fps, preset=preset) as writer:
        for frame in frames:
            writer.write(frame)
    return children_cpu_s() - before


def psnr(frames: list[np.ndarray], path: Path) -> float:
    decoded = list(VideoReader(path))
    return float(np.mean([cv2.PSNR(a, b[:a.shape[0], :a.shape[1]]) for a, b in zip(frames, decoded)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--presets", default="veryfast,superfast")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    reader = VideoReader(args.video)
    frames = list(reader)
    presets = args.presets.split(",")
    cpu: dict[str, list[float]] = {p: [] for p in presets}
    sizes, quality = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for preset in presets:
                out = Path(tmp) / f"{preset}.mp4"
                cpu[preset].append(encode(frames, reader.info.fps, out, preset))
                sizes[preset] = out.stat().st_size
        for preset in presets:
            quality[preset] = psnr(frames, Path(tmp) / f"{preset}.mp4")
    height, width = frames[0].shape[:2]
    print(f"video: {args.video} ({width}x{height}, {len(frames)} frames); median of {args.repeats}\n")
    print(f"{'preset':<12}{'cpu ms/frame':>14}{'x ' + presets[0]:>16}{'MB':>8}{'PSNR dB':>10}")
    base = statistics.median(cpu[presets[0]])
    for preset in presets:
        median = statistics.median(cpu[preset])
        print(f"{preset:<12}{median / len(frames) * 1e3:>14.1f}{median / base:>15.2f}x"
              f"{sizes[preset] / 1e6:>8.2f}{quality[preset]:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

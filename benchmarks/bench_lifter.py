"""Lifter speed: the faithful eval-mode GLA-GCN against ``optimize_for_inference``.

Both run the same model (by default the released 243-frame, 96-channel
Human3.6M architecture with random weights, or ``--checkpoint``) on the same
random windows. For each batch size, every repetition times one forward of
each model, alternating which goes first, after ``--warmup`` untimed rounds;
the median over repetitions is reported as windows per second, with the
outputs' max abs difference and, for scale, the faithful model's own float32
rounding error (its distance from the same model in float64). The one-off
costs of the fast path (building it, which folds the weights and builds the
FFT spectra, and its first call) are reported separately.

    nice .venv/bin/python benchmarks/bench_lifter.py [--batch-sizes 1,64] [--repeats 5]
        [--warmup 1] [--threads N] [--chunk-size N] [--device cpu,cuda]
        [--checkpoint PATH [--layout NAME]]

On a shared machine, OpenMP threads that spin while waiting make multi-thread
CPU timings meaningless (we measured 4.4 s instead of 62 ms per window for
the faithful model at 2 threads, with other processes on both cores), so
unless OMP_WAIT_POLICY is set this script sets it to PASSIVE before torch
starts; the value in effect is printed.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the OpenMP runtime's start

import argparse  # noqa: E402
import copy  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's glagcn_video, installed or not

from machine import cpu_model  # noqa: E402
from glagcn_video.lifter.checkpoint import describe, load_checkpoint  # noqa: E402
from glagcn_video.lifter.fast import DEFAULT_CHUNK_SIZE, optimize_for_inference  # noqa: E402
from glagcn_video.lifter.inference import DEFAULT_BATCH_SIZE  # noqa: E402
from glagcn_video.lifter.model import GLAGCN  # noqa: E402
from glagcn_video.skeleton import H36M  # noqa: E402

TOLERANCE = 1e-5


def timer(device: torch.device) -> Callable[[Callable[[], object]], float]:
    """Seconds one call takes, waiting for the device to finish."""
    def run(fn: Callable[[], object]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start
    return run


def bench_device(model: GLAGCN, device: torch.device, batch_sizes: list[int], repeats: int,
                 warmup: int, chunk_size: int | None, seed: int) -> bool:
    """Print one table row per batch size; False if any output differs beyond TOLERANCE."""
    model = model.to(device).eval()
    clock = timer(device)
    gen = torch.Generator().manual_seed(seed)
    inputs = {n: torch.randn(n, model.receptive_field, model.num_joints_in, 2, generator=gen).to(device)
              for n in batch_sizes}

    fast = None

    def build() -> None:
        nonlocal fast
        fast = optimize_for_inference(model, chunk_size=chunk_size)

    build_s = clock(build)
    with torch.inference_mode():
        first_s = clock(lambda: fast(inputs[batch_sizes[0]]))
    print(f"[{device}] one-off: optimize_for_inference {build_s * 1e3:.0f} ms (folds weights, builds "
          f"FFT spectra); first fast call (batch {batch_sizes[0]}) {first_s * 1e3:.0f} ms")

    ok = True
    print(f"{'device':<7} {'batch':>5} {'faithful win/s':>15} {'fast win/s':>11} {'speed-up':>9} "
          f"{'max |diff|':>11} {'f32 noise':>10}")
    for n in batch_sizes:
        x = inputs[n]
        runners = {"faithful": lambda x=x: model(x), "fast": lambda x=x: fast(x)}
        times: dict[str, list[float]] = {name: [] for name in runners}
        with torch.inference_mode():
            expected = model(x)
            diff = (fast(x) - expected).abs().max().item()
            noise = float32_noise(model, x, expected)
            for rep in range(warmup + repeats):
                order = list(runners) if rep % 2 == 0 else list(reversed(runners))
                for name in order:
                    elapsed = clock(runners[name])
                    if rep >= warmup:
                        times[name].append(elapsed)
        rate = {name: n / statistics.median(t) for name, t in times.items()}
        ok &= diff <= max(TOLERANCE, 2 * noise)
        print(f"{device.type:<7} {n:>5} {rate['faithful']:>15.2f} {rate['fast']:>11.2f} "
              f"{rate['fast'] / rate['faithful']:>8.2f}x {diff:>11.2e} {noise:>10.2e}", flush=True)
    return ok


def float32_noise(model: GLAGCN, x: torch.Tensor, expected: torch.Tensor) -> float:
    """How far the faithful float32 output itself is from float64 arithmetic.

    A trained model fed random windows (far outside its training inputs) can
    amplify rounding beyond TOLERANCE on its own; then two float32 orders of
    the same sums may differ by up to twice this much, and no more is asked.
    """
    exact = copy.deepcopy(model).double()(x.double())
    return (expected.double() - exact).abs().max().item()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="a GLA-GCN checkpoint (default: random weights, "
                        "Human3.6M widths 3,3,3,3,3, 96 channels)")
    parser.add_argument("--layout", help="joint layout for --checkpoint where shapes cannot tell")
    parser.add_argument("--batch-sizes", default=f"1,{DEFAULT_BATCH_SIZE}",
                        help="comma-separated windows per forward (default: 1 and the demo's %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed repetitions first (default: %(default)s)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--chunk-size", type=int,
                        help=f"windows per pass inside the fast path (default: its own, {DEFAULT_CHUNK_SIZE} "
                             f"on the CPU, the whole batch on a GPU)")
    parser.add_argument("--device", default="cpu,cuda",
                        help="comma-separated devices; cuda is skipped when absent (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    batch_sizes = [int(n) for n in args.batch_sizes.split(",")]
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.checkpoint:
        model, source = load_checkpoint(args.checkpoint, layout=args.layout), args.checkpoint
    else:
        torch.manual_seed(args.seed)
        model, source = GLAGCN(H36M, (3, 3, 3, 3, 3), 96).eval(), "random weights"
    print(f"model: {describe(model)}, {source}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    print(f"median of {args.repeats} repetitions after {args.warmup} warm-up; fast path chunk size "
          f"{args.chunk_size or 'default'}")

    ok = True
    for name in args.device.split(","):
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            print("cuda: not available, skipped")
            continue
        if device.type == "cuda":
            print(f"gpu: {torch.cuda.get_device_name(device)}")
        ok &= bench_device(model, device, batch_sizes, args.repeats, args.warmup, args.chunk_size,
                           args.seed)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not ok:
        print(f"MISMATCH: the fast path differs from the faithful model by more than {TOLERANCE} "
              f"and more than twice the faithful model's own float32 rounding")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

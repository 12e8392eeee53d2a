"""Training speed per precision: windows per second of one full training step
(autocast forward, float32 loss, backward, Ranger step) for float32 and each
lower precision the device offers, side by side in one run.

Every repetition times one step in each precision, alternating which goes
first, after ``--warmup`` untimed steps each; the median over repetitions is
reported, with its ratio to float32 measured in the same run. Random windows
and targets: the step's cost does not depend on the values.

    nice .venv/bin/python benchmarks/bench_train.py [--configs 243:32:64,27:32:256]
        [--repeats 4] [--warmup 1] [--threads N] [--device cpu]

A config is ``frames:channels:batch``; frames is 27, 81 or 243 (filter widths
3,3,3 / 3,3,3,3 / 3,3,3,3,3).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the OpenMP runtime's start

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's glagcn_video, installed or not

from machine import cpu_model  # noqa: E402
from glagcn_video.lifter.model import GLAGCN  # noqa: E402
from glagcn_video.skeleton import H36M  # noqa: E402
from glagcn_video.training.loop import cpu_has_native_bf16, make_grad_scaler, make_optimizer  # noqa: E402
from glagcn_video.training.metrics import mpjpe_loss  # noqa: E402

WIDTHS = {27: (3, 3, 3), 81: (3, 3, 3, 3), 243: (3, 3, 3, 3, 3)}


def precisions(device: torch.device) -> list[torch.dtype]:
    """float32 first (the baseline), then what autocast offers on this device."""
    if device.type == "cuda":
        lower = [torch.bfloat16] if torch.cuda.is_bf16_supported() else []
        return [torch.float32, *lower, torch.float16]
    return [torch.float32, torch.bfloat16]


class Step:
    """One model, optimizer and batch per precision, so each keeps its own state."""

    def __init__(self, frames: int, channels: int, batch: int, precision: torch.dtype,
                 device: torch.device):
        torch.manual_seed(0)
        self.model = GLAGCN(H36M, WIDTHS[frames], channels).to(device).train()
        self.optimizer = make_optimizer(self.model, 1e-3)
        self.scaler = make_grad_scaler(precision, device)
        self.precision, self.device = precision, device
        self.x = torch.randn(batch, frames, 17, 2, device=device) * 0.3
        self.y = torch.randn(batch, 1, 17, 3, device=device) * 0.3

    def __call__(self) -> float:
        """Seconds for one step, waiting for the device."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        self.optimizer.zero_grad()
        with torch.autocast(self.device.type, dtype=self.precision,
                            enabled=self.precision != torch.float32):
            predicted = self.model(self.x)
        loss = mpjpe_loss(predicted.float(), self.y)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default="27:32:256,243:32:64")
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"{cpu_model()}, {torch.get_num_threads()} threads, native bfloat16: "
        f"{'yes' if cpu_has_native_bf16() else 'no (emulated)'}")
    print(f"# {where}; torch {torch.__version__}; OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; "
          f"median of {args.repeats} steps")
    dtypes = precisions(device)
    names = [str(d).removeprefix("torch.") for d in dtypes]
    print("| frames | channels | batch | " + " | ".join(f"{n} windows/s" for n in names)
          + "".join(f" | {n} / float32" for n in names[1:]) + " |")
    print("| --- " * (3 + 2 * len(names) - 1) + "|")
    for config in args.configs.split(","):
        frames, channels, batch = (int(v) for v in config.split(":"))
        steps = [Step(frames, channels, batch, d, device) for d in dtypes]
        for step in steps:
            for _ in range(args.warmup):
                step()
        times: list[list[float]] = [[] for _ in steps]
        for r in range(args.repeats):
            order = range(len(steps)) if r % 2 == 0 else reversed(range(len(steps)))
            for i in order:
                times[i].append(steps[i]())
        rates = [batch / statistics.median(t) for t in times]
        print(f"| {frames} | {channels} | {batch} | " + " | ".join(f"{r:.1f}" for r in rates)
              + "".join(f" | {r / rates[0]:.2f}x" for r in rates[1:]) + " |", flush=True)


if __name__ == "__main__":
    main()

"""Train and evaluate the GLA-GCN lifter on Human3.6M or HumanEva-I.

The authors' command lines work unchanged, e.g.

    python train.py -k gt -arc 3,3,3,3,3 -ch 96 -da -tta -c checkpoint/h36m
    python train.py -k gt -arc 3,3,3,3,3 -tta --evaluate best_epoch.bin

Data (VideoPose3D npz files and cameras.json) is read from --data-dir;
docs/data.md says how to prepare it. Read top to bottom: arguments, data,
model, then either one evaluation or the training loop.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

# Sleeping, not spinning, OpenMP threads: on a busy laptop spin-waiting threads
# can slow PyTorch on the CPU a hundredfold. Must be set before torch starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from tqdm import tqdm

from glagcn_video.lifter.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from glagcn_video.datasets.load import DataError, Sequence, dataset_info, load_dataset
from glagcn_video.datasets.windows import WindowSampler
from glagcn_video.lifter.model import GLAGCN
from glagcn_video.training.evaluation import action_average, evaluate
from glagcn_video.training.loop import (
    PRECISIONS, EpochProgress, bn_momentum, corrupt_sequence, cosine_lr, make_grad_scaler, make_optimizer,
    resolve_precision, train_epoch)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train and evaluate GLA-GCN (the authors' flags).")
    p.add_argument("-d", "--dataset", default="h36m", help="h36m or humaneva15")
    p.add_argument("-k", "--keypoints", default="gt", help="2D keypoints: data_2d_<dataset>_<NAME>.npz")
    p.add_argument("-str", "--subjects-train", default=None, help="comma-separated (default: the dataset's)")
    p.add_argument("-ste", "--subjects-test", default=None, help="comma-separated (default: the dataset's)")
    p.add_argument("-a", "--actions", default=None,
                   help="comma-separated action prefixes, or * for all (default: the dataset's "
                        "protocol: all for h36m, Walk,Jog,Box for humaneva15)")
    p.add_argument("-c", "--checkpoint", default=None,
                   help="checkpoint directory (default: checkpoint/<dataset>)")
    p.add_argument("--checkpoint-frequency", default=10, type=int, help="keep epoch_N.bin every N epochs")
    p.add_argument("-r", "--resume", default="", help="checkpoint to resume (path, or name in -c)")
    p.add_argument("--evaluate", default="", help="checkpoint to evaluate (path, or name in -c)")
    p.add_argument("--by-subject", action="store_true", help="break evaluation down by subject")
    p.add_argument("--export-training-curves", action="store_false",
                   help="pass to NOT plot training curves (the authors' inverted flag)")
    p.add_argument("-s", "--stride", default=1, type=int,
                   help="train on every N-th target frame (windows keep the full frame rate)")
    p.add_argument("-e", "--epochs", default=80, type=int)
    p.add_argument("-b", "--batch-size", default=512, type=int)
    p.add_argument("-drop", "--dropout", default=0.1, type=float)
    p.add_argument("-lr", "--learning-rate", default=0.01, type=float)
    p.add_argument("-da", "--data-augmentation", action="store_true", help="enable train-time flipping")
    p.add_argument("-tta", "--test-time-augmentation", action="store_true", help="enable test-time flipping")
    p.add_argument("-arc", "--architecture", default="3,3,3,3,3", help="filter widths, comma-separated")
    p.add_argument("-ch", "--channels", default=96, type=int)
    p.add_argument("--subset", default=1.0, type=float, help="train on this fraction of each sequence")
    p.add_argument("--downsample", default=1, type=int, help="downsample the frame rate by this factor")
    p.add_argument("--no-eval", action="store_true", help="skip the per-epoch evaluation")
    # Additions of this project.
    p.add_argument("--data-dir", default="data", type=Path, help="folder with the npz files and cameras.json")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--eval-stride", default=1, type=int,
                   help="score every k-th test frame (windows keep the full frame rate)")
    p.add_argument("--noise-px", default=0.0, type=float,
                   help="train-time 2D noise: Gaussian, sigma uniform in [0, N] px per window")
    p.add_argument("--drop-keypoints", default=0.0, type=float,
                   help="train-time probability of replacing a 2D joint by its temporal neighbours' mean")
    p.add_argument("--eval-noise-px", default=0.0, type=float,
                   help="robustness check: add Gaussian noise of N px to the test 2D")
    p.add_argument("--eval-drop-keypoints", default=0.0, type=float,
                   help="robustness check: drop test 2D joints with this probability, filled by interpolation")
    p.add_argument("--seed", default=1234, type=int)
    p.add_argument("--precision", default="auto", choices=["auto", *PRECISIONS],
                   help="training arithmetic: auto = bf16 autocast on a CPU with native bfloat16 and on "
                        "CUDA GPUs that have it, fp16 (with loss scaling) on older CUDA GPUs with tensor "
                        "cores, else fp32; weights, loss, BatchNorm statistics and the optimizer stay "
                        "fp32, and evaluation always runs in fp32")
    p.add_argument("--time-budget", default=None, type=float, metavar="HOURS",
                   help="stop after this many hours of this invocation, mid-epoch if need be, after "
                        "writing last_epoch.bin; -r last_epoch.bin continues exactly")
    p.add_argument("--checkpoint-minutes", default=30.0, type=float,
                   help="also write last_epoch.bin every N minutes within an epoch, so that a killed run "
                        "loses at most N minutes (SIGTERM and Ctrl-C save before stopping)")
    args = p.parse_args(argv)
    if args.resume and args.evaluate:
        p.error("--resume and --evaluate cannot be set at the same time")
    return args


def in_checkpoint_dir(name: str, folder: str) -> Path:
    """The authors pass file names relative to -c; accept plain paths too."""
    path = Path(name)
    return path if path.exists() or path.is_absolute() else Path(folder) / name


def select(sequences: list[Sequence], subset: float, downsample: int, seed: int) -> list[Sequence]:
    """Every ``downsample``-th frame of a ``subset`` fraction (a deterministic contiguous chunk)."""
    rng = np.random.default_rng(seed)
    out = []
    for seq in sequences:
        frames = len(seq.poses_3d)
        keep = max(int(round(frames * subset)), 1)
        start = int(rng.integers(0, frames - keep + 1))
        part = slice(start, start + keep, downsample)
        out.append(replace(seq, poses_2d=seq.poses_2d[part], poses_3d=seq.poses_3d[part]))
    return out


def print_tables(results: dict[str, dict[str, dict[str, float]]]) -> None:
    names = {"p1": "MPJPE (P#1)", "p2": "P-MPJPE (P#2)", "n": "N-MPJPE", "velocity": "MPJVE"}
    for mode, table in results.items():
        title = "with test-time flipping" if mode == "flip" else "without test-time flipping"
        print(f"\n{title} (mm)")
        print(f"{'action':<24}" + "".join(f"{v:>15}" for v in names.values()))
        for action, row in table.items():
            print(f"{action:<24}" + "".join(f"{row[k]:>15.1f}" for k in names))
        avg = action_average(table)
        print(f"{'average':<24}" + "".join(f"{avg[k]:>15.1f}" for k in names))


def write_log(path: Path, history: list[dict[str, float]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def plot_curves(path: Path, history: list[dict[str, float]]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [h["train_mpjpe_mm"] for h in history], label="train MPJPE")
    if any(h["eval_mpjpe_mm"] == h["eval_mpjpe_mm"] for h in history):  # any non-NaN
        ax.plot(epochs, [h["eval_mpjpe_mm"] for h in history], label="test MPJPE")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mm")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class Stopper:
    """Turns SIGTERM, SIGINT and the time budget into a request to stop after
    the current batch, so that a run ends with a checkpoint instead of losing
    its work: a machine being shut down sends SIGTERM, then waits a little."""

    def __init__(self, hours: float | None):
        self.deadline = time.time() + hours * 3600 if hours is not None else None
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "Stopper":
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None:  # a second Ctrl-C: the user means it
            raise KeyboardInterrupt
        self.signal = signum
        print(f"\n{signal.Signals(signum).name}: stopping after this batch with a checkpoint "
              "(again to stop at once, losing the epoch's progress since the last checkpoint)",
              file=sys.stderr, flush=True)

    @property
    def reason(self) -> str | None:
        if self.signal is not None:
            return signal.Signals(self.signal).name
        if self.deadline is not None and time.time() >= self.deadline:
            return "time budget reached"
        return None

    def exit_code(self) -> int:
        """0 for the time budget (the run did what was asked), 128 + signal otherwise."""
        return 128 + self.signal if self.signal is not None else 0


class Stopped(Exception):
    """Raised inside evaluation when a stop is requested."""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    # Windows have one fixed shape: let cuDNN time its kernels once and keep the fastest.
    torch.backends.cudnn.benchmark = device.type == "cuda"
    info = dataset_info(args.dataset)
    subjects_train = args.subjects_train.split(",") if args.subjects_train else list(info.train_subjects)
    subjects_test = args.subjects_test.split(",") if args.subjects_test else list(info.test_subjects)
    if args.actions is None:
        actions = list(info.actions) if info.actions else None
    else:
        actions = None if args.actions == "*" else args.actions.split(",")
    if args.checkpoint is None:
        args.checkpoint = f"checkpoint/{info.name}"
    pixel = 2 / info.image_width  # one pixel in normalised 2D coordinates, for the noise options
    widths = [int(w) for w in args.architecture.split(",")]
    checkpoint_dir = Path(args.checkpoint)

    # ---- data
    needed = subjects_test if args.evaluate else subjects_train + subjects_test
    dataset = load_dataset(info.name, args.data_dir, args.keypoints, subjects=dict.fromkeys(needed))
    test = select(dataset.select(subjects_test, actions), 1.0, args.downsample, args.seed)
    print(f"{len(test)} test sequences, {sum(len(s.poses_3d) for s in test)} frames"
          + (f" (actions {', '.join(actions)})" if actions else ""))

    # ---- evaluation only
    if args.evaluate:
        path = in_checkpoint_dir(args.evaluate, args.checkpoint)
        model = load_checkpoint(path, layout=info.layout.name if info.layout.num_joints != 17 else None,
                                map_location=device)
        print(f"evaluating {path} ({model.receptive_field} frames) every {args.eval_stride} frame(s)")
        if args.eval_noise_px > 0 or args.eval_drop_keypoints > 0:
            rng = np.random.default_rng(args.seed)
            test = [replace(s, poses_2d=corrupt_sequence(s.poses_2d, rng, args.eval_noise_px,
                                                         args.eval_drop_keypoints, pixel)) for s in test]
            print(f"test 2D corrupted: noise {args.eval_noise_px} px, "
                  f"joints dropped with p={args.eval_drop_keypoints}")
        results = evaluate(model, test, info.layout, device, args.test_time_augmentation,
                           args.eval_stride, args.by_subject, wrap=lambda it: tqdm(it, desc="evaluate"))
        print_tables(results)
        return 0

    train = select(dataset.select(subjects_train, actions), args.subset, args.downsample, args.seed)
    torch.manual_seed(args.seed)  # the initial weights follow --seed (a resumed run restores its RNG below)
    model = GLAGCN(info.layout, widths, args.channels, args.dropout).to(device)
    sampler = WindowSampler(train, model.receptive_field, info.layout, args.data_augmentation, args.stride)
    print(f"{len(train)} training sequences, {len(sampler)} windows per epoch; "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, {model.receptive_field} frames")
    optimizer = make_optimizer(model, args.learning_rate)
    precision = resolve_precision(args.precision, device)
    scaler = make_grad_scaler(precision, device)
    print(f"training in {str(precision).removeprefix('torch.')} on {device}"
          + (" (autocast; weights, loss and optimizer in float32)" if precision != torch.float32 else ""))
    start_epoch, history, best, progress = 0, [], float("inf"), EpochProgress()

    # ---- resume exactly where a run stopped: weights, optimizer, epoch, batch, RNG, log
    if args.resume:
        path = in_checkpoint_dir(args.resume, args.checkpoint)
        state = read_checkpoint(path, map_location="cpu")
        model.load_state_dict({k.removeprefix("module."): v for k, v in state["model_pos"].items()})
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["random_state"]["torch"])
        if "cuda" in state["random_state"] and device.type == "cuda":
            torch.cuda.set_rng_state(state["random_state"]["cuda"], device)
        args.seed = int(state["random_state"]["seed"])  # the data order continues as it was
        start_epoch, history = int(state["epoch"]), list(state.get("history", []))
        progress = EpochProgress(**state.get("progress", {}))
        best = min([h["eval_mpjpe_mm"] for h in history if h["eval_mpjpe_mm"] == h["eval_mpjpe_mm"]],
                   default=float("inf"))
        where = f" at batch {progress.batches}" if progress.batches else ""
        print(f"resumed from {path} after epoch {start_epoch}{where}")

    # ---- training loop: an epoch can be paused after any batch (checkpoint
    # interval, time budget, SIGTERM/SIGINT) and resumed from the next one
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    batches_per_epoch = -(-len(sampler) // args.batch_size)
    started = time.time()

    def save(name: str, epoch: int, lr: float, progress: EpochProgress | None = None) -> None:
        """``epoch`` is the number of finished epochs; ``progress`` marks a mid-epoch checkpoint."""
        rng_state = {"torch": torch.get_rng_state(), "seed": args.seed}
        if device.type == "cuda":
            rng_state["cuda"] = torch.cuda.get_rng_state(device)
        extra = {"history": history, "precision": str(precision).removeprefix("torch.")}
        if progress is not None:
            extra["progress"] = vars(progress)
        if scaler is not None:
            extra["scaler"] = scaler.state_dict()
        save_checkpoint(checkpoint_dir / name, model, epoch=epoch, lr=lr, optimizer=optimizer.state_dict(),
                        random_state=rng_state, extra=extra)

    with Stopper(args.time_budget) as stopper:
        for epoch in range(start_epoch, args.epochs):
            lr = cosine_lr(epoch, args.epochs, args.learning_rate)
            for group in optimizer.param_groups:
                group["lr"] = lr
            model.set_bn_momentum(bn_momentum(epoch, args.epochs))
            if epoch > start_epoch:
                progress = EpochProgress()
            next_save = time.time() + 60 * args.checkpoint_minutes
            pause = lambda: stopper.reason is not None or time.time() >= next_save  # noqa: E731
            bar = tqdm(total=batches_per_epoch, initial=progress.batches, leave=False,
                       desc=f"epoch {epoch + 1}/{args.epochs}")

            def counted(items):
                for item in items:
                    bar.update()
                    yield item
            try:
                while progress.batches < batches_per_epoch and stopper.reason is None:
                    progress = train_epoch(model, sampler, optimizer, args.batch_size, args.seed, epoch,
                                           device, args.noise_px, args.drop_keypoints, wrap=counted,
                                           pixel=pixel, precision=precision, scaler=scaler,
                                           progress=progress, pause=pause)
                    if progress.batches < batches_per_epoch:
                        save("last_epoch.bin", epoch, lr, progress)
                        next_save = time.time() + 60 * args.checkpoint_minutes
            finally:
                bar.close()
            eval_mm = float("nan")
            t0 = time.time()
            if not args.no_eval and stopper.reason is None:
                def interruptible(items):
                    for item in items:
                        if stopper.reason is not None:
                            raise Stopped
                        yield item
                try:
                    results = evaluate(model, test, info.layout, device, args.test_time_augmentation,
                                       args.eval_stride, wrap=interruptible)
                    eval_mm = action_average(results["flip" if args.test_time_augmentation else "plain"])["p1"]
                except Stopped:
                    pass
            if stopper.reason is not None:
                save("last_epoch.bin", epoch, lr, progress)
                print(f"{stopper.reason}: stopped in epoch {epoch + 1} after {progress.batches} of "
                      f"{batches_per_epoch} batches; {checkpoint_dir / 'last_epoch.bin'} written, "
                      f"continue with -r last_epoch.bin", flush=True)
                return stopper.exit_code()
            elapsed = progress.seconds + time.time() - t0
            loss = progress.loss
            history.append({"epoch": epoch + 1, "lr": lr, "train_mpjpe_mm": 1000 * loss,
                            "eval_mpjpe_mm": eval_mm, "epoch_time_s": elapsed})
            done = epoch + 1 - start_epoch
            eta = (time.time() - started) / done * (args.epochs - epoch - 1)
            print(f"epoch {epoch + 1}/{args.epochs}  lr {lr:.2e}  train {1000 * loss:.1f} mm  "
                  f"test {eval_mm:.1f} mm  {elapsed:.0f} s  ETA {eta / 60:.0f} min", flush=True)

            save("last_epoch.bin", epoch + 1, lr)
            if (epoch + 1) % args.checkpoint_frequency == 0:
                save(f"epoch_{epoch + 1}.bin", epoch + 1, lr)
            if eval_mm < best:
                best = eval_mm
                save("best_epoch.bin", epoch + 1, lr)
            write_log(checkpoint_dir / "log.csv", history)
            if args.export_training_curves:
                plot_curves(checkpoint_dir / "training_curves.png", history)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (DataError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; resume with -r last_epoch.bin (the last checkpoint written)", file=sys.stderr)
        sys.exit(130)

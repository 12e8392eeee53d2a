"""Train and evaluate the GLA-GCN lifter on Human3.6M or HumanEva-I.

The authors' command lines work unchanged, e.g.

    python train.py -k gt -arc 3,3,3,3,3 -ch 96 -da -tta -c checkpoint/h36m
    python train.py -k gt -arc 3,3,3,3,3 -tta --evaluate best_epoch.bin

and so do several GPUs or machines, one process per GPU (docs/training.md,
"Training on several GPUs and machines"):

    torchrun --standalone --nproc_per_node=4 train.py -k gt -arc 3,3,3,3,3 -ch 96 -da -tta

Data (VideoPose3D npz files and cameras.json) is read from --data-dir;
docs/data.md says how to prepare it. Read top to bottom: arguments,
processes, data, model, then either one evaluation or the training loop.
Under torchrun every process runs all of it, on its share of each batch;
rank 0 alone prints and writes files, and every decision that changes the
control flow (pause, stop, best epoch) is taken together.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

# Sleeping, not spinning, OpenMP threads: on a busy laptop spin-waiting threads
# can slow PyTorch on the CPU a hundredfold. Must be set before torch starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from tqdm import tqdm

from glagcn_video.datasets.load import DataError, Sequence, dataset_info, load_dataset
from glagcn_video.datasets.windows import WindowSampler
from glagcn_video.lifter.checkpoint import (
    CheckpointError, describe, load_checkpoint, read_checkpoint, save_checkpoint)
from glagcn_video.lifter.model import GLAGCN
from glagcn_video.lifter.widen import widen
from glagcn_video.training.distributed import DistributedError, lost_peer, parallel, setup, shutdown
from glagcn_video.training.evaluation import Tables, action_average, merge_scores, score, tabulate
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
    p.add_argument("--init", default="", metavar="CHECKPOINT",
                   help="start from these weights (with a fresh optimizer and schedule); a model of the "
                        "same frames and fewer channels is first widened to -ch so that it computes the "
                        "same (Net2Net)")
    p.add_argument("--by-subject", action="store_true", help="break evaluation down by subject")
    p.add_argument("--export-training-curves", action="store_false",
                   help="pass to NOT plot training curves (the authors' inverted flag)")
    p.add_argument("-s", "--stride", default=1, type=int,
                   help="train on every N-th target frame (windows keep the full frame rate)")
    p.add_argument("--epoch-windows", default=None, type=int, metavar="N",
                   help="an epoch is N windows drawn afresh each epoch from all those -s gives "
                        "(default: all of them every epoch)")
    p.add_argument("-e", "--epochs", default=80, type=int)
    p.add_argument("-b", "--batch-size", default=512, type=int,
                   help="the global batch: windows per optimizer step over all processes (under "
                        "torchrun or srun each of N processes takes b/N of every batch)")
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
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cuda if there is one, else cpu; under torchrun or srun cuda means one GPU per "
                        "process (number LOCAL_RANK, NCCL) and cpu means Gloo")
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
    p.add_argument("--sync-bn", action="store_true",
                   help="with several processes, BatchNorm statistics over the whole batch "
                        "(SyncBatchNorm) instead of each process's share")
    p.add_argument("--dist-timeout", default=10.0, type=float, metavar="MINUTES",
                   help="with several processes, give up on one that has not answered for this long "
                        "(a process that dies ends the run at once)")
    args = p.parse_args(argv)
    if args.resume and args.evaluate:
        p.error("--resume and --evaluate cannot be set at the same time")
    if args.init and (args.resume or args.evaluate):
        p.error("--init starts a run: it cannot be set with --resume or --evaluate")
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


def initial_model(path: Path, fresh: GLAGCN) -> GLAGCN:
    """The weights of ``path`` in a model shaped like ``fresh``, widened if narrower."""
    start = load_checkpoint(path, layout=fresh.layout.name if fresh.layout.num_joints != 17 else None)
    if (start.layout.name, start.filter_widths) != (fresh.layout.name, fresh.filter_widths) \
            or start.channels > fresh.channels:
        raise CheckpointError(f"{path}: a {describe(start)} cannot start a {describe(fresh)}")
    model = widen(start, fresh.channels, noise=0.01) if start.channels < fresh.channels else start
    model.drop.p = fresh.drop.p
    print(f"initial weights from {path}" + (f", widened from {start.channels} to {fresh.channels} channels"
                                              if start.channels < fresh.channels else ""))
    return model.train()


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
    its work: a machine being shut down sends SIGTERM, then waits a little.

    A second Ctrl-C stops at once; SIGTERM never does, as launchers repeat it
    (SLURM signals every process of a job and torchrun passes it on again).
    ``quiet`` leaves the announcement to another process (rank 0).
    """

    def __init__(self, hours: float | None, quiet: bool = False):
        self.deadline = time.time() + hours * 3600 if hours is not None else None
        self.quiet = quiet
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
        if self.signal is not None:
            if signum == signal.SIGINT:  # a second Ctrl-C: the user means it
                raise KeyboardInterrupt
            return
        self.signal = signum
        if not self.quiet:
            print(f"\n{signal.Signals(signum).name}: stopping after this batch with a checkpoint "
                  "(Ctrl-C again to stop at once, losing the epoch's progress since the last checkpoint)",
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
    # ---- processes: one, or one of several started by torchrun or srun (each on its own device)
    ranks = setup(args.device, args.dist_timeout)
    device = ranks.device
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
    if ranks.world > 1:
        print(f"{ranks.world} processes, global batch {args.batch_size} windows "
              f"(about {args.batch_size // ranks.world} per process)"
              + (", synchronised BatchNorm" if args.sync_bn else ""))

    def evaluation(model: torch.nn.Module, sequences: list[Sequence], by_subject: bool = False,
                   wrap: Callable[[Iterable], Iterable] = lambda it: it) -> Tables:
        """Each process scores its share of the sequences; all get the tables of
        one process scoring them all (the sums added in another order)."""
        scores = score(model, ranks.share(sequences), info.layout, device, args.test_time_augmentation,
                       args.eval_stride, by_subject, wrap=wrap)
        return tabulate(merge_scores(ranks.gather(scores)))

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
        results = evaluation(model, test, wrap=lambda it: tqdm(it, desc="evaluate", disable=not ranks.main),
                             by_subject=args.by_subject)
        print_tables(results)
        return 0

    train = select(dataset.select(subjects_train, actions), args.subset, args.downsample, args.seed)
    torch.manual_seed(args.seed)  # the initial weights follow --seed (a resumed run restores its RNG below)
    model = GLAGCN(info.layout, widths, args.channels, args.dropout).to(device)
    if args.init:
        model = initial_model(in_checkpoint_dir(args.init, args.checkpoint), model).to(device)
    torch.manual_seed(args.seed + ranks.rank)  # each process its own dropout masks
    sampler = WindowSampler(train, model.receptive_field, info.layout, args.data_augmentation, args.stride,
                            args.epoch_windows)
    print(f"{len(train)} training sequences, {len(sampler)} windows per epoch"
          + (f" (drawn from {sampler.samples})" if len(sampler) < sampler.samples else "") + "; "
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
        args.seed = int(state["random_state"]["seed"])  # the data order continues as it was
        start_epoch, history = int(state["epoch"]), list(state.get("history", []))
        progress = EpochProgress(**state.get("progress", {}))
        if progress.batches and state.get("batch_size", args.batch_size) != args.batch_size:
            raise CheckpointError(f"{path}: stopped mid-epoch with -b {state['batch_size']}; resume it "
                                  f"with the same -b (the epoch's batches are counted in it)")
        # Every process's random state was saved: with as many processes the dropout
        # masks continue exactly; processes beyond those saved keep their fresh seed.
        saved = state["random_state"].get("ranks", [state["random_state"]])
        if ranks.rank < len(saved):
            torch.set_rng_state(saved[ranks.rank]["torch"])
            if "cuda" in saved[ranks.rank] and device.type == "cuda":
                torch.cuda.set_rng_state(saved[ranks.rank]["cuda"], device)
        best = min([h["eval_mpjpe_mm"] for h in history if h["eval_mpjpe_mm"] == h["eval_mpjpe_mm"]],
                   default=float("inf"))
        where = f" at batch {progress.batches}" if progress.batches else ""
        print(f"resumed from {path} after epoch {start_epoch}{where}")

    # ---- several processes: DistributedDataParallel averages the gradients (the
    # optimizer keeps its parameters: SyncBatchNorm takes over BatchNorm's tensors)
    core = model
    model = parallel(model, ranks, args.sync_bn)

    # ---- training loop: an epoch can be paused after any batch (checkpoint
    # interval, time budget, SIGTERM/SIGINT) and resumed from the next one
    if ranks.main:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
    batches_per_epoch = -(-len(sampler) // args.batch_size)
    started = time.time()

    def save(name: str, epoch: int, lr: float, progress: EpochProgress | None = None) -> None:
        """``epoch`` is the number of finished epochs; ``progress`` marks a mid-epoch checkpoint.
        Every process takes part (their random states are gathered); rank 0 writes."""
        rng_state = {"torch": torch.get_rng_state()}
        if device.type == "cuda":
            rng_state["cuda"] = torch.cuda.get_rng_state(device)
        every_rank = ranks.gather(rng_state)
        if not ranks.main:
            return
        extra = {"history": history, "precision": str(precision).removeprefix("torch."),
                 "batch_size": args.batch_size}
        if progress is not None:
            extra["progress"] = vars(progress)
        if scaler is not None:
            extra["scaler"] = scaler.state_dict()
        save_checkpoint(checkpoint_dir / name, model, epoch=epoch, lr=lr, optimizer=optimizer.state_dict(),
                        random_state={**rng_state, "seed": args.seed, "ranks": every_rank}, extra=extra)

    with Stopper(args.time_budget, quiet=not ranks.main) as stopper:
        for epoch in range(start_epoch, args.epochs):
            lr = cosine_lr(epoch, args.epochs, args.learning_rate)
            for group in optimizer.param_groups:
                group["lr"] = lr
            core.set_bn_momentum(bn_momentum(epoch, args.epochs))
            if epoch > start_epoch:
                progress = EpochProgress()
            next_save = time.time() + 60 * args.checkpoint_minutes
            stopping = False

            def pause() -> bool:
                """After each batch, all processes decide together: stop (asked in any
                of them) or save a checkpoint (the interval is up)."""
                nonlocal stopping
                stopping, due = ranks.any(stopper.reason is not None, time.time() >= next_save)
                return stopping or due
            bar = tqdm(total=batches_per_epoch, initial=progress.batches, leave=False,
                       desc=f"epoch {epoch + 1}/{args.epochs}", disable=not ranks.main)

            def counted(items):
                for item in items:
                    bar.update()
                    yield item
            try:
                while progress.batches < batches_per_epoch and not stopping:
                    progress = train_epoch(model, sampler, optimizer, args.batch_size, args.seed, epoch,
                                           device, args.noise_px, args.drop_keypoints, wrap=counted,
                                           pixel=pixel, precision=precision, scaler=scaler,
                                           progress=progress, pause=pause, shard=(ranks.rank, ranks.world))
                    if progress.batches < batches_per_epoch:
                        save("last_epoch.bin", epoch, lr, progress)
                        next_save = time.time() + 60 * args.checkpoint_minutes
            finally:
                bar.close()
            eval_mm = float("nan")
            t0 = time.time()
            if not args.no_eval and not stopping:
                # Saved before the evaluation, which can take minutes: a run killed
                # while it evaluates resumes with the whole epoch trained.
                save("last_epoch.bin", epoch, lr, progress)

                def interruptible(items):
                    for item in items:
                        if stopper.reason is not None:
                            return  # all processes stop together below
                        yield item
                results = evaluation(core, test, wrap=interruptible)
                stopping = ranks.any(stopper.reason is not None)[0]
                eval_mm = action_average(results["flip" if args.test_time_augmentation else "plain"])["p1"]
            if stopping:
                save("last_epoch.bin", epoch, lr, progress)
                reason = stopper.reason or "stop requested in another process"
                print(f"{reason}: stopped in epoch {epoch + 1} after {progress.batches} of {batches_per_epoch} "
                      f"batches; {checkpoint_dir / 'last_epoch.bin'} written, continue with -r last_epoch.bin",
                      flush=True)
                return ranks.max(stopper.exit_code())
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
            if ranks.main:
                write_log(checkpoint_dir / "log.csv", history)
                if args.export_training_curves:
                    plot_curves(checkpoint_dir / "training_curves.png", history)
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except (DataError, CheckpointError, DistributedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; resume with -r last_epoch.bin (the last checkpoint written)", file=sys.stderr)
        sys.exit(130)
    except RuntimeError as exc:
        # Another process died or hung and this one cannot continue alone. Checkpoints
        # are only ever written whole (atomically), so the last one is intact.
        message = lost_peer(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(1)
    shutdown()
    sys.exit(code)

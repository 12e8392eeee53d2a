"""train.py's command line: the authors' flags and this project's, and what
they come to for the chosen dataset (its protocol's subjects and actions
unless the command line names others)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from ..datasets.load import DatasetInfo, dataset_info
from .loop import PRECISIONS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The authors' flags with their defaults, then this project's; options
    that contradict each other end the program as argparse does (exit code 2)."""
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


@dataclass(frozen=True)
class Setting:
    """The arguments as they apply to the dataset."""

    info: DatasetInfo
    subjects_train: list[str]
    subjects_test: list[str]
    actions: list[str] | None  # action prefixes; None for all
    checkpoint_dir: Path

    @classmethod
    def of(cls, args: argparse.Namespace) -> Setting:
        """-str, -ste and -a, or the dataset's protocol; -c, or checkpoint/<dataset>."""
        info = dataset_info(args.dataset)
        if args.actions is None:
            actions = list(info.actions) if info.actions else None
        else:
            actions = None if args.actions == "*" else args.actions.split(",")
        return cls(info,
                   args.subjects_train.split(",") if args.subjects_train else list(info.train_subjects),
                   args.subjects_test.split(",") if args.subjects_test else list(info.test_subjects),
                   actions,
                   Path(args.checkpoint if args.checkpoint is not None else f"checkpoint/{info.name}"))

    @property
    def pixel(self) -> float:
        """One pixel in normalised 2D coordinates, for the noise options."""
        return 2 / self.info.image_width

    def in_checkpoint_dir(self, name: str) -> Path:
        """The authors pass file names relative to -c; accept plain paths too."""
        path = Path(name)
        return path if path.exists() or path.is_absolute() else self.checkpoint_dir / name

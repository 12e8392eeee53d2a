"""The epochs of a training run: what they share (:class:`Trainer`), how far
the run has got (:class:`RunState`, what a checkpoint restores), and the
test-set evaluation that all processes take part in (:class:`Evaluation`).

An epoch can be paused after any batch (checkpoint interval, time budget,
SIGTERM/SIGINT) and resumed from the next one. Under torchrun every process
runs every step on its share of each batch; rank 0 alone prints and writes
files, and every decision that changes the control flow (pause, stop, best
epoch) is taken together.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import torch
from tqdm import tqdm

from ..datasets.load import Sequence
from ..datasets.windows import WindowSampler
from ..lifter.checkpoint import save_checkpoint
from ..lifter.model import GLAGCN
from ..skeleton import Layout
from .arguments import Setting
from .distributed import Ranks
from .evaluation import Scores, Tables, action_average, merge_scores, tabulate
from .loop import EpochProgress, Lookahead, bn_momentum, cosine_lr
from .stopper import Stopper

T = TypeVar("T")


@dataclass
class RunState:
    """How far a run has got: ``start_epoch`` epochs were done when this
    invocation began, ``history`` has a row per finished epoch, ``best`` is the
    lowest test error in it, ``progress`` how far the current epoch is; ``seed``
    draws the data order (a resumed run keeps its own)."""

    seed: int
    start_epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best: float = float("inf")
    progress: EpochProgress = field(default_factory=EpochProgress)


@dataclass
class Evaluation:
    """The test sequences scored by all processes: each scores its share, and
    all get the tables of one process scoring them all (the sums added in
    another order). ``score`` is :func:`evaluation.score`, handed in by the
    command line (where a test can replace it)."""

    sequences: list[Sequence]
    layout: Layout
    ranks: Ranks
    tta: bool
    frame_stride: int
    score: Callable[..., Scores]

    def __call__(self, model: torch.nn.Module, by_subject: bool = False,
                 wrap: Callable[[Iterable], Iterable] = lambda it: it) -> Tables:
        scores = self.score(model, self.ranks.share(self.sequences), self.layout, self.ranks.device, self.tta,
                            self.frame_stride, by_subject, wrap=wrap)
        return tabulate(merge_scores(self.ranks.gather(scores)))


class Pauses:
    """The ``pause`` of :func:`loop.train_epoch`: after each batch all processes
    decide together to stop (asked in any of them) or to write a checkpoint
    (``minutes`` since the last one)."""

    def __init__(self, ranks: Ranks, stopper: Stopper, minutes: float):
        self.ranks, self.stopper, self.minutes = ranks, stopper, minutes
        self.stopping = False
        self.checkpointed()

    def checkpointed(self) -> None:
        """Start the interval to the next checkpoint."""
        self.next_save = time.time() + 60 * self.minutes

    def __call__(self) -> bool:
        self.stopping, due = self.ranks.any(self.stopper.reason is not None, time.time() >= self.next_save)
        return self.stopping or due


def counted(items: Iterable[T], bar: tqdm) -> Iterator[T]:
    """``items``, each a step of ``bar``: one bar over the stretches of a paused epoch."""
    for item in items:
        bar.update()
        yield item


@dataclass
class Trainer:
    """What the epochs of a run share. ``model`` is what trains (wrapped in
    DistributedDataParallel with several processes), ``core`` the GLA-GCN
    inside it (BatchNorm momentum, evaluation); ``train_epoch`` is
    :func:`loop.train_epoch`, handed in by the command line (where a test can
    replace it)."""

    args: argparse.Namespace
    setting: Setting
    ranks: Ranks
    core: GLAGCN
    model: torch.nn.Module
    sampler: WindowSampler
    optimizer: Lookahead
    precision: torch.dtype
    scaler: torch.amp.GradScaler | None
    evaluation: Evaluation
    state: RunState
    train_epoch: Callable[..., EpochProgress]
    started: float = field(default_factory=time.time)  # for the run's ETA

    @property
    def batches_per_epoch(self) -> int:
        """Batches of -b windows in an epoch, the last one possibly short."""
        return -(-len(self.sampler) // self.args.batch_size)

    def begin_epoch(self, epoch: int) -> float:
        """Set the 0-based ``epoch``'s learning rate (returned) and BatchNorm
        momentum; a resumed run's first epoch keeps its progress."""
        lr = cosine_lr(epoch, self.args.epochs, self.args.learning_rate)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.core.set_bn_momentum(bn_momentum(epoch, self.args.epochs))
        if epoch > self.state.start_epoch:
            self.state.progress = EpochProgress()
        return lr

    def train(self, epoch: int, lr: float, stopper: Stopper) -> bool:
        """Train the rest of ``epoch``, writing last_epoch.bin at each pause
        short of its end; True if it stopped on a request instead."""
        args, ranks = self.args, self.ranks
        pauses = Pauses(ranks, stopper, args.checkpoint_minutes)
        bar = tqdm(total=self.batches_per_epoch, initial=self.state.progress.batches, leave=False,
                   desc=f"epoch {epoch + 1}/{args.epochs}", disable=not ranks.main)
        try:
            while self.state.progress.batches < self.batches_per_epoch and not pauses.stopping:
                self.state.progress = self.train_epoch(
                    self.model, self.sampler, self.optimizer, args.batch_size, self.state.seed, epoch,
                    ranks.device, args.noise_px, args.drop_keypoints, wrap=partial(counted, bar=bar),
                    pixel=self.setting.pixel, precision=self.precision, scaler=self.scaler,
                    progress=self.state.progress, pause=pauses, shard=(ranks.rank, ranks.world))
                if self.state.progress.batches < self.batches_per_epoch:
                    self.save("last_epoch.bin", epoch, lr, self.state.progress)
                    pauses.checkpointed()
        finally:
            bar.close()
        return pauses.stopping

    def evaluate(self, epoch: int, lr: float, stopper: Stopper) -> tuple[float, bool]:
        """The trained epoch's test error (P#1 in mm, the mean over actions) and
        whether to stop, asked during the evaluation in any process (which
        then ends early). last_epoch.bin is written first, as an evaluation
        can take minutes: a run killed in it resumes with the epoch trained."""
        self.save("last_epoch.bin", epoch, lr, self.state.progress)
        results = self.evaluation(self.core, wrap=stopper.until_stop)
        stopping = self.ranks.any(stopper.reason is not None)[0]
        return action_average(results["flip" if self.args.test_time_augmentation else "plain"])["p1"], stopping

    def stop(self, epoch: int, lr: float, stopper: Stopper) -> int:
        """Write last_epoch.bin where ``epoch`` stopped, say how to continue,
        and return the exit code, the same in every process."""
        self.save("last_epoch.bin", epoch, lr, self.state.progress)
        reason = stopper.reason or "stop requested in another process"
        print(f"{reason}: stopped in epoch {epoch + 1} after {self.state.progress.batches} of "
              f"{self.batches_per_epoch} batches; {self.setting.checkpoint_dir / 'last_epoch.bin'} written, "
              f"continue with -r last_epoch.bin", flush=True)
        return self.ranks.max(stopper.exit_code())

    def end_epoch(self, epoch: int, lr: float, eval_mm: float, eval_seconds: float) -> None:
        """Log the finished ``epoch`` (its time: training plus ``eval_seconds``),
        print its line, and write last_epoch.bin, epoch_N.bin every
        --checkpoint-frequency epochs, and best_epoch.bin when the test error
        is the lowest yet."""
        state, args = self.state, self.args
        elapsed = state.progress.seconds + eval_seconds
        loss = state.progress.loss
        state.history.append({"epoch": epoch + 1, "lr": lr, "train_mpjpe_mm": 1000 * loss,
                              "eval_mpjpe_mm": eval_mm, "epoch_time_s": elapsed})
        done = epoch + 1 - state.start_epoch
        eta = (time.time() - self.started) / done * (args.epochs - epoch - 1)
        print(f"epoch {epoch + 1}/{args.epochs}  lr {lr:.2e}  train {1000 * loss:.1f} mm  "
              f"test {eval_mm:.1f} mm  {elapsed:.0f} s  ETA {eta / 60:.0f} min", flush=True)
        self.save("last_epoch.bin", epoch + 1, lr)
        if (epoch + 1) % args.checkpoint_frequency == 0:
            self.save(f"epoch_{epoch + 1}.bin", epoch + 1, lr)
        if eval_mm < state.best:
            state.best = eval_mm
            self.save("best_epoch.bin", epoch + 1, lr)

    def save(self, name: str, epoch: int, lr: float, progress: EpochProgress | None = None) -> None:
        """Write checkpoint ``name`` in -c: ``epoch`` is the number of finished
        epochs; ``progress`` marks a mid-epoch checkpoint. Every process takes
        part (their random states are gathered); rank 0 writes."""
        device = self.ranks.device
        rng_state = {"torch": torch.get_rng_state()}
        if device.type == "cuda":
            rng_state["cuda"] = torch.cuda.get_rng_state(device)
        every_rank = self.ranks.gather(rng_state)
        if not self.ranks.main:
            return
        extra = {"history": self.state.history, "precision": str(self.precision).removeprefix("torch."),
                 "batch_size": self.args.batch_size}
        if progress is not None:
            extra["progress"] = vars(progress)
        if self.scaler is not None:
            extra["scaler"] = self.scaler.state_dict()
        save_checkpoint(self.setting.checkpoint_dir / name, self.model, epoch=epoch, lr=lr,
                        optimizer=self.optimizer.state_dict(),
                        random_state={**rng_state, "seed": self.state.seed, "ranks": every_rank}, extra=extra)

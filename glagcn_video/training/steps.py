"""The steps of train.py up to its first epoch, in the order it runs them:
processes, data, then either one evaluation of a checkpoint or the model,
its training windows, the optimizer, and where a resumed run continues."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..datasets.load import PoseDataset, Sequence, load_dataset
from ..datasets.windows import WindowSampler
from ..lifter.checkpoint import CheckpointError, describe, load_checkpoint, read_checkpoint
from ..lifter.model import GLAGCN
from ..lifter.widen import widen
from ..skeleton import Layout
from .arguments import Setting
from .distributed import Ranks, setup
from .evaluation import Tables, action_average
from .loop import EpochProgress, Lookahead, corrupt_sequence, make_grad_scaler, make_optimizer, resolve_precision
from .trainer import Evaluation, RunState


def processes(args: argparse.Namespace) -> Ranks:
    """This process: the only one, or one of several started by torchrun or
    srun, each on its own device."""
    ranks = setup(args.device, args.dist_timeout)
    # Windows have one fixed shape: let cuDNN time its kernels once and keep the fastest.
    torch.backends.cudnn.benchmark = ranks.device.type == "cuda"
    return ranks


def load_data(args: argparse.Namespace, setting: Setting) -> tuple[PoseDataset, list[Sequence]]:
    """The dataset (only its test subjects when evaluating a checkpoint) and
    the test sequences, every --downsample-th frame."""
    info = setting.info
    needed = setting.subjects_test if args.evaluate else setting.subjects_train + setting.subjects_test
    dataset = load_dataset(info.name, args.data_dir, args.keypoints, subjects=dict.fromkeys(needed))
    test = select(dataset.select(setting.subjects_test, setting.actions), 1.0, args.downsample, args.seed)
    print(f"{len(test)} test sequences, {sum(len(s.poses_3d) for s in test)} frames"
          + (f" (actions {', '.join(setting.actions)})" if setting.actions else ""))
    return dataset, test


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


def checkpoint_layout(layout: Layout) -> str | None:
    """The layout to load a checkpoint as: the shapes of a 17-joint model
    (ours or the authors') decide; 15 joints can be either HumanEva layout."""
    return layout.name if layout.num_joints != 17 else None


def evaluate_checkpoint(args: argparse.Namespace, setting: Setting, evaluation: Evaluation) -> None:
    """--evaluate: print the tables of the checkpoint on the test sequences,
    corrupted first if --eval-noise-px or --eval-drop-keypoints ask for it."""
    ranks = evaluation.ranks
    path = setting.in_checkpoint_dir(args.evaluate)
    model = load_checkpoint(path, layout=checkpoint_layout(setting.info.layout), map_location=ranks.device)
    print(f"evaluating {path} ({model.receptive_field} frames) every {args.eval_stride} frame(s)")
    if args.eval_noise_px > 0 or args.eval_drop_keypoints > 0:
        rng = np.random.default_rng(args.seed)
        evaluation = replace(evaluation, sequences=[
            replace(s, poses_2d=corrupt_sequence(s.poses_2d, rng, args.eval_noise_px, args.eval_drop_keypoints,
                                                 setting.pixel)) for s in evaluation.sequences])
        print(f"test 2D corrupted: noise {args.eval_noise_px} px, "
              f"joints dropped with p={args.eval_drop_keypoints}")
    results = evaluation(model, wrap=lambda it: tqdm(it, desc="evaluate", disable=not ranks.main),
                         by_subject=args.by_subject)
    print_tables(results)


def print_tables(results: Tables) -> None:
    """Per action (or subject and action), the four errors and their mean over the rows."""
    names = {"p1": "MPJPE (P#1)", "p2": "P-MPJPE (P#2)", "n": "N-MPJPE", "velocity": "MPJVE"}
    for mode, table in results.items():
        title = "with test-time flipping" if mode == "flip" else "without test-time flipping"
        print(f"\n{title} (mm)")
        print(f"{'action':<24}" + "".join(f"{v:>15}" for v in names.values()))
        for action, row in table.items():
            print(f"{action:<24}" + "".join(f"{row[k]:>15.1f}" for k in names))
        avg = action_average(table)
        print(f"{'average':<24}" + "".join(f"{avg[k]:>15.1f}" for k in names))


def build_model(args: argparse.Namespace, setting: Setting, ranks: Ranks) -> GLAGCN:
    """The model to train, its initial weights drawn from --seed (or --init's),
    then each process seeded for its own dropout masks; a resumed run
    restores its random state later (:func:`resume`)."""
    torch.manual_seed(args.seed)
    model = GLAGCN(setting.info.layout, [int(w) for w in args.architecture.split(",")], args.channels,
                   args.dropout).to(ranks.device)
    if args.init:
        model = initial_model(setting.in_checkpoint_dir(args.init), model).to(ranks.device)
    torch.manual_seed(args.seed + ranks.rank)
    return model


def initial_model(path: Path, fresh: GLAGCN) -> GLAGCN:
    """The weights of ``path`` in a model shaped like ``fresh``, widened if narrower."""
    start = load_checkpoint(path, layout=checkpoint_layout(fresh.layout))
    if (start.layout.name, start.filter_widths) != (fresh.layout.name, fresh.filter_widths) \
            or start.channels > fresh.channels:
        raise CheckpointError(f"{path}: a {describe(start)} cannot start a {describe(fresh)}")
    model = widen(start, fresh.channels, noise=0.01) if start.channels < fresh.channels else start
    model.drop.p = fresh.drop.p
    print(f"initial weights from {path}" + (f", widened from {start.channels} to {fresh.channels} channels"
                                              if start.channels < fresh.channels else ""))
    return model.train()


def training_windows(train: list[Sequence], model: GLAGCN, args: argparse.Namespace,
                     setting: Setting) -> WindowSampler:
    """The windows an epoch trains on (all of them, or --epoch-windows drawn afresh each epoch)."""
    sampler = WindowSampler(train, model.receptive_field, setting.info.layout, args.data_augmentation,
                            args.stride, args.epoch_windows)
    print(f"{len(train)} training sequences, {len(sampler)} windows per epoch"
          + (f" (drawn from {sampler.samples})" if len(sampler) < sampler.samples else "") + "; "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, {model.receptive_field} frames")
    return sampler


def optimization(model: GLAGCN, args: argparse.Namespace, device: torch.device
                 ) -> tuple[Lookahead, torch.dtype, torch.amp.GradScaler | None]:
    """The optimizer, the training arithmetic (--precision) and, for float16, its loss scaler."""
    optimizer = make_optimizer(model, args.learning_rate)
    precision = resolve_precision(args.precision, device)
    scaler = make_grad_scaler(precision, device)
    print(f"training in {str(precision).removeprefix('torch.')} on {device}"
          + (" (autocast; weights, loss and optimizer in float32)" if precision != torch.float32 else ""))
    return optimizer, precision, scaler


def resume(path: Path, model: GLAGCN, optimizer: Lookahead, scaler: torch.amp.GradScaler | None, ranks: Ranks,
           batch_size: int) -> RunState:
    """Continue exactly where the run of checkpoint ``path`` stopped: weights,
    optimizer, random state, and the returned epoch, batch, log and seed."""
    state = read_checkpoint(path, map_location="cpu")
    model.load_state_dict({k.removeprefix("module."): v for k, v in state["model_pos"].items()})
    optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    history = list(state.get("history", []))
    run = RunState(seed=int(state["random_state"]["seed"]),  # the data order continues as it was
                   start_epoch=int(state["epoch"]), history=history,
                   best=min([h["eval_mpjpe_mm"] for h in history if h["eval_mpjpe_mm"] == h["eval_mpjpe_mm"]],
                            default=float("inf")),
                   progress=EpochProgress(**state.get("progress", {})))
    if run.progress.batches and state.get("batch_size", batch_size) != batch_size:
        raise CheckpointError(f"{path}: stopped mid-epoch with -b {state['batch_size']}; resume it "
                              f"with the same -b (the epoch's batches are counted in it)")
    # Every process's random state was saved: with as many processes the dropout
    # masks continue exactly; processes beyond those saved keep their fresh seed.
    saved = state["random_state"].get("ranks", [state["random_state"]])
    if ranks.rank < len(saved):
        torch.set_rng_state(saved[ranks.rank]["torch"])
        if "cuda" in saved[ranks.rank] and ranks.device.type == "cuda":
            torch.cuda.set_rng_state(saved[ranks.rank]["cuda"], ranks.device)
    where = f" at batch {run.progress.batches}" if run.progress.batches else ""
    print(f"resumed from {path} after epoch {run.start_epoch}{where}")
    return run

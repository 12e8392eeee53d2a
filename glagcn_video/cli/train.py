"""Train and evaluate the GLA-GCN lifter on Human3.6M or HumanEva-I with the
authors' flags (docs/training.md): ``glagcn-train``, or ``python train.py``
in a checkout.

Read :func:`main` top to bottom: arguments, processes, data, then either one
evaluation or the model, the optimizer, a resumed run's state and the epochs.
Each step is a function of ``glagcn_video.training``; :func:`run` turns the
errors a user can fix into one ``error:`` line and an exit code.
"""

from __future__ import annotations

import os
import sys
import time

# Sleeping, not spinning, OpenMP threads: on a busy laptop spin-waiting threads
# can slow PyTorch on the CPU a hundredfold. Must be set before torch starts
# (the package's facade imports nothing, so torch is not loaded yet).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ..datasets.load import DataError
from ..lifter.checkpoint import CheckpointError
from ..training.arguments import Setting, parse_args
from ..training.distributed import DistributedError, lost_peer, parallel, shutdown
from ..training.evaluation import score
from ..training.history import plot_curves, write_log
from ..training.loop import train_epoch
from ..training.steps import (
    build_model, evaluate_checkpoint, load_data, optimization, processes, resume, select, training_windows)
from ..training.stopper import Stopper
from ..training.trainer import Evaluation, RunState, Trainer


def main(argv: list[str] | None = None) -> int:
    """Train (or with --evaluate, evaluate) as the arguments say; the exit code.

    ``score``, ``train_epoch`` and ``write_log`` are handed to the steps from
    this module, so that replacing them here (``import train`` is this
    module) changes what the run calls: tests do, to count or to fail."""
    args = parse_args(argv)
    ranks = processes(args)
    setting = Setting.of(args)
    if ranks.world > 1:
        print(f"{ranks.world} processes, global batch {args.batch_size} windows "
              f"(about {args.batch_size // ranks.world} per process)"
              + (", synchronised BatchNorm" if args.sync_bn else ""))
    dataset, test = load_data(args, setting)
    evaluation = Evaluation(test, setting.info.layout, ranks, args.test_time_augmentation, args.eval_stride, score)
    if args.evaluate:
        evaluate_checkpoint(args, setting, evaluation)
        return 0

    train = select(dataset.select(setting.subjects_train, setting.actions), args.subset, args.downsample,
                   args.seed)
    model = build_model(args, setting, ranks)
    sampler = training_windows(train, model, args, setting)
    optimizer, precision, scaler = optimization(model, args, ranks.device)
    state = (resume(setting.in_checkpoint_dir(args.resume), model, optimizer, scaler, ranks, args.batch_size)
             if args.resume else RunState(seed=args.seed))
    # Several processes: DistributedDataParallel averages the gradients (the optimizer
    # keeps its parameters: SyncBatchNorm takes over BatchNorm's tensors).
    trained = parallel(model, ranks, args.sync_bn)
    if ranks.main:
        setting.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(args, setting, ranks, core=model, model=trained, sampler=sampler, optimizer=optimizer,
                      precision=precision, scaler=scaler, evaluation=evaluation, state=state,
                      train_epoch=train_epoch)

    with Stopper(args.time_budget, quiet=not ranks.main) as stopper:
        for epoch in range(state.start_epoch, args.epochs):
            lr = trainer.begin_epoch(epoch)
            stopping = trainer.train(epoch, lr, stopper)
            eval_mm, eval_start = float("nan"), time.time()
            if not args.no_eval and not stopping:
                eval_mm, stopping = trainer.evaluate(epoch, lr, stopper)
            if stopping:
                return trainer.stop(epoch, lr, stopper)
            trainer.end_epoch(epoch, lr, eval_mm, time.time() - eval_start)
            if ranks.main:
                write_log(setting.checkpoint_dir / "log.csv", state.history)
                if args.export_training_curves:
                    plot_curves(setting.checkpoint_dir / "training_curves.png", state.history)
    return 0


def run(argv: list[str] | None = None) -> int:
    """:func:`main` as a program: the errors a user can fix (data, checkpoint,
    launch, a lost peer) become one ``error:`` line on stderr and exit code 1,
    an interrupt that cannot wait for a checkpoint (Ctrl-C before training,
    or twice) 130; after a run that ended normally the process group is
    released."""
    try:
        code = main(argv)
    except (DataError, CheckpointError, DistributedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; resume with -r last_epoch.bin (the last checkpoint written)", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        # Another process died or hung and this one cannot continue alone. Checkpoints
        # are only ever written whole (atomically), so the last one is intact.
        message = lost_peer(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    shutdown()
    return code

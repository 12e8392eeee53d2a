"""The pieces of the paper's training protocol.

Optimizer: RAdam wrapped in Lookahead (the "Ranger" combination), cosine
learning-rate annealing, exponentially decaying BatchNorm momentum, flip
augmentation, centre-frame MPJPE loss; and the 2D corruptions that make
ground truth look like a detector's. Evaluation is in ``evaluation.py``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from ..datasets.load import DATASETS
from ..datasets.windows import WindowSampler, shard_rows

# One Human3.6M pixel in normalised [-1, 1] coordinates (frames 1000 px wide):
# the default; other datasets pass ``pixel=2 / image_width``.
PIXEL = 2 / DATASETS["h36m"].image_width


class Lookahead:
    """Lookahead (Zhang et al. 2019) around any optimizer: every ``k`` steps the
    slow weights move ``alpha`` of the way to the fast ones, which restart there.

    Kept here (30 lines) rather than pulling in an unmaintained optimizer
    package; its state is plain tensors so checkpoints stay weights-only.
    """

    def __init__(self, base: torch.optim.Optimizer, k: int = 6, alpha: float = 0.5):
        self.base, self.k, self.alpha = base, k, alpha
        self.steps = 0
        self.slow = [p.detach().clone() for group in base.param_groups for p in group["params"]]

    @property
    def param_groups(self) -> list[dict]:
        return self.base.param_groups

    def zero_grad(self) -> None:
        self.base.zero_grad(set_to_none=True)

    @torch.no_grad()
    def step(self) -> None:
        self.base.step()
        self.steps += 1
        if self.steps % self.k == 0:
            fast = [p for group in self.base.param_groups for p in group["params"]]
            for slow, p in zip(self.slow, fast):
                slow.add_(p - slow, alpha=self.alpha)
                p.copy_(slow)

    def state_dict(self) -> dict:
        return {"base": self.base.state_dict(), "slow": [s.clone() for s in self.slow],
                "steps": self.steps, "k": self.k, "alpha": self.alpha}

    def load_state_dict(self, state: dict) -> None:
        self.base.load_state_dict(state["base"])
        for slow, saved in zip(self.slow, state["slow"]):
            slow.copy_(saved)
        self.steps, self.k, self.alpha = int(state["steps"]), int(state["k"]), float(state["alpha"])


def make_optimizer(model: torch.nn.Module, lr: float) -> Lookahead:
    """Ranger as the authors configure it: RAdam(betas 0.95/0.999, eps 1e-5) + Lookahead(6, 0.5)."""
    return Lookahead(torch.optim.RAdam(model.parameters(), lr=lr, betas=(0.95, 0.999), eps=1e-5))


def cosine_lr(epoch: int, epochs: int, lr: float, lr_min: float = 1e-5) -> float:
    """Learning rate for a 0-based epoch: cosine from ``lr`` down to ``lr_min``."""
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * epoch / epochs))


def bn_momentum(epoch: int, epochs: int, initial: float = 0.1, final: float = 0.001) -> float:
    """BatchNorm momentum decaying exponentially from ``initial`` to ``final``."""
    return initial * math.exp(-epoch / epochs * math.log(initial / final))


def corrupt_keypoints(x: np.ndarray, rng: np.random.Generator, noise_px: float,
                      drop_prob: float, pixel: float = PIXEL, rows: slice = slice(None),
                      batch: int | None = None) -> np.ndarray:
    """Make ground-truth 2D windows (B, T, J, 2) look like a detector's.

    Each window gets Gaussian noise of a random strength in [0, noise_px]
    pixels, and each joint of each frame is dropped with ``drop_prob`` and
    replaced by the mean of its temporal neighbours, as gap filling would.
    ``x`` may be the ``rows`` of a batch of ``batch`` windows (one process's
    share): the random numbers are drawn for the whole batch and sliced, so
    every window is corrupted as it is in a single process.
    """
    shape = (len(x) if batch is None else batch, *x.shape[1:])
    if drop_prob > 0:
        neighbours = (np.roll(x, 1, axis=1) + np.roll(x, -1, axis=1)) / 2
        dropped = rng.random(shape[:3])[rows] < drop_prob
        x = np.where(dropped[..., None], neighbours, x)
    if noise_px > 0:
        sigma = rng.uniform(0, noise_px * pixel, size=(shape[0], 1, 1, 1))[rows]
        x = x + rng.standard_normal(shape).astype(np.float32)[rows] * sigma
    return x.astype(np.float32)


def corrupt_sequence(poses_2d: np.ndarray, rng: np.random.Generator, noise_px: float = 0.0,
                     drop_prob: float = 0.0, pixel: float = PIXEL) -> np.ndarray:
    """A test sequence (F, J, 2) as a worse detector would give it: Gaussian
    noise of ``noise_px`` pixels, and each joint of each frame dropped with
    ``drop_prob`` and filled by linear interpolation over time from the
    frames where it was kept (held at the ends)."""
    out = poses_2d + rng.standard_normal(poses_2d.shape).astype(np.float32) * noise_px * pixel
    if drop_prob > 0:
        frames = np.arange(len(out))
        dropped = rng.random(out.shape[:2]) < drop_prob
        for joint in range(out.shape[1]):
            kept = ~dropped[:, joint]
            if kept.any() and not kept.all():
                for c in range(out.shape[2]):
                    out[:, joint, c] = np.interp(frames, frames[kept], out[kept, joint, c])
    return out.astype(np.float32)


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_native_bf16() -> bool:
    """True where oneDNN runs bfloat16 in hardware (AVX512-BF16 or AMX); elsewhere
    it emulates it, slower than float32."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and check is not None and check())


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """The autocast dtype for ``--precision``: ``auto`` picks bfloat16 where the
    hardware runs it natively (it needs no loss scaling), float16 on CUDA GPUs
    with tensor cores but no bfloat16, float32 elsewhere (including Apple MPS,
    where mixed precision has not been measured)."""
    if name != "auto":
        return PRECISIONS[name]
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16 if torch.cuda.get_device_capability(device)[0] >= 7 else torch.float32
    return torch.float32


def make_grad_scaler(precision: torch.dtype, device: torch.device) -> torch.amp.GradScaler | None:
    """float16 gradients underflow without loss scaling; bfloat16 has float32's range."""
    return torch.amp.GradScaler(device.type) if precision == torch.float16 else None


@dataclass
class EpochProgress:
    """How far an epoch has got; saved in a mid-epoch checkpoint so that a
    stopped run continues with the next batch, exactly as if never stopped."""

    batches: int = 0
    loss_sum: float = 0.0  # metres x windows
    windows: int = 0
    seconds: float = 0.0

    @property
    def loss(self) -> float:
        """Mean MPJPE loss over the windows seen so far, metres."""
        return self.loss_sum / max(self.windows, 1)


def epoch_order_rng(seed: int, epoch: int) -> np.random.Generator:
    """The epoch's shuffle: the same on every run and every resume."""
    return np.random.default_rng([seed, epoch])


def batch_rng(seed: int, epoch: int, batch: int) -> np.random.Generator:
    """One batch's augmentation noise, drawn from its own stream so that a run
    resumed at batch ``batch`` draws what the uninterrupted run drew."""
    return np.random.default_rng([seed, epoch, batch, 1])


def train_epoch(model: torch.nn.Module, sampler: WindowSampler, optimizer: Lookahead,
                batch_size: int, seed: int, epoch: int, device: torch.device,
                noise_px: float = 0.0, drop_prob: float = 0.0,
                wrap: Callable[[Iterable], Iterable] = lambda it: it, pixel: float = PIXEL,
                precision: torch.dtype = torch.float32, scaler: torch.amp.GradScaler | None = None,
                progress: EpochProgress | None = None,
                pause: Callable[[], bool] = lambda: False,
                shard: tuple[int, int] = (0, 1)) -> EpochProgress:
    """Train on the epoch's shuffled windows from ``progress.batches`` on, until
    the epoch ends or ``pause()`` says to stop after a batch; returns the new
    progress (compare ``batches`` with the epoch's batch count).

    With ``shard=(rank, world)`` this is one of ``world`` processes training a
    DistributedDataParallel ``model``: it takes its rows of every batch of
    ``batch_size`` (the global batch) and weights its summed loss by ``world``
    over the batch's size, so that the mean of the processes' gradients that
    DDP takes is the gradient of the whole batch's mean loss, as in one
    process, also when a batch does not split evenly (the last one). The
    returned progress counts whole batches, windows and loss of all processes.

    The forward pass runs under autocast in ``precision``; the loss, its
    gradient's accumulation into the float32 weights, BatchNorm statistics and
    the optimizer stay in float32. Nothing in the loop waits for the device:
    the loss is summed where it is computed and read once on return, and on
    CUDA batches are copied from pinned memory without blocking.
    """
    model.train()
    progress = EpochProgress(**vars(progress)) if progress else EpochProgress()
    pin = device.type == "cuda"
    low = precision != torch.float32
    total = torch.zeros((), device=device)
    started = time.perf_counter()
    rank, world = shard
    batches = sampler.batches(batch_size, epoch_order_rng(seed, epoch), start=progress.batches, shard=shard)
    for x, y in wrap(batches):
        count = min(batch_size, len(sampler) - progress.batches * batch_size)  # the whole batch's windows
        if noise_px > 0 or drop_prob > 0:
            x = corrupt_keypoints(x, batch_rng(seed, epoch, progress.batches), noise_px, drop_prob, pixel,
                                  rows=shard_rows(count, rank, world), batch=count)
        inputs, targets = (torch.from_numpy(a).pin_memory() if pin else torch.from_numpy(a) for a in (x, y))
        inputs = inputs.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=precision, enabled=low):
            predicted = model(inputs)
        # Per window, the mean per-joint position error (the MPJPE loss), metres.
        errors = torch.linalg.vector_norm(predicted.float() - targets, dim=-1).mean(dim=(1, 2))
        loss = errors.sum() * (world / count)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        total += errors.detach().sum()
        progress.windows += count
        progress.batches += 1
        if pause():
            break
    if world > 1:
        dist.all_reduce(total)
    progress.loss_sum += total.item()
    progress.seconds += time.perf_counter() - started
    return progress

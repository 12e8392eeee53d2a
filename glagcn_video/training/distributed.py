"""Training in several processes with torch.distributed, one process per device.

``torchrun --nproc_per_node=N train.py ...`` starts N copies of train.py and
tells each its RANK, WORLD_SIZE and LOCAL_RANK and where they meet
(MASTER_ADDR:MASTER_PORT); SLURM's ``srun`` gives the same facts as
SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID. DistributedDataParallel
averages the gradients; this module holds what DDP leaves to the script:
the process group (NCCL on CUDA, Gloo on the CPU, with a timeout so that a
dead or hung process ends the run instead of hanging it), the decisions all
processes must take together (pause, stop, exit code), gathering evaluation
sums and random states, and SyncBatchNorm on the CPU. With one process every
collective here is the identity, so train.py has a single code path.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


class DistributedError(RuntimeError):
    """A multi-process launch that cannot work; the message says what to set."""


@dataclass
class Ranks:
    """This process's place in the run. ``control`` is a Gloo group for the
    small decisions taken after every batch: on the CPU they never wait for
    the GPU, whose queue keeps running ahead as in one process."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    control: Any = None

    @property
    def main(self) -> bool:
        """Rank 0 prints, evaluates the tables it gathers, and writes every file."""
        return self.rank == 0

    def share(self, items: list[T]) -> list[T]:
        """This process's part of a list (every world-th item from rank)."""
        return items[self.rank::self.world]

    def any(self, *flags: bool) -> list[bool]:
        """Each flag, true if it is true in any process."""
        if self.world == 1:
            return list(flags)
        tensor = torch.tensor(flags, dtype=torch.int32)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX, group=self.control)
        return [bool(v) for v in tensor]

    def max(self, value: int) -> int:
        """The largest of the processes' values (an exit code every process returns)."""
        if self.world == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.int64)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX, group=self.control)
        return int(tensor)

    def gather(self, obj: T) -> list[T]:
        """Every process's ``obj`` (picklable), in rank order, in every process."""
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj, group=self.control)
        return out


def launch_environment() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) from torchrun's variables, else from SLURM's
    when srun started several tasks; None for a single process."""
    env = os.environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0"))
    if "SLURM_PROCID" in env and int(env.get("SLURM_NTASKS", "1")) > 1:
        if "MASTER_ADDR" not in env or "MASTER_PORT" not in env:
            raise DistributedError(
                f"srun started {env['SLURM_NTASKS']} tasks but MASTER_ADDR and MASTER_PORT are not set: "
                "export MASTER_ADDR=<first node's host name> MASTER_PORT=<free port> before srun "
                "(README, Training on several GPUs), or start one torchrun per node")
        return int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", "0"))
    return None


def setup(device: str, timeout_minutes: float) -> Ranks:
    """Join the run's process group if this process was launched as one of
    several; otherwise a single process on ``device``.

    Under several processes ``cuda`` means GPU number LOCAL_RANK of those
    visible (or the only one, where the launcher gives each process its own,
    as srun --gpus-per-task=1 does) with NCCL, and ``cpu`` Gloo. A collective
    that waits longer than ``timeout_minutes`` raises (Gloo; NCCL's watchdog
    takes the process down), and so does one whose peer died, at once: the
    run stops instead of hanging. Ranks other than 0 send their standard
    output to /dev/null, so that train.py's progress is printed once; their
    errors (standard error) still show.
    """
    where = launch_environment()
    if where is None or where[1] == 1:
        return Ranks(device=torch.device(device))
    rank, world, local_rank = where
    kind = torch.device(device).type
    if kind not in ("cuda", "cpu"):
        raise DistributedError(f"--device {device}: several processes train on CUDA GPUs (NCCL) "
                               f"or the CPU (Gloo)")
    timeout = timedelta(minutes=timeout_minutes)
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise DistributedError(f"--device {device}: no CUDA GPU visible to rank {rank}")
        here = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(here)
        dist.init_process_group("nccl", rank=rank, world_size=world, timeout=timeout, device_id=here)
    else:
        here = torch.device("cpu")
        dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timeout)
    control = dist.new_group(backend="gloo", timeout=timeout)
    if rank != 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    return Ranks(rank, world, here, control)


def shutdown() -> None:
    """Release the process group, after a run that ended normally."""
    if dist.is_initialized():
        dist.destroy_process_group()


def lost_peer(exc: BaseException) -> str | None:
    """For an exception raised by a collective that failed because another
    process died, hung past the timeout or could not be reached, one line
    saying so; None for any other exception. (Gloo raises plain RuntimeErrors.)"""
    text = str(exc).strip()
    if not (isinstance(exc, dist.DistError) or (isinstance(exc, RuntimeError) and (
            "gloo" in text or "NCCL" in text or "Connection reset by peer" in text))):
        return None
    where = f"rank {dist.get_rank()} of {dist.get_world_size()}" if dist.is_initialized() else "this process"
    reason = text.splitlines()[0] if text else type(exc).__name__
    return (f"{where} lost contact with the other processes ({reason}); the run stops. A process "
            f"that died says why in its own output; the last checkpoint is whole: resume with "
            f"-r last_epoch.bin")


class _SumOverProcesses(torch.autograd.Function):
    """All-reduce (sum) whose gradient is the all-reduced gradient: every
    process's input contributes to every process's output."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CpuSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the union of all processes' batches, for CPU tensors.

    torch.nn.SyncBatchNorm refuses CPU tensors (its statistics kernels exist
    for GPUs only, torch 2.14), so ``--sync-bn`` on Gloo uses this: the same
    statistics (mean, biased variance for normalising, unbiased for the
    running estimate, over every window of the global batch), from sums
    all-reduced with a gradient that is all-reduced in turn, as SyncBatchNorm's
    backward does. (torch.distributed.nn's differentiable all_reduce does the
    same but is deprecated for a private module.)
    In eval mode it is plain BatchNorm. Same parameters and buffers as the
    BatchNorm it replaces, so checkpoints do not change.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {input.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        local = torch.cat([xf.sum(dims), xf.new_tensor([x.numel() // x.shape[1]])])
        total = _SumOverProcesses.apply(local)
        count = total[-1].detach()
        mean = total[:-1] / count
        centred = xf - mean.view(shape)
        var = _SumOverProcesses.apply((centred * centred).sum(dims)) / count
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (1 / float(self.num_batches_tracked) if self.momentum is None
                            else self.momentum)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * count / (count - 1).clamp(min=1), momentum)
        return y.to(x.dtype)

    @classmethod
    def convert(cls, module: nn.Module) -> nn.Module:
        """Replace every BatchNorm in ``module`` by one of these, sharing its tensors."""
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.train(module.training)
            return out
        for name, child in module.named_children():
            module.add_module(name, cls.convert(child))
        return module


def parallel(model: nn.Module, ranks: Ranks, sync_bn: bool) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel (unchanged in one process);
    with ``sync_bn`` its BatchNorms normalise over the global batch first.
    The wrapper's ``.module`` is the model, whose state dict keeps its names."""
    if ranks.world == 1:
        return model
    if sync_bn:
        model = (nn.SyncBatchNorm.convert_sync_batchnorm(model) if ranks.device.type == "cuda"
                 else CpuSyncBatchNorm.convert(model))
    device_ids = [ranks.device.index] if ranks.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

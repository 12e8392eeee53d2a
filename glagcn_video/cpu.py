"""CPU threads: how many cores there are to use, and PyTorch's share of them.

PyTorch's intra-op thread count is one process-wide setting, and Ultralytics
changes it (to one thread fewer than the cores, for its training loops) when
it sets up a model; the demo and the fast lifter set it for what they run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def usable_cores() -> int:
    """Cores this process may run on (its affinity where the OS reports one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """PyTorch's intra-op thread count (process-wide) set to ``threads`` for
    the duration, then restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)

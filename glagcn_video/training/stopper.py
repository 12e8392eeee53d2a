"""Stopping a run between two batches, with a checkpoint, when asked to."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


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

    def __enter__(self) -> Stopper:
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
        """Why to stop (the first signal, or the time budget spent); None to go on."""
        if self.signal is not None:
            return signal.Signals(self.signal).name
        if self.deadline is not None and time.time() >= self.deadline:
            return "time budget reached"
        return None

    def until_stop(self, items: Iterable[T]) -> Iterator[T]:
        """``items`` until a stop is requested: an evaluation cut short, after
        which all processes decide together whether to stop."""
        for item in items:
            if self.reason is not None:
                return
            yield item

    def exit_code(self) -> int:
        """0 for the time budget (the run did what was asked), 128 + signal otherwise."""
        return 128 + self.signal if self.signal is not None else 0

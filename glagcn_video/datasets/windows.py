"""Training and evaluation samples: windows of 2D frames centred on each target
frame, drawn from many sequences at once, optionally mirrored."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..skeleton import Layout
from .load import DataError, Sequence


def flip_poses(poses: np.ndarray, layout: Layout) -> np.ndarray:
    """Mirror poses (..., J, D): negate x and swap left and right joints."""
    flipped = poses[..., layout.flip_permutation(), :].copy()
    flipped[..., 0] *= -1
    return flipped


class WindowSampler:
    """Windows of ``receptive_field`` 2D frames centred on every target frame.

    Frames past a sequence's ends repeat its edge frame. All sequences are
    padded once and concatenated so that a batch is a single fancy-index
    gather. With ``augment`` every window also appears mirrored.

    With ``epoch_windows`` an epoch is that many samples drawn afresh from all
    of them by each epoch's shuffle, instead of all of them: epochs keep a
    fixed cost (and the schedule its steps) while the run sees more distinct
    frames than a fixed ``stride`` subset of the same size would give it.
    """

    def __init__(self, sequences: list[Sequence], receptive_field: int, layout: Layout,
                 augment: bool = False, stride: int = 1, epoch_windows: int | None = None):
        if not sequences:
            raise DataError("no sequences selected (check subjects and actions)")
        self.pad = (receptive_field - 1) // 2
        self.receptive_field = receptive_field
        self.layout = layout
        padded, targets, starts, offset = [], [], [], 0
        for seq in sequences:
            frames = len(seq.poses_2d)
            padded.append(np.pad(seq.poses_2d, ((self.pad, self.pad), (0, 0), (0, 0)), mode="edge"))
            targets.append(seq.poses_3d)
            starts.append(offset + np.arange(0, frames, stride))
            offset += frames + 2 * self.pad
        self.inputs = np.concatenate(padded)
        self.target_index = np.concatenate([
            sum(len(s.poses_3d) for s in sequences[:i]) + np.arange(0, len(s.poses_3d), stride)
            for i, s in enumerate(sequences)])
        self.targets = np.concatenate(targets)
        self.starts = np.concatenate(starts)
        self.flags = np.zeros(len(self.starts), bool)
        if augment:
            self.flags = np.concatenate([self.flags, ~self.flags])
            self.starts = np.concatenate([self.starts, self.starts])
            self.target_index = np.concatenate([self.target_index, self.target_index])
        self.samples = len(self.starts)
        if epoch_windows is not None and not 0 < epoch_windows <= self.samples:
            raise DataError(f"epochs of {epoch_windows} windows asked for: there are 1 to "
                            f"{self.samples} with this stride and augmentation")
        self.epoch_windows = epoch_windows or self.samples

    def __len__(self) -> int:
        """Samples in one epoch."""
        return self.epoch_windows

    def batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, T, J, 2) windows and (B, 1, J, 3) centre-frame targets for these sample indices."""
        window = self.starts[indices, None] + np.arange(self.receptive_field)
        x = self.inputs[window]
        y = self.targets[self.target_index[indices]][:, None]
        flip = self.flags[indices]
        if flip.any():
            x[flip] = flip_poses(x[flip], self.layout)
            y[flip] = flip_poses(y[flip], self.layout)
        return x, y

    def batches(self, batch_size: int, rng: np.random.Generator | None = None, start: int = 0,
                shard: tuple[int, int] = (0, 1)) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch's samples in batches, shuffled when ``rng`` is given, from
        batch ``start`` on (a run resumed mid-epoch skips the batches it has
        seen). With ``epoch_windows`` they are the shuffle's first ones.

        With ``shard=(rank, world)`` only process ``rank``'s part of every
        batch is gathered (:func:`shard_rows`): the ``world`` processes of a
        distributed run share each batch of the single-process order.
        """
        order = (rng.permutation(self.samples) if rng is not None else np.arange(self.samples))[:len(self)]
        for begin in range(start * batch_size, len(order), batch_size):
            chunk = order[begin:begin + batch_size]
            yield self.batch(chunk[shard_rows(len(chunk), *shard)])


def shard_rows(count: int, rank: int, world: int) -> slice:
    """The rows of a batch of ``count`` that process ``rank`` of ``world`` takes:
    contiguous parts whose sizes differ by at most one, the larger first."""
    size, larger = divmod(count, world)
    start = rank * size + min(rank, larger)
    return slice(start, start + size + (rank < larger))

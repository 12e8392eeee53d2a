"""2D keypoint sequences to root-relative 3D poses with a GLA-GCN model.

The model predicts the centre frame of a window of ``receptive_field``
frames, so every frame gets the window around it; frames past either end of
the sequence repeat the edge frame, as in training, which also makes
sequences shorter than the window (down to one frame) work. Windows are views
into one padded tensor and only copied a batch at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..files import DemoError
from ..skeleton import H36M, Layout

DEFAULT_BATCH_SIZE = 64


def resolve_device(name: str | None = None) -> torch.device:
    """``name`` if given and usable, else CUDA, else Apple MPS, else the CPU."""
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise DemoError(f"--device {name}", "not a device name (use cpu, cuda, cuda:N or mps)") from None
    usable = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not usable.get(device.type, False):
        raise DemoError(f"--device {name}", "not available on this machine")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise DemoError(f"--device {name}", f"only {torch.cuda.device_count()} CUDA device(s) here")
    return device


def windows(sequence: torch.Tensor, size: int) -> torch.Tensor:
    """(K, J, 2) -> (K, size, J, 2): the window centred on each frame, edges
    repeated; a strided view, not a copy."""
    pad = size // 2
    padded = torch.cat([sequence[:1].expand(pad, *sequence.shape[1:]), sequence,
                        sequence[-1:].expand(pad, *sequence.shape[1:])])
    return padded.unfold(0, size, 1).permute(0, 3, 1, 2)


class Lifter:
    """Runs a lifting model over whole sequences.

    ``model`` is any callable from (N, T, J, 2) normalised 2D to (N, 1, J, 3)
    (a GLAGCN in eval mode, or an optimised equivalent) already on ``device``.
    With ``tta`` each window is also lifted mirrored (x -> -x, left and right
    joints swapped), the result mirrored back and the two averaged, as the
    authors evaluate; both halves go through the model in one batch.
    """

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], receptive_field: int,
                 device: torch.device = torch.device("cpu"), layout: Layout = H36M,
                 batch_size: int = DEFAULT_BATCH_SIZE, tta: bool = True):
        self.model = model
        self.receptive_field = receptive_field
        self.device = device
        self.batch_size = batch_size
        self.tta = tta
        self.flip = torch.as_tensor(layout.flip_permutation(), device=device)

    def _mirror(self, x: torch.Tensor) -> torch.Tensor:
        """x -> -x and left/right swapped, for 2D inputs and 3D outputs alike."""
        x = x[..., self.flip, :].clone()
        x[..., 0] *= -1
        return x

    def __call__(self, keypoints: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        """(K, J, 2) normalised 2D at the model's frame rate -> (K, J, 3) metres
        (flip-averaged with ``tta``), or only those of the ``frames`` (indices) given."""
        plain, averaged = self.predict(keypoints, frames=frames)
        return plain if averaged is None else averaged

    @torch.inference_mode()
    def predict(self, keypoints: np.ndarray, stride: int = 1,
                frames: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The plain prediction for every ``stride``-th frame of (K, J, 2) input
        (or for the ``frames`` given by index), and with ``tta`` also its average
        with the mirrored window's prediction mirrored back (else None), both
        from one forward pass per batch. Windows are always taken at the full
        frame rate; evaluation wants both results and may score a subset of frames."""
        sequence = torch.as_tensor(np.asarray(keypoints, dtype=np.float32), device=self.device)
        all_windows = windows(sequence, self.receptive_field)
        chosen = (torch.arange(0, len(sequence), stride, device=self.device) if frames is None
                  else torch.as_tensor(np.asarray(frames, dtype=np.int64), device=self.device))
        plain, averaged = [], []
        for start in range(0, len(chosen), self.batch_size):
            batch = all_windows[chosen[start:start + self.batch_size]].contiguous()  # this batch's windows only
            if self.tta:
                pred = self.model(torch.cat([batch, self._mirror(batch)]))[:, 0]
                pred, mirrored = pred[:len(batch)], self._mirror(pred[len(batch):])
                averaged.append(((pred + mirrored) / 2).float().cpu())
            else:
                pred = self.model(batch)[:, 0]
            plain.append(pred.float().cpu())
        return torch.cat(plain).numpy(), (torch.cat(averaged).numpy() if self.tta else None)

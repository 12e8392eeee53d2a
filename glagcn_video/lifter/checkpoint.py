"""Reading and writing GLA-GCN checkpoints without executing code.

The on-disk format is the authors' one: a ``torch.save``'d dict with
``epoch``, ``lr``, ``random_state``, ``optimizer`` and ``model_pos`` (the
state dict of a DataParallel model, every key prefixed ``module.``). Our own
files add a ``config`` dict (layout, filter widths, channels) so that nothing
has to be guessed; the authors' scripts ignore it.
"""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..files import atomic_write
from ..skeleton import get_layout
from .model import GLAGCN

PREFIX = "module."


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file."""


def _numpy_globals() -> list[Any]:
    """What the authors' ``random_state`` (a NumPy RandomState state tuple) needs to unpickle."""
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:
        from numpy.core.multiarray import _reconstruct

    dtype_classes = [type(np.dtype(np.uint32)), type(np.dtype(np.float64))]
    return [
        # Pickles name it by the module of the numpy that wrote them: allow both names.
        (_reconstruct, "numpy.core.multiarray._reconstruct"),
        (_reconstruct, "numpy._core.multiarray._reconstruct"),
        np.ndarray, np.dtype, *dtype_classes,
    ]


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint dict with ``weights_only=True``: data only, never code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        culprit = next((line.strip() for line in str(exc).splitlines() if "GLOBAL" in line), None)
        if culprit is None:  # e.g. a text file, or a pickle in a protocol torch.save never writes
            raise CheckpointError(f"{path}: refused to load, not a PyTorch checkpoint or truncated "
                                  f"or corrupt (unsupported pickle content)") from None
        raise CheckpointError(f"{path}: refused to load, the file asks to run code or build "
                              f"objects a checkpoint never needs ({culprit})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError,
            KeyError, IndexError, AssertionError, struct.error) as exc:
        # The weights-only unpickler fails on arbitrary bytes with any of these.
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint, truncated or corrupt "
                              f"({type(exc).__name__})") from None
    if isinstance(data, Mapping) and "model_pos" in data:
        return dict(data)
    if isinstance(data, Mapping) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
        return {"model_pos": dict(data)}  # a bare state dict
    raise CheckpointError(f"{path}: no 'model_pos' weights in this file; is it a GLA-GCN checkpoint?")


def _strip_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len(PREFIX):] if k.startswith(PREFIX) else k: v for k, v in state.items()}


def infer_config(state: Mapping[str, torch.Tensor], path: str | os.PathLike,
                 layout: str | None = None,
                 filter_widths: Sequence[int] | None = None) -> dict[str, Any]:
    """Architecture from tensor shapes: channels, joints, number of stages.

    Strides are not stored in a state dict; the authors' releases all use
    width-3 stages, so that is assumed unless ``filter_widths`` says otherwise.
    """
    try:
        channels = int(state["fc.weight"].shape[1])
        joints = int(state["expand_gcn.gcn1.PA"].shape[-1])
    except KeyError as exc:
        raise CheckpointError(f"{path}: not a GLA-GCN state dict (missing {exc.args[0]!r})") from None
    units = {int(k.split(".")[1]) for k in state if k.startswith("layers_tcngcn.")}
    stages = (max(units) + 1) // 2 if units else 0
    if filter_widths is None:
        filter_widths = [3] * stages
    elif len(filter_widths) != stages:
        raise CheckpointError(f"{path}: has {stages} stages but filter widths {list(filter_widths)} "
                              f"describe {len(filter_widths)}")
    if layout is None:
        if joints == 17:
            layout = "h36m"
        else:
            raise CheckpointError(
                f"{path}: a {joints}-joint model; pass layout='humaneva15' or "
                f"'humaneva15-from-coco17' (the tensors cannot tell them apart)")
    return {"layout": layout, "filter_widths": list(filter_widths), "channels": channels}


def build_model(config: Mapping[str, Any]) -> GLAGCN:
    """A fresh model from a config dict as stored in our checkpoints."""
    layout = get_layout(config["layout"])
    joints_in = 17 if layout.name == "humaneva15-from-coco17" else None
    return GLAGCN(layout, config["filter_widths"], config["channels"],
                  dropout=config.get("dropout", 0.1), num_joints_in=joints_in)


def load_checkpoint(path: str | os.PathLike, layout: str | None = None,
                    map_location: str | torch.device = "cpu",
                    filter_widths: Sequence[int] | None = None) -> GLAGCN:
    """Load a GLA-GCN checkpoint (the authors' ``.bin`` or ours) in eval mode.

    ``layout`` ("h36m", "humaneva15", "humaneva15-from-coco17") is needed only
    where the shapes cannot decide; our own checkpoints carry it.
    """
    data = read_checkpoint(path, map_location)
    state = _strip_prefix(data["model_pos"])
    config = dict(data.get("config") or {})
    if not config or layout is not None or filter_widths is not None:
        config.update(infer_config(state, path, layout or config.get("layout"),
                                   filter_widths or config.get("filter_widths")))
    try:
        model = build_model(config)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    _load_state(model, state, path)
    return model.to(map_location).eval()


def _load_state(model: GLAGCN, state: Mapping[str, torch.Tensor], path: str | os.PathLike) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        if wrong:
            parts.append(f"{len(wrong)} shape mismatches (e.g. {wrong[0]}, file vs model)")
        raise CheckpointError(f"{path}: does not match a {describe(model)}: " + "; ".join(parts))
    model.load_state_dict(state)


def describe(model: GLAGCN) -> str:
    widths = ",".join(map(str, model.filter_widths))
    return (f"GLA-GCN ({model.layout.name}, widths {widths}, {model.receptive_field} frames, "
            f"{model.channels} channels)")


def model_config(model: GLAGCN) -> dict[str, Any]:
    return {"layout": model.layout.name, "filter_widths": list(model.filter_widths),
            "channels": model.channels}


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through :func:`atomic_write`: never a truncated checkpoint."""
    atomic_write(path, lambda f: torch.save(obj, f))


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, *, epoch: int, lr: float,
                    optimizer: Mapping[str, Any] | None = None,
                    random_state: Mapping[str, Any] | None = None,
                    extra: Mapping[str, Any] | None = None) -> None:
    """Save in the authors' layout (``module.``-prefixed ``model_pos``) plus ``config``."""
    core = getattr(model, "module", model)
    data = {
        "epoch": epoch,
        "lr": lr,
        "random_state": dict(random_state or {}),
        "optimizer": dict(optimizer or {}),
        "model_pos": {PREFIX + k: v.detach().cpu() for k, v in core.state_dict().items()},
        "config": model_config(core),
    }
    data.update(extra or {})
    atomic_torch_save(data, path)

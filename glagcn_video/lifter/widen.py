"""Widen a trained GLA-GCN to more channels without changing what it computes.

A wider model trained from scratch on a CPU spends its first epochs
relearning what a narrower one already knows (at 32 channels that was five
epochs, about 13 hours). Net2Net's function-preserving widening (Chen et al.,
ICLR 2016) starts the wider model from the narrower one instead: every new
channel is a copy of an old one, and every layer that reads a copied channel
divides its weights by the number of copies, so the sum it forms is the same.
Dropout and a little noise then make the copies learn different things.

The model's hidden width is one number, so one channel map serves every
layer: the residual sums and the strided skips add channels that are copies
of the same old channels. The attention embeddings (``conv_a``, ``conv_b``,
a quarter of the width) are the exception, since their product is divided
by their own size: the old embedding channels of ``conv_a`` are scaled by
new/old size and its new ones start at zero (``conv_b``'s new ones are
copies, so the zeros still receive gradients), which leaves every attention
map as it was.
"""

from __future__ import annotations

import torch
from torch import nn

from .model import GLAGCN, AdaptiveGraphConv, BatchNormConv, GraphTemporalUnit, TemporalConv


def channel_map(old: int, new: int) -> torch.Tensor:
    """New channel i copies old channel i mod old: the first new - old channels
    get one copy each (and every channel one more per full multiple)."""
    if new < old:
        raise ValueError(f"cannot widen {old} channels to {new}")
    return torch.arange(new) % old


def _copies(mapping: torch.Tensor, old: int) -> torch.Tensor:
    return torch.bincount(mapping, minlength=old).to(torch.float32)


@torch.no_grad()
def _widen_conv(src: nn.Conv2d | nn.Conv1d, dst: nn.Conv2d | nn.Conv1d,
                out_map: torch.Tensor | None, in_map: torch.Tensor | None) -> None:
    """dst = src with output channels copied along ``out_map`` and input
    channels along ``in_map`` (each divided by its number of copies)."""
    weight, bias = src.weight, src.bias
    if in_map is not None:
        weight = weight[:, in_map] / _copies(in_map, src.weight.shape[1])[in_map].view(1, -1, *[1] * (weight.ndim - 2))
    if out_map is not None:
        weight, bias = weight[out_map], bias[out_map]
    dst.weight.copy_(weight)
    dst.bias.copy_(bias)


@torch.no_grad()
def _widen_bn(src: nn.BatchNorm1d | nn.BatchNorm2d, dst: nn.BatchNorm1d | nn.BatchNorm2d,
              out_map: torch.Tensor) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst, name).copy_(getattr(src, name)[out_map])
    dst.num_batches_tracked.copy_(src.num_batches_tracked)


@torch.no_grad()
def _widen_embedding(src_a: nn.Conv2d, src_b: nn.Conv2d, dst_a: nn.Conv2d, dst_b: nn.Conv2d,
                     in_map: torch.Tensor | None) -> None:
    """The attention's two embeddings: a @ b / size keeps its value (module docstring)."""
    old, new = src_a.out_channels, dst_a.out_channels
    embedding_map = channel_map(old, new)
    _widen_conv(src_b, dst_b, embedding_map, in_map)
    _widen_conv(src_a, dst_a, embedding_map, in_map)
    dst_a.weight[old:] = 0
    dst_a.bias[old:] = 0
    dst_a.weight[:old] *= new / old
    dst_a.bias[:old] *= new / old


def _widen_gcn(src: AdaptiveGraphConv, dst: AdaptiveGraphConv, out_map: torch.Tensor,
               in_map: torch.Tensor | None) -> None:
    with torch.no_grad():
        dst.PA.copy_(src.PA)
    for a, b, d, a2, b2, d2 in zip(src.conv_a, src.conv_b, src.conv_d, dst.conv_a, dst.conv_b, dst.conv_d):
        _widen_embedding(a, b, a2, b2, in_map)
        _widen_conv(d, d2, out_map, in_map)
    if isinstance(src.down, BatchNormConv):
        _widen_conv(src.down[0], dst.down[0], out_map, in_map)
        _widen_bn(src.down[1], dst.down[1], out_map)
    _widen_bn(src.bn, dst.bn, out_map)


def _widen_temporal(src: TemporalConv, dst: TemporalConv, out_map: torch.Tensor,
                    in_map: torch.Tensor | None) -> None:
    _widen_conv(src.conv, dst.conv, out_map, in_map)
    _widen_bn(src.bn, dst.bn, out_map)


def _widen_unit(src: GraphTemporalUnit, dst: GraphTemporalUnit, mapping: torch.Tensor,
                in_map: torch.Tensor | None) -> None:
    _widen_gcn(src.gcn1, dst.gcn1, mapping, in_map)
    _widen_temporal(src.tcn1, dst.tcn1, mapping, mapping)
    if isinstance(src.residual, TemporalConv):
        _widen_temporal(src.residual, dst.residual, mapping, in_map)


def widen(model: GLAGCN, channels: int, noise: float = 0.0, seed: int = 0) -> GLAGCN:
    """A new ``channels``-wide GLA-GCN that computes what ``model`` computes
    (exactly, up to float rounding, when ``noise`` is 0). ``noise`` adds
    Gaussian noise of that fraction of each weight tensor's standard deviation,
    so that copied channels do not stay copies."""
    wide = GLAGCN(model.layout, model.filter_widths, channels, model.drop.p, model.num_joints_in)
    mapping = channel_map(model.channels, channels)
    with torch.no_grad():
        wide.data_bn.load_state_dict(model.data_bn.state_dict())
        _widen_unit(model.expand_gcn, wide.expand_gcn, mapping, None)
        for src, dst in zip(model.layers_tcngcn, wide.layers_tcngcn):
            _widen_unit(src, dst, mapping, mapping)
        _widen_conv(model.fc, wide.fc, None, mapping)
        if noise > 0:
            generator = torch.Generator().manual_seed(seed)
            for name, p in wide.named_parameters():
                if name.endswith("weight") and p.ndim > 1:
                    p.add_(torch.randn(p.shape, generator=generator) * noise * p.std())
    return wide.train(model.training)

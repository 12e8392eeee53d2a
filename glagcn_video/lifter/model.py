"""GLA-GCN (Yu et al., ICCV 2023): global-local adaptive graph convolution for
lifting a window of 2D keypoints to the 3D pose of its centre frame.

Module and parameter names follow the authors' release so that their
checkpoints load unchanged (``data_bn``, ``expand_gcn``, ``layers_tcngcn``,
``fc``; inside a unit ``gcn1``, ``tcn1``, ``residual``).

Shapes: the network works on (N, C, T, J) feature maps; the public interface is
(N, T, J_in, 2) normalised 2D in, (N, 1, J_out, 3) root-relative metres out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..skeleton import Layout


def adjacency_subsets(layout: Layout) -> np.ndarray:
    """The three (J, J) adjacency subsets: identity, inward, outward.

    Inward puts A[parent, child] = 1, outward A[child, parent] = 1; each
    directed matrix has every column divided by its sum (empty columns stay 0).
    """
    j = layout.num_joints
    inward = np.zeros((j, j))
    for child, parent in layout.edges:
        inward[parent, child] = 1
    outward = inward.T.copy()

    def column_normalise(a: np.ndarray) -> np.ndarray:
        sums = a.sum(axis=0)
        scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
        return a * scale[None, :]

    return np.stack([np.eye(j), column_normalise(inward), column_normalise(outward)]).astype(np.float32)


class BatchNormConv(nn.Sequential):
    """A 1x1 convolution followed by BatchNorm, used for channel-changing skips."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))


class AdaptiveGraphConv(nn.Module):
    """Adaptive graph convolution over joints (the paper's A-GCN block).

    Each of the three subsets mixes joints with a fixed adjacency plus a
    learned one (``PA``) plus a data-dependent attention between joints
    computed from embeddings of the whole window (global + local context).
    """

    def __init__(self, in_channels: int, out_channels: int, adjacency: np.ndarray,
                 embedding_ratio: int = 4):
        super().__init__()
        num_subsets = adjacency.shape[0]
        self.inter_channels = out_channels // embedding_ratio or 3  # the authors' fallback for tiny widths
        self.register_buffer("A", torch.from_numpy(adjacency), persistent=False)
        self.PA = nn.Parameter(torch.full_like(self.A, 1e-6))
        self.conv_a = nn.ModuleList(nn.Conv2d(in_channels, self.inter_channels, 1) for _ in range(num_subsets))
        self.conv_b = nn.ModuleList(nn.Conv2d(in_channels, self.inter_channels, 1) for _ in range(num_subsets))
        self.conv_d = nn.ModuleList(nn.Conv2d(in_channels, out_channels, 1) for _ in range(num_subsets))
        self.down = BatchNormConv(in_channels, out_channels) if in_channels != out_channels else nn.Identity()
        self.bn = nn.BatchNorm2d(out_channels)
        self.drop = nn.Dropout(0.1)
        self._init_weights(num_subsets)

    def _init_weights(self, num_subsets: int) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.bn.weight, 1e-6)
        for conv in self.conv_d:
            out_c, in_c, kh, _ = conv.weight.shape
            nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / (out_c * in_c * kh * num_subsets)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        adjacency = self.A + self.PA
        x_flat = x.reshape(n, c * t, v)
        y = 0
        for i, (conv_a, conv_b, conv_d) in enumerate(zip(self.conv_a, self.conv_b, self.conv_d)):
            a = conv_a(x).permute(0, 3, 1, 2).reshape(n, v, self.inter_channels * t)
            b = conv_b(x).reshape(n, self.inter_channels * t, v)
            attention = torch.softmax(a @ b / a.shape[-1], dim=-2) + adjacency[i]
            y = y + conv_d((x_flat @ attention).view(n, c, t, v))
        y = self.drop(self.bn(y))
        return torch.relu(y + self.down(x))


class TemporalConv(nn.Module):
    """A (kernel x 1) convolution along time, optionally strided, then BatchNorm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 9, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, (kernel_size, 1),
                              padding=((kernel_size - 1) // 2, 0), stride=(stride, 1))
        self.bn = nn.BatchNorm2d(out_channels)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class GraphTemporalUnit(nn.Module):
    """relu(TCN(GCN(x)) + residual(x)); ``residual=False`` drops the skip."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: np.ndarray,
                 stride: int = 1, residual: bool = True):
        super().__init__()
        self.gcn1 = AdaptiveGraphConv(in_channels, out_channels, adjacency)
        self.tcn1 = TemporalConv(out_channels, out_channels, stride=stride)
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = TemporalConv(in_channels, out_channels, kernel_size=1, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn1(self.gcn1(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu(y)


def coco17_to_humaneva15(x: torch.Tensor) -> torch.Tensor:
    """Map COCO-17 keypoints (..., 17, F) to the 15 HumanEva joints, as the
    released Mask R-CNN HumanEva model does inside its forward pass: pelvis and
    thorax are the hip and shoulder midpoints, the head is the nose."""
    pelvis = (x[..., 11, :] + x[..., 12, :]) / 2
    thorax = (x[..., 5, :] + x[..., 6, :]) / 2
    limbs = x[..., [5, 7, 9, 6, 8, 10, 11, 13, 15, 12, 14, 16], :]
    return torch.cat([pelvis.unsqueeze(-2), thorax.unsqueeze(-2), limbs, x[..., :1, :]], dim=-2)


class GLAGCN(nn.Module):
    """The GLA-GCN lifter.

    Each stage with filter width w keeps a strided copy of its input as a skip
    and applies two graph-temporal units, the second with temporal stride w,
    so T shrinks by w per stage down to one frame (the window's centre). The
    output head is individually connected: one shared 1x1 convolution maps
    each joint's own feature vector to its 3D position.
    """

    def __init__(self, layout: Layout, filter_widths: Sequence[int] = (3, 3, 3, 3, 3),
                 channels: int = 96, dropout: float = 0.1, num_joints_in: int | None = None):
        super().__init__()
        if any(w % 2 == 0 or w < 1 for w in filter_widths):
            raise ValueError(f"filter widths must be odd and positive, got {list(filter_widths)}")
        self.layout = layout
        self.filter_widths = tuple(int(w) for w in filter_widths)
        self.channels = channels
        self.num_joints_out = layout.num_joints
        self.num_joints_in = num_joints_in or layout.num_joints
        if self.num_joints_in not in (self.num_joints_out, 17):
            raise ValueError(f"cannot map {self.num_joints_in} input joints to layout {layout.name}")
        self.maps_coco17 = self.num_joints_in != self.num_joints_out
        adjacency = adjacency_subsets(layout)

        self.data_bn = nn.BatchNorm1d(2 * self.num_joints_out)
        self.expand_gcn = GraphTemporalUnit(2, channels, adjacency)
        units = []
        for w in self.filter_widths:
            units.append(GraphTemporalUnit(channels, channels, adjacency))
            units.append(GraphTemporalUnit(channels, channels, adjacency, stride=w, residual=False))
        self.layers_tcngcn = nn.ModuleList(units)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Conv1d(channels, 3, 1)

    @property
    def receptive_field(self) -> int:
        """Frames in one input window (the product of the filter widths)."""
        return int(np.prod(self.filter_widths))

    def set_bn_momentum(self, momentum: float) -> None:
        """Set the momentum of the BatchNorms that the authors decay in training."""
        self.data_bn.momentum = momentum
        for unit in (self.expand_gcn, *self.layers_tcngcn):
            unit.gcn1.bn.momentum = momentum
            unit.tcn1.bn.momentum = momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, J_in, 2) -> (N, 1, J_out, 3)."""
        if x.ndim != 4 or x.shape[-2] != self.num_joints_in or x.shape[-1] != 2:
            raise ValueError(f"expected input (N, T, {self.num_joints_in}, 2), got {tuple(x.shape)}")
        n, t = x.shape[:2]
        v = self.num_joints_out
        if self.maps_coco17:
            # The released COCO-input model has a data_bn but never applies it.
            x = coco17_to_humaneva15(x).permute(0, 3, 1, 2).contiguous()  # (N, 2, T, J)
        else:
            x = self.data_bn(x.reshape(n, t, v * 2).permute(0, 2, 1))
            x = x.view(n, v, 2, t).permute(0, 2, 3, 1).contiguous()  # (N, 2, T, J)

        x = self.expand_gcn(x)
        for i, w in enumerate(self.filter_widths):
            skip = x[:, :, w // 2::w]
            x = self.drop(self.layers_tcngcn[2 * i](x))
            x = self.drop(self.layers_tcngcn[2 * i + 1](x))
            x = skip + x

        per_joint = x.mean(dim=2)  # (N, C, J)
        return self.fc(per_joint).permute(0, 2, 1).unsqueeze(1)

"""Fast inference path for the GLA-GCN lifter.

``optimize_for_inference(model)`` turns a :class:`GLAGCN` into a module with
the same interface ((N, T, J_in, 2) -> (N, 1, J_out, 3)) and the same outputs
as its eval mode up to float32 rounding (about 1e-6), computed with less work.
Every step is exact algebra; only the rounding differs:

* Every BatchNorm is an affine map in eval mode, folded (in float64) into
  the convolution before it: BN(W x + b) = (s W) x + (s b + t). ``data_bn``
  stays a per-(joint, coordinate) affine on the input, which no shared
  convolution weight can express. Dropout is the identity in eval mode.
* Features are kept as one sequence per joint, (N*J, C, T), time last: a 1x1
  convolution is a GEMM per joint sequence, the temporal convolution a 1D
  convolution over that batch, and its FFT runs along contiguous memory.
* The graph convolution mixes joints before channels. conv_d is linear and
  the attention acts on joints only, so
  ``sum_i conv_d_i(x @ att_i) = W_d [x @ att_0; x @ att_1; x @ att_2] + b``:
  one matmul mixes joints for the three subsets (the stacked attention
  matrices; A + PA precomputed) and one 1x1 convolution with 3x the input
  channels applies the three conv_d (and the BN, and the ``down`` branch as a
  fourth, identity "subset" where it exists). conv_a and conv_b of the three
  subsets are one 1x1 convolution; the scores are batched matmuls on views.
* Temporal convolutions: by FFT for stride 1 over long windows (a
  zero-padded linear convolution equals a circular one of any length
  L >= T + 4, since no output then reads a wrapped-around sample; each of the
  L/2 + 1 frequency bins is one C x C complex matrix product instead of nine
  real ones per time step, 4.2x fewer multiply-adds at T = 243), as one dense
  matrix for windows no longer than the kernel, directly otherwise.
* Large batches run in chunks, the attention projections a few windows at a
  time and the 3x-wide joint-mixed features in groups of output joints, so
  that intermediates stay in cache. On the CPU the
  chunks run side by side, one per core, each single-threaded: windows are
  independent, and the small per-window operations scale far better across
  windows than inside one operation (PyTorch's intra-op threads). A single
  window is split by joints instead: only the attention needs every joint, so
  each unit computes it, then the workers take a group of output joints each
  through the mixing, conv_d, temporal convolution and residual.

Measured on the 243-frame, 96-channel model on a 2-core AMD EPYC against the
faithful module (BENCHMARKS.md): with one thread each, 1.24x faster at batch
1 (the faithful model already runs its big convolutions near this core's
peak, and the exact rewrite removes 40% of the 1.62 G multiply-adds per
window, leaving 0.98 G) and 4.0x at batch 64 (where the faithful model
streams its features through memory); with both cores, 2.4x (the window's
joints split between them) and 4.2-4.9x.
benchmarks/bench_lifter.py measures it on your machine.

No position needs skipping for the released models: every unit's attention
uses the whole window, and a 9-tap convolution with stride w <= 5 reads every
input position. (With w = 7 or 9 the last w - 5 positions of a stage's second
unit are read by no output, with w >= 11 also w - 9 between outputs; their
graph-conv outputs could be skipped, their attention inputs not. No released
model has such widths, so this is not done.)

The optimised module is a snapshot: later changes to the source model's
weights do not reach it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F
from torch import nn

from ..cpu import torch_threads
from .model import GLAGCN, AdaptiveGraphConv, GraphTemporalUnit, TemporalConv, coco17_to_humaneva15

__all__ = ["optimize_for_inference", "FastGLAGCN", "DEFAULT_CHUNK_SIZE"]

DEFAULT_CHUNK_SIZE = 4
# Channels x frames of a unit's features below which a window's joints are not split
# between workers: smaller operations cost more in hand-offs and lost GEMM efficiency
# than they gain (measured on 2 cores: the 243-frame, 96-channel model is fastest when
# its units of 27 frames and more are split; the shipped 27-frame, 32-channel one
# gains nothing from splitting).
_MIN_SPLIT_FEATURES = 96 * 27
# Windows x channels x frames below which a chunk is not worth a worker of its own:
# a small batch is cut into one chunk per worker only down to this size. Measured on
# 2 cores with the shipped 27-frame, 32-channel model: 2 windows cut into two chunks
# ran at 340 instead of 520 windows/s, 6 into two at 880 instead of 930, 20 into two
# at 1790 instead of 1110. (One window of the 243-frame, 96-channel model is above it.)
_MIN_CHUNK_FEATURES = 6 * 32 * 27
_L2_BUDGET_BYTES = 2 << 20
_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``workers`` threads, made once and reused."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="glagcn-fast")
    return _POOLS[workers]


def _bn_scale_shift(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as y = x * scale + shift, computed in float64."""
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    shift = bn.bias.double() - bn.running_mean.double() * scale
    return scale, shift


def _fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """A (k x 1) Conv2d followed by eval BatchNorm as one conv1d: weight (out, in, k), bias (out,).

    BN(conv(x)) = scale * (W x + b) + shift = (scale W) x + (scale b + shift), exactly.
    """
    scale, shift = _bn_scale_shift(bn)
    weight = conv.weight.double()[..., 0] * scale[:, None, None]
    bias = conv.bias.double() * scale + shift
    return weight, bias


def _fast_fft_length(n: int) -> int:
    """Smallest length >= n whose only prime factors are 2 and 3.

    Lengths with a factor 5 are valid FFT sizes too, but slower here: for 68 x
    96 sequences of 243 frames, the transform, its reordering copy and the
    inverse took 14.3 ms at length 250 and 5.8 ms at 256 (one thread, 2-core
    EPYC), far more than the 2% more frequency bins cost.
    """
    while True:
        m = n
        for p in (2, 3):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _pointwise_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution of (B, C_in, T) with weight (C_out, C_in, 1).

    oneDNN has a large fixed cost for very few input channels (the 2-channel
    input layer: ~0.7 ms for ~1 M multiply-adds), where a batched matmul
    with the weight broadcast over the batch is ~5x faster.
    """
    b, c, t = x.shape
    if c > 16:
        return F.conv1d(x, weight, bias)
    out_c = weight.shape[0]
    return torch.baddbmm(bias[:, None].expand(b, out_c, t), weight[..., 0].expand(b, out_c, c), x)


def _in_joint_groups(fn: Callable[[torch.Tensor, int, int, torch.Tensor | None], torch.Tensor],
                     x: torch.Tensor, out_shape: tuple[int, ...], pool: ThreadPoolExecutor | None,
                     parts: int) -> torch.Tensor:
    """``fn(x, start, stop, out)`` computes a result (N, stop - start, ...) for x's joints
    (dim 1) ``start:stop``, into ``out`` when given. Without ``pool`` this is one call on
    all joints; with it, ``parts`` groups of joints run side by side (the calling
    thread takes the first), each filling its slice of one (out_shape) tensor.
    """
    v = x.shape[1]
    if pool is None or parts < 2:
        return fn(x, 0, v, None)
    out = x.new_empty(out_shape)
    bounds = [(v * i // parts, v * (i + 1) // parts) for i in range(parts)]
    inference = torch.is_inference_mode_enabled()

    def run(start: int, stop: int) -> None:
        # Grad and inference mode are per thread: the workers take the caller's.
        with torch.no_grad(), torch.inference_mode(inference):
            fn(x, start, stop, out[:, start:stop])

    futures = [pool.submit(run, *b) for b in bounds[1:]]
    fn(x, *bounds[0], out[:, bounds[0][0]:bounds[0][1]])
    for future in futures:
        future.result()
    return out


class _FastGraphConv(nn.Module):
    """AdaptiveGraphConv with its BNs folded and the three subsets fused.

    Of (N, J, C_in, T) windows, ``joint_mixing`` computes the attention (exactly
    as in the faithful module, from all T positions) and ``project`` then gives
    relu(BN(sum_i conv_d_i(x @ att_i)) + down(x)) for any group of output joints,
    laid out (N * joints, C_out, T).
    """

    def __init__(self, gcn: AdaptiveGraphConv) -> None:
        super().__init__()
        num_subsets = gcn.A.shape[0]
        inter = gcn.inter_channels
        self.inter = inter
        self.num_subsets = num_subsets
        # conv_a and conv_b of all subsets in one 1x1 conv; output channel order (a/b, subset, inter).
        w_ab = torch.cat([c.weight[:, :, 0, 0] for c in (*gcn.conv_a, *gcn.conv_b)])
        b_ab = torch.cat([c.bias for c in (*gcn.conv_a, *gcn.conv_b)])
        self.register_buffer("w_ab", w_ab.detach().clone()[..., None])
        self.register_buffer("b_ab", b_ab.detach().clone())
        # The constant part of each subset's adjacency; the attention is added per input.
        self.register_buffer("adjacency", (gcn.A + gcn.PA).detach().clone())
        # conv_d of all subsets, input channel order (subset, c), with the BN folded in:
        # BN(sum_i W_i z_i + b_i) = sum_i (scale W_i) z_i + (scale sum_i b_i + shift).
        scale, shift = _bn_scale_shift(gcn.bn)
        w_d = torch.cat([c.weight.double()[:, :, 0, 0] for c in gcn.conv_d], dim=1) * scale[:, None]
        b_d = sum(c.bias.double() for c in gcn.conv_d) * scale + shift
        self.identity_down = isinstance(gcn.down, nn.Identity)
        if not self.identity_down:
            # down(x) = BN(W x + b) is joint mixing with the identity matrix followed by a
            # 1x1 conv: it becomes a fourth "subset" of the fused conv_d (x @ I == x exactly).
            w_down, b_down = _fold_conv_bn(gcn.down[0], gcn.down[1])
            w_d = torch.cat([w_d, w_down[..., 0]], dim=1)
            b_d = b_d + b_down
            self.register_buffer("eye", torch.eye(gcn.A.shape[-1], dtype=gcn.A.dtype, device=gcn.A.device))
        dtype = gcn.PA.dtype
        self.register_buffer("w_d", w_d.to(dtype)[..., None])
        self.register_buffer("b_d", b_d.to(dtype))

    def joint_mixing(self, x: torch.Tensor, pool: ThreadPoolExecutor | None = None,
                     parts: int = 1) -> torch.Tensor:
        """The joint-mixing matrices of (N, J, C_in, T) windows, (N, J * rows, J).

        Row ``w * rows + i`` holds subset i's adjacency plus attention column for
        output joint w (``rows`` = 3 subsets, or 4 with the identity for ``down``).
        With ``pool``, the per-joint projections run in ``parts`` groups side by side.
        """
        n, v, c, t = x.shape
        k = self.inter
        s = self.num_subsets
        windows = n
        if x.device.type == "cpu":
            # The projections of a few windows at a time, each used while still in cache.
            windows = max(1, _L2_BUDGET_BYTES // (v * self.b_ab.shape[0] * t * x.element_size()))
        scores = torch.cat([self._scores(x[first:first + windows], pool, parts)
                            for first in range(0, n, windows)])
        attention = torch.softmax(scores / (k * t), dim=-2) + self.adjacency
        # mix[n, (w, i), u] = attention[n, i, u, w]: one matmul mixes joints for all subsets.
        mix = attention.permute(0, 3, 1, 2)
        if not self.identity_down:
            mix = torch.cat([mix, self.eye[:, None].expand(n, v, 1, v)], dim=2)
        return mix.reshape(n, -1, v)

    def _scores(self, x: torch.Tensor, pool: ThreadPoolExecutor | None, parts: int) -> torch.Tensor:
        """Unscaled attention scores a_i^T b_i over (inter, time) of (N, J, C_in, T) windows, (N, S, J, J)."""
        n, v, _, t = x.shape
        s = self.num_subsets
        ab = _in_joint_groups(self._project_ab, x, (n, v, self.b_ab.shape[0], t), pool, parts)
        ab = ab.view(n, v, 2, s, self.inter * t)
        # bmm on strided views, no copies.
        return torch.stack([torch.bmm(ab[:, :, 0, i], ab[:, :, 1, i].transpose(1, 2)) for i in range(s)], dim=1)

    def _project_ab(self, x: torch.Tensor, start: int, stop: int, out: torch.Tensor | None) -> torch.Tensor:
        """conv_a and conv_b of all subsets for joints ``start:stop``, (N, stop - start, 2 * S * inter, T)."""
        n, _, c, t = x.shape
        y = _pointwise_conv(x[:, start:stop].reshape(n * (stop - start), c, t), self.w_ab, self.b_ab)
        y = y.view(n, stop - start, -1, t)
        return y if out is None else out.copy_(y)

    def project(self, x: torch.Tensor, mix: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """The graph convolution's output for joints ``start:stop``, (N * (stop - start), C_out, T).

        Output joints are independent once ``mix`` is known, so they can be
        computed in parts, side by side.
        """
        n, v, c, t = x.shape
        joints = stop - start
        x_flat = x.reshape(n, v, c * t)
        rows = mix.shape[1] // v  # mixed copies of the input per output joint (3, or 4 with down)
        mix = mix[:, start * rows:stop * rows]
        bytes_per_joint = rows * c * t * x.element_size()
        if x.device.type != "cpu" or n * joints * bytes_per_joint <= _L2_BUDGET_BYTES:
            # Small enough to stay in cache (or not a CPU): the whole part in a few calls.
            z = torch.bmm(mix, x_flat).view(n * joints, rows * c, t)
            y = _pointwise_conv(z, self.w_d, self.b_d)
            if self.identity_down:
                y += x[:, start:stop].reshape(n * joints, c, t)
            return y.clamp_(min=0)
        group = self._joint_group(bytes_per_joint, joints)
        y = torch.empty(n, joints, self.b_d.shape[0], t, dtype=x.dtype, device=x.device)
        for i in range(n):
            for first in range(0, joints, group):
                last = min(joints, first + group)
                z = torch.mm(mix[i, first * rows:last * rows], x_flat[i])  # (joints, rows * C * T)
                part = _pointwise_conv(z.view(last - first, rows * c, t), self.w_d, self.b_d)
                if self.identity_down:
                    part += x[i, start + first:start + last]
                torch.clamp(part, min=0, out=y[i, first:last])
        return y.view(n * joints, -1, t)

    @staticmethod
    def _joint_group(bytes_per_joint: int, joints: int) -> int:
        """Output joints per mixing + conv_d step on the CPU, for chunks whose
        mixed input does not fit in cache.

        The mixed input is 3x the size of the features: 4.8 MB per window at
        T = 243, more than a CPU core's L2 cache. Producing and consuming it for
        a few output joints at a time (about 2 MiB) keeps it in cache: the
        whole network takes 33.5 instead of 35.1 ms per window at batch 64,
        38.9 instead of 40.2 at batch 1.
        """
        return max(1, min(joints, _L2_BUDGET_BYTES // bytes_per_joint))


class _FastTemporalConv(nn.Module):
    """TemporalConv (conv + BN) folded into one convolution over (N*J, C, T).

    Four exact ways to evaluate it, chosen by the window length ``t``:

    * kernel 1 (the residual's 1x1 convolution): a pointwise convolution.
    * short windows (``t < kernel``, or ``t == kernel`` when strided): the
      zero-padded convolution is a linear map from the C*t inputs to the
      C_out*t_out outputs of each joint sequence; as one dense matrix it is a
      single GEMM on the (N*J, C*t) view, with no im2col copy and no products
      with padding zeros. oneDNN's direct convolution hits slow paths there
      (0.71 ms vs 0.06 ms at t = 3, 0.71 vs 0.14 ms at t = 9 with stride 3,
      17 sequences); at ``t == kernel`` with stride 1 it is the faster one.
    * stride 1, ``t > kernel``: by FFT (see module docstring), 1.2-1.6x faster
      than the direct convolution from t = 27 to 243.
    * otherwise (strided, long): the direct convolution, which beats an FFT
      that computes all outputs and keeps every w-th.

    The matrices and spectra depend on ``t`` and are cached per (t, device, dtype).
    """

    def __init__(self, tcn: TemporalConv) -> None:
        super().__init__()
        weight, bias = _fold_conv_bn(tcn.conv, tcn.bn)
        dtype = tcn.conv.weight.dtype
        self.register_buffer("weight", weight.to(dtype))
        self.register_buffer("bias", bias.to(dtype))
        self.stride = tcn.conv.stride[0]
        self.padding = tcn.conv.padding[0]
        self._cache: dict[tuple[str, int, torch.device, torch.dtype], tuple[torch.Tensor, ...]] = {}

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> _FastTemporalConv:
        """nn.Module's hook behind .to(), .double() etc.: the cache is rebuilt lazily from the new weights."""
        self._cache.clear()
        return super()._apply(fn, recurse)

    def method(self, t: int) -> str:
        """How a window of ``t`` frames is convolved: pointwise, dense, fft or direct."""
        kernel = self.weight.shape[-1]
        if kernel == 1:
            return "pointwise"
        if t < kernel or (t == kernel and self.stride > 1):
            return "dense"
        return "fft" if self.stride == 1 and t > kernel else "direct"

    def prepare(self, t: int) -> None:
        """Build what a window of ``t`` frames needs now rather than on the first call."""
        if self.method(t) in ("dense", "fft"):
            self._cached(self.method(t), t)

    def _cached(self, method: str, t: int) -> tuple[torch.Tensor, ...]:
        key = (method, t, self.weight.device, self.weight.dtype)
        if key not in self._cache:
            # Built in float64 from the folded weights; plain tensors even when first
            # called under inference_mode, so they can be used outside it too.
            with torch.inference_mode(False), torch.no_grad():
                build = self._dense_matrix if method == "dense" else self._spectrum
                self._cache[key] = build(t)
        return self._cache[key]

    def output_length(self, t: int) -> int:
        """Output frames for an input of ``t`` frames."""
        return (t + 2 * self.padding - self.weight.shape[-1]) // self.stride + 1

    def _dense_matrix(self, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """M[(c, t_in), (c_out, t_out)] = W[c_out, c, t_in - stride * t_out + pad] (0 off the kernel)."""
        w = self.weight.double()
        out_c, in_c, k = w.shape
        t_out = self.output_length(t)
        matrix = torch.zeros(in_c, t, out_c, t_out, dtype=w.dtype, device=w.device)
        for j in range(t_out):
            for i in range(t):
                tap = i - self.stride * j + self.padding
                if 0 <= tap < k:
                    matrix[:, i, :, j] = w[:, :, tap].T
        bias = self.bias.double().repeat_interleave(t_out)
        return matrix.reshape(in_c * t, out_c * t_out).to(self.weight.dtype), bias.to(self.weight.dtype)

    def _spectrum(self, t: int) -> tuple[torch.Tensor]:
        """Per-bin (C_in, C_out) weights P(f) = sum_k W_k^T exp(2 pi i f (k - pad) / L)."""
        length = _fast_fft_length(t + self.padding)
        w = self.weight.double()
        taps = torch.zeros(length, w.shape[1], w.shape[0], dtype=w.dtype, device=w.device)
        for k in range(w.shape[-1]):
            taps[(self.padding - k) % length] = w[:, :, k].T
        complex_dtype = torch.complex64 if self.weight.dtype == torch.float32 else torch.complex128
        return (torch.fft.rfft(taps, dim=0).to(complex_dtype).contiguous(),)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nv, c, t = x.shape
        method = self.method(t)
        if method == "pointwise":
            return _pointwise_conv(x[..., ::self.stride], self.weight, self.bias)
        if method == "dense":
            matrix, bias = self._cached(method, t)
            return torch.addmm(bias, x.view(nv, c * t), matrix).view(nv, -1, self.output_length(t))
        if method == "direct":
            return F.conv1d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)
        (spectrum,) = self._cached(method, t)
        length = _fast_fft_length(t + self.padding)
        # The spectrum laid out (F, N*J, C), as the per-bin matmul needs it, written there by
        # the transform itself: 3.7 instead of 10.9 ms with a reordering copy after it
        # (68 x 96 sequences of 243 frames, one thread).
        xf = x.new_empty(length // 2 + 1, nv, c, dtype=spectrum.dtype)
        torch.fft.rfft(x, n=length, dim=-1, out=xf.permute(1, 2, 0))
        yf = torch.bmm(xf, spectrum)  # (F, N*J, C_out)
        yf[0] += self.bias * length  # a constant bias is the DC bin times the length
        return torch.fft.irfft(yf.permute(1, 2, 0), n=length, dim=-1)[..., :t]


class _FastUnit(nn.Module):
    """GraphTemporalUnit: relu(TCN(GCN(x)) + residual(x)), (N, J, C, T) -> (N, J, C_out, T_out)."""

    def __init__(self, unit: GraphTemporalUnit) -> None:
        super().__init__()
        self.gcn = _FastGraphConv(unit.gcn1)
        self.tcn = _FastTemporalConv(unit.tcn1)
        self.identity_residual = isinstance(unit.residual, nn.Identity)
        self.residual = (_FastTemporalConv(unit.residual)
                         if isinstance(unit.residual, TemporalConv) else None)

    def forward(self, x: torch.Tensor, pool: ThreadPoolExecutor | None = None, parts: int = 1) -> torch.Tensor:
        """With ``pool``, the joints are computed in ``parts`` groups side by side."""
        n, v, _, t = x.shape
        mix = self.gcn.joint_mixing(x, pool, parts)
        out_shape = (n, v, self.tcn.weight.shape[0], self.tcn.output_length(t))
        return _in_joint_groups(lambda x, start, stop, out: self._joints(x, mix, start, stop, out),
                                x, out_shape, pool, parts)

    def _joints(self, x: torch.Tensor, mix: torch.Tensor, start: int, stop: int,
                out: torch.Tensor | None) -> torch.Tensor:
        """The unit's output for joints ``start:stop``, (N, stop - start, C_out, T_out), into
        ``out`` when given: past the joint mixing every step is per joint."""
        n, _, c, t = x.shape
        y = self.tcn(self.gcn.project(x, mix, start, stop))
        y = y.view(n, stop - start, y.shape[1], y.shape[2])
        if self.identity_residual or self.residual is not None:
            own = x[:, start:stop].reshape(n * (stop - start), c, t)
            residual = own if self.identity_residual else self.residual(own)
            y = torch.add(y, residual.view(y.shape), out=out)
            return y.relu_()
        if out is None:
            return y.relu_() if y.is_contiguous() else torch.relu(y)
        return torch.clamp(y, min=0, out=out)


class FastGLAGCN(nn.Module):
    """The eval-mode GLA-GCN with the transformations of this module applied."""

    def __init__(self, model: GLAGCN, chunk_size: int | None = None, workers: int | None = None) -> None:
        super().__init__()
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be positive, got {workers}")
        self.chunk_size = chunk_size
        self.workers = workers
        self.layout = model.layout
        self.filter_widths = model.filter_widths
        self.channels = model.channels
        self.num_joints_in = model.num_joints_in
        self.num_joints_out = model.num_joints_out
        self.maps_coco17 = model.maps_coco17
        scale, shift = _bn_scale_shift(model.data_bn)
        dtype = model.fc.weight.dtype
        v = model.num_joints_out
        self.register_buffer("input_scale", scale.to(dtype).view(v, 2))
        self.register_buffer("input_shift", shift.to(dtype).view(v, 2))
        self.expand = _FastUnit(model.expand_gcn)
        self.units = nn.ModuleList(_FastUnit(u) for u in model.layers_tcngcn)
        self.register_buffer("fc_weight", model.fc.weight.detach()[..., 0].T.clone())
        self.register_buffer("fc_bias", model.fc.bias.detach().clone())
        t = self.receptive_field
        self.expand.tcn.prepare(t)
        for i, w in enumerate(self.filter_widths):
            self.units[2 * i].tcn.prepare(t)
            self.units[2 * i + 1].tcn.prepare(t)
            t //= w

    @property
    def receptive_field(self) -> int:
        """Frames in one input window (the product of the filter widths)."""
        return math.prod(self.filter_widths)

    @property
    def cpu_chunk_size(self) -> int:
        """Windows per chunk on the CPU: DEFAULT_CHUNK_SIZE for the 243-frame,
        96-channel model, more for smaller feature maps (16 measured best for
        27 frames and 32 channels), at most 16."""
        scale = (243 * 96) / (self.receptive_field * self.channels)
        return max(1, min(16, round(DEFAULT_CHUNK_SIZE * scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, J_in, 2) -> (N, 1, J_out, 3).

        Windows are independent in eval mode, so a large batch is run in chunks
        of ``chunk_size`` windows (by default ``cpu_chunk_size`` on the CPU, the
        whole batch elsewhere): the intermediate features of a chunk stay in
        cache, where those of a whole batch stream through memory (33.5 instead
        of 59.9 ms per window at batch 64, one thread, T = 243). On the CPU
        every chunk runs on one thread, ``workers`` chunks at once (default:
        ``torch.get_num_threads()``), and a batch smaller than ``workers`` default
        chunks is cut into up to ``workers`` chunks (not into chunks too small to
        be worth a hand-off, ``_MIN_CHUNK_FEATURES``). A batch that still makes one chunk
        (one window) has its joints split between the workers instead: past each
        unit's attention every step is per joint. The output does not depend on
        the number of workers. One window of the 243-frame, 96-channel model runs
        at 27 windows/s on one thread, 20 with PyTorch's two intra-op threads, 38
        with its joints split between two workers (2-core EPYC).
        """
        if x.ndim != 4 or x.shape[-2] != self.num_joints_in or x.shape[-1] != 2:
            raise ValueError(f"expected input (N, T, {self.num_joints_in}, 2), got {tuple(x.shape)}")
        if len(x) == 0:
            return x.new_zeros(0, 1, self.num_joints_out, 3)
        if x.device.type != "cpu":
            return torch.cat([self._forward(part) for part in x.split(self.chunk_size or x.shape[0])])
        workers = self.workers or torch.get_num_threads()
        # No fewer chunks than workers while there are windows enough to share out.
        smallest = -(-_MIN_CHUNK_FEATURES // (self.channels * self.receptive_field))
        parts = x.split(self.chunk_size or min(self.cpu_chunk_size, max(smallest, -(-len(x) // workers))))
        with torch_threads(1):  # N workers on N cores, not N x N threads
            if len(parts) == 1:  # one window, or too few to share: its joints side by side if large enough
                return self._forward(x, parts=workers)
            workers = min(len(parts), workers)
            if workers == 1:
                return torch.cat([self._forward(part) for part in parts])
            return torch.cat(list(_pool(workers).map(self._forward, parts)))

    @torch.no_grad()  # also in the pool's threads: grad mode is per thread
    def _forward(self, x: torch.Tensor, parts: int = 1) -> torch.Tensor:
        if self.maps_coco17:
            x = coco17_to_humaneva15(x)  # the released COCO-input model never applies data_bn
        else:
            x = x * self.input_scale + self.input_shift
        x = x.permute(0, 2, 3, 1).contiguous()  # (N, J, 2, T)
        pool = _pool(parts) if parts > 1 else None

        def unit(module: _FastUnit, x: torch.Tensor) -> torch.Tensor:
            split = parts if self.channels * x.shape[-1] >= _MIN_SPLIT_FEATURES else 1
            return module(x, pool, split)

        x = unit(self.expand, x)
        for i, w in enumerate(self.filter_widths):
            skip = x[..., w // 2::w]
            x = unit(self.units[2 * i + 1], unit(self.units[2 * i], x))
            x += skip
        per_joint = x.mean(dim=-1)  # (N, J, C)
        return (per_joint @ self.fc_weight + self.fc_bias).unsqueeze(1)


def optimize_for_inference(model: GLAGCN, chunk_size: int | None = None,
                           workers: int | None = None) -> FastGLAGCN:
    """A fast copy of ``model`` as it computes in eval mode, on the same device
    (see module docstring). It accepts any batch size; ``chunk_size`` is how many
    windows go through the network at once (default: ``cpu_chunk_size`` on the
    CPU, the whole batch on other devices), ``workers`` how many chunks run at
    once on the CPU (default: ``torch.get_num_threads()`` at each call).
    """
    if not isinstance(model, GLAGCN):
        raise TypeError(f"expected a GLAGCN, got {type(model).__name__}")
    with torch.no_grad():
        return FastGLAGCN(model, chunk_size, workers).eval()

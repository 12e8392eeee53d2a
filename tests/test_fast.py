"""The fast inference path must reproduce the faithful eval-mode model."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from conftest import shared_path
from glagcn_video.datasets.load import load_dataset
from glagcn_video.lifter.checkpoint import load_checkpoint
from glagcn_video.lifter import fast as fast_module
from glagcn_video.lifter.fast import FastGLAGCN, optimize_for_inference
from glagcn_video.lifter.inference import windows
from glagcn_video.lifter.model import GLAGCN
from glagcn_video.lifter.zoo import ZOO
from glagcn_video.skeleton import H36M, HUMANEVA15, HUMANEVA15_FROM_COCO17, Layout

ATOL = 1e-5


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """These tests check values, not speed. On a busy machine OpenMP threads
    spin-wait for each other and make them ~6x slower (52 s vs 8 s), so they
    run on one thread; the previous setting is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomize(model: GLAGCN, seed: int) -> GLAGCN:
    """Random BN statistics and affine terms, PA and conv biases, so every part
    of the network (including what init leaves at 0, 1 or 1e-6) affects the output.

    The BN statistics are first measured on random input (one train-mode pass
    with momentum 1), then perturbed: features stay of order one, so 1e-5 is a
    meaningful absolute tolerance in float32, yet no BN is an identity.
    """
    gen = torch.Generator().manual_seed(seed)

    def rand(shape: torch.Size, scale: float, offset: float = 0.0) -> torch.Tensor:
        return torch.randn(shape, generator=gen) * scale + offset

    batch_norms = [m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d)):
                module.bias.copy_(rand(module.bias.shape, 0.1))
        for name, param in model.named_parameters():
            if name.endswith("PA"):
                param.copy_(rand(param.shape, 0.3))
        for bn in batch_norms:
            bn.weight.copy_(rand(bn.weight.shape, 0.2, 1.0))
            bn.bias.copy_(rand(bn.bias.shape, 0.2))
            bn.momentum = 1.0
        model.train()
        model(torch.randn(4, model.receptive_field, model.num_joints_in, 2, generator=gen))
        for bn in batch_norms:
            std = bn.running_var.sqrt()
            bn.running_mean.add_(rand(bn.running_mean.shape, 0.2) * std)
            bn.running_var.mul_(torch.rand(bn.running_var.shape, generator=gen) + 0.5)
    return model.eval()


def assert_same(model: torch.nn.Module, fast: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.inference_mode():
        expected = model(x)
        actual = fast(x)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    diff = (actual - expected).abs().max().item()
    assert diff <= ATOL, f"max abs difference {diff:.3g} (outputs up to {expected.abs().max().item():.3g})"


# (layout, filter widths, channels, batch, chunk size, joints in); widths cover every
# temporal-conv path: FFT (stride 1, T > 9), dense (T <= 9), direct (strided, T > 9),
# and strides wider than the kernel (11), where some positions are read by no output.
CONFIGS = [
    (H36M, (3, 3, 3), 96, 7, 3, None),
    (H36M, (3, 3, 3, 3, 3), 96, 1, 4, None),
    (H36M, (3, 3, 3, 3, 3), 32, 7, 4, None),
    (H36M, (5, 3), 32, 7, 2, None),
    (H36M, (7,), 96, 1, 4, None),
    (H36M, (9,), 32, 7, 4, None),
    (H36M, (11, 3), 32, 2, 1, None),
    (HUMANEVA15, (3,), 32, 7, 4, None),
    (HUMANEVA15, (3, 3, 3, 3), 32, 2, 4, None),
    (HUMANEVA15_FROM_COCO17, (3, 3, 3), 32, 7, 4, 17),
    (HUMANEVA15_FROM_COCO17, (5, 3), 96, 1, 4, 17),
]


@pytest.mark.parametrize(
    "layout, widths, channels, batch, chunk, joints_in", CONFIGS,
    ids=[f"{c[0].name}-w{''.join(map(str, c[1]))}-c{c[2]}-n{c[3]}" for c in CONFIGS])
def test_matches_faithful_model(layout: Layout, widths: tuple[int, ...], channels: int,
                                batch: int, chunk: int, joints_in: int | None) -> None:
    torch.manual_seed(len(widths) * 100 + channels)
    model = randomize(GLAGCN(layout, widths, channels, num_joints_in=joints_in), seed=sum(widths))
    fast = optimize_for_inference(model, chunk_size=chunk)
    x = torch.randn(batch, model.receptive_field, model.num_joints_in, 2)
    assert_same(model, fast, x)
    assert fast.receptive_field == model.receptive_field


def test_longer_window_than_receptive_field() -> None:
    """The faithful model accepts 3x its receptive field (and averages the last 3 frames)."""
    model = randomize(GLAGCN(H36M, (3, 3), 32), seed=1)
    assert_same(model, optimize_for_inference(model), torch.randn(2, 27, 17, 2))


def test_cache_follows_dtype_conversion() -> None:
    """Spectra and dense matrices cached in float32 are rebuilt after .double()."""
    model = randomize(GLAGCN(H36M, (3, 3, 3), 32), seed=2)
    fast = optimize_for_inference(model)
    x = torch.randn(3, 27, 17, 2)
    assert_same(model, fast, x)  # fills the float32 caches under inference_mode
    model = model.double()
    with torch.no_grad():
        expected = model(x.double())
        converted = fast.double()(x.double())  # folded weights were rounded to float32
        built = optimize_for_inference(model)(x.double())  # folded in float64
    assert converted.dtype == built.dtype == torch.float64
    assert (converted - expected).abs().max().item() <= ATOL
    assert (built - expected).abs().max().item() <= 1e-12


def test_output_usable_outside_inference_mode() -> None:
    model = randomize(GLAGCN(H36M, (3, 3), 32), seed=3)
    fast = optimize_for_inference(model)
    out = fast(torch.randn(1, 9, 17, 2))
    assert not out.requires_grad and not out.is_inference()


def test_chunks_in_parallel_match_one_after_another() -> None:
    """Chunks run on a pool of worker threads give the serial result, outside
    any no_grad context too, and leave PyTorch's thread count as it was."""
    model = randomize(GLAGCN(H36M, (3, 3, 3), 32), seed=4)
    x = torch.randn(13, 27, 17, 2)
    threads = torch.get_num_threads()
    parallel = optimize_for_inference(model, chunk_size=2, workers=3)(x)
    assert torch.get_num_threads() == threads
    assert not parallel.requires_grad and not parallel.is_inference()
    serial = optimize_for_inference(model, chunk_size=2, workers=1)(x)
    torch.testing.assert_close(parallel, serial, atol=1e-6, rtol=0)
    assert_same(model, optimize_for_inference(model, chunk_size=2, workers=3), x)


@pytest.mark.parametrize("layout, joints_in", [(H36M, None), (HUMANEVA15_FROM_COCO17, 17)],
                         ids=["h36m", "humaneva15-from-coco17"])
def test_one_window_split_by_joints_matches_serial(layout: Layout, joints_in: int | None) -> None:
    """A single window runs with its joints split between the workers (the 96
    channels x 27 frames here are large enough to split); the result equals
    the one-worker path and the faithful model up to float32 rounding, outside
    no_grad and inside inference mode alike."""
    model = randomize(GLAGCN(layout, (3, 3, 3), 96, num_joints_in=joints_in), seed=7)
    x = torch.randn(1, 27, model.num_joints_in, 2)
    serial = optimize_for_inference(model, workers=1)(x)
    for workers in (2, 3):
        split = optimize_for_inference(model, workers=workers)
        out = split(x)
        assert not out.requires_grad and not out.is_inference()
        # Smaller matrix products round differently: float32 noise, not an error.
        torch.testing.assert_close(out, serial, atol=ATOL, rtol=0)
        assert_same(model, split, x)  # under inference_mode: the workers write inference tensors


@pytest.mark.parametrize("channels, batch, chunks", [(96, 5, [2, 3]), (32, 5, [5]), (32, 14, [7, 7])])
def test_small_batch_is_shared_between_workers(channels: int, batch: int, chunks: list[int]) -> None:
    """Fewer windows than two default chunks still run on both workers, one chunk
    each, unless the chunks would be too small to be worth it (5 windows of a
    27-frame, 32-channel model), and give the one-worker result."""
    model = randomize(GLAGCN(H36M, (3, 3, 3), channels), seed=8)
    x = torch.randn(batch, 27, 17, 2)
    fast = optimize_for_inference(model, workers=2)
    calls: list[int] = []
    forward = fast._forward
    fast._forward = lambda part, parts=1: calls.append(len(part)) or forward(part, parts)
    torch.testing.assert_close(fast(x), optimize_for_inference(model, workers=1)(x), atol=1e-6, rtol=0)
    assert sorted(calls) == chunks


@pytest.mark.parametrize("budget, groups", [(1, [1, 1, 1]), (600_000, [2, 1])])
def test_cache_sized_groups_match_whole_batch(monkeypatch: pytest.MonkeyPatch, budget: int,
                                              groups: list[int]) -> None:
    """Past the cache budget the attention projections are made a few windows at
    a time (a window's here is 17 x 144 x 27 floats, 264 kB) and the mixed inputs
    a few joints at a time: the outputs are those of the whole batch at once."""
    model = randomize(GLAGCN(H36M, (3, 3, 3), 96), seed=9)
    x = torch.randn(3, 27, 17, 2)
    whole = optimize_for_inference(model, chunk_size=3, workers=1)(x)
    monkeypatch.setattr(fast_module, "_L2_BUDGET_BYTES", budget)
    fast = optimize_for_inference(model, chunk_size=3, workers=1)
    sizes: list[int] = []
    scores = fast.expand.gcn._scores
    fast.expand.gcn._scores = lambda x, pool, parts: sizes.append(len(x)) or scores(x, pool, parts)
    # Smaller matrix products round differently: float32 noise, not an error.
    torch.testing.assert_close(fast(x), whole, atol=ATOL, rtol=0)
    assert sizes == groups
    assert_same(model, fast, x)


def test_empty_batch_gives_empty_output() -> None:
    fast = optimize_for_inference(randomize(GLAGCN(H36M, (3,), 16), seed=5))
    out = fast(torch.zeros(0, 3, 17, 2))
    assert out.shape == (0, 1, 17, 3) and out.dtype == torch.float32


def test_rejects_wrong_input_shape() -> None:
    fast = optimize_for_inference(GLAGCN(H36M, (3,), 32).eval())
    with pytest.raises(ValueError, match="expected input"):
        fast(torch.randn(1, 3, 15, 2))
    with pytest.raises(ValueError, match="chunk_size"):
        optimize_for_inference(GLAGCN(H36M, (3,), 32).eval(), chunk_size=0)
    with pytest.raises(ValueError, match="workers"):
        optimize_for_inference(GLAGCN(H36M, (3,), 32).eval(), workers=0)
    with pytest.raises(TypeError):
        optimize_for_inference(torch.nn.Linear(2, 2))


def test_is_a_snapshot_module() -> None:
    fast = optimize_for_inference(GLAGCN(H36M, (3, 3), 32).eval())
    assert isinstance(fast, FastGLAGCN) and not fast.training
    assert not any(p.requires_grad for p in fast.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_matches_on_cuda() -> None:
    model = randomize(GLAGCN(H36M, (3, 3, 3), 96), seed=4).cuda()
    x = torch.randn(5, 27, 17, 2, device="cuda")
    assert_same(model, optimize_for_inference(model), x)


REFERENCE_CASES = [
    ("h36m_243", None),
    ("h36m_27", None),
    ("humaneva15_27", "humaneva15"),
    ("humaneva_coco17to15_27", "humaneva15-from-coco17"),
]


@pytest.mark.parametrize("name, layout", REFERENCE_CASES, ids=[c[0] for c in REFERENCE_CASES])
def test_matches_reference_checkpoints(name: str, layout: str | None) -> None:
    checkpoint = shared_path(f"reference/glagcn-official/official_{name}.bin")
    model = load_checkpoint(checkpoint, layout=layout)
    io = np.load(checkpoint.with_name(f"official_{name}_io.npz"))
    x = torch.from_numpy(io["inputs"])
    fast = optimize_for_inference(model)
    assert_same(model, fast, x)
    with torch.inference_mode():
        authors = (fast(x) - torch.from_numpy(io["outputs"])).abs().max().item()
    assert authors <= ATOL, f"differs from the authors' outputs by {authors:.3g}"


@pytest.mark.parametrize("name", list(ZOO))
def test_shipped_models_match_on_real_windows(name: str, h36m_small) -> None:
    """Random inputs drive a trained model far outside a body, where float32
    rounding alone can part the two paths by millimetres (the benchmark flagged
    two earlier h36m-243f-32ch files so); on the test subject's real 2D the
    demo's and the evaluation's fast path must agree with the faithful model."""
    model = load_checkpoint(ZOO[name].path)
    sequences = load_dataset("h36m", h36m_small, subjects=["S9"]).sequences
    x = torch.cat([windows(torch.from_numpy(s.poses_2d), model.receptive_field)[::40] for s in sequences])
    assert len(x) == 4 * 4 * 10  # four actions, four cameras, every 40th of 400 frames
    assert_same(model, optimize_for_inference(model), x)


def test_configs_cover_every_temporal_conv_method() -> None:
    """The window lengths in CONFIGS reach all four ways of evaluating a temporal conv."""
    seen = set()
    for layout, widths, channels, _, _, joints_in in CONFIGS:
        fast = optimize_for_inference(GLAGCN(layout, widths, channels, num_joints_in=joints_in).eval())
        t = fast.receptive_field
        seen |= {fast.expand.tcn.method(t), fast.expand.residual.method(t)}
        for i, w in enumerate(widths):
            seen |= {fast.units[2 * i].tcn.method(t), fast.units[2 * i + 1].tcn.method(t)}
            t //= w
    assert seen == {"pointwise", "dense", "fft", "direct"}

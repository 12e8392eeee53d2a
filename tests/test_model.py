"""The GLA-GCN network: weight parity with the authors' code, shapes, graph."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import shared_path
from glagcn_video.lifter.checkpoint import load_checkpoint
from glagcn_video.lifter.model import GLAGCN, adjacency_subsets
from glagcn_video.skeleton import H36M, HUMANEVA15, HUMANEVA15_FROM_COCO17

OFFICIAL = [  # name, layout, receptive field
    ("h36m_243", None, 243),
    ("h36m_27", None, 27),
    ("humaneva15_27", "humaneva15", 27),
    ("humaneva_coco17to15_27", "humaneva15-from-coco17", 27),
]


@pytest.mark.parametrize("name, layout, frames", OFFICIAL, ids=[o[0] for o in OFFICIAL])
def test_authors_checkpoints_reproduce_authors_outputs(name, layout, frames):
    folder = shared_path("reference/glagcn-official")
    manifest = json.loads((folder / "manifest.json").read_text())[name]
    io = np.load(folder / f"official_{name}_io.npz")

    model = load_checkpoint(folder / f"official_{name}.bin", layout=layout)

    assert not model.training
    assert model.receptive_field == frames
    assert sum(p.numel() for p in model.parameters()) == manifest["params"]
    assert len(model.state_dict()) == manifest["n_state_keys"]
    assert list(io["inputs"].shape) == manifest["input_shape"]
    with torch.inference_mode():
        out = model(torch.from_numpy(io["inputs"]).float()).numpy()
    assert out.shape == io["outputs"].shape == tuple(manifest["output_shape"])
    np.testing.assert_allclose(out, io["outputs"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("widths, channels", [((3, 3, 3), 16), ((3, 3, 3, 3), 8), ((5, 3), 12), ((7,), 32)])
def test_any_filter_widths_and_channels(widths, channels):
    torch.manual_seed(0)
    model = GLAGCN(H36M, widths, channels).eval()
    frames = int(np.prod(widths))
    assert model.receptive_field == frames
    x = torch.randn(2, frames, 17, 2)
    with torch.inference_mode():
        y = model(x)
    assert y.shape == (2, 1, 17, 3)
    assert torch.isfinite(y).all()
    # The two windows give different poses: the output depends on the input.
    assert not torch.allclose(y[0], y[1])


def test_released_h36m_size():
    model = GLAGCN(H36M, (3, 3, 3, 3, 3), 96)
    assert model.receptive_field == 243
    assert sum(p.numel() for p in model.parameters()) == 1_348_856
    assert len(model.state_dict()) == 362
    assert all(k.split(".")[0] in {"data_bn", "expand_gcn", "layers_tcngcn", "fc"} for k in model.state_dict())
    assert len(model.layers_tcngcn) == 10


def test_coco17_input_model_maps_to_15_joints():
    model = GLAGCN(HUMANEVA15_FROM_COCO17, (3, 3, 3), 16, num_joints_in=17).eval()
    with torch.inference_mode():
        y = model(torch.randn(1, 27, 17, 2))
    assert y.shape == (1, 1, 15, 3)
    with pytest.raises(ValueError, match="expected input"):
        model(torch.randn(1, 27, 15, 2))


@pytest.mark.parametrize("layout", [H36M, HUMANEVA15, HUMANEVA15_FROM_COCO17], ids=lambda l: l.name)
def test_adjacency_subsets(layout):
    a = adjacency_subsets(layout)
    j = layout.num_joints
    assert a.shape == (3, j, j)
    identity, inward, outward = a
    np.testing.assert_array_equal(identity, np.eye(j))

    # Support: inward has A[parent, child], outward A[child, parent], nothing else.
    expected_in = np.zeros((j, j), bool)
    for child, parent in layout.edges:
        expected_in[parent, child] = True
    np.testing.assert_array_equal(inward != 0, expected_in)
    np.testing.assert_array_equal(outward != 0, expected_in.T)

    # Columns normalised: each sums to 1, or to 0 when it has no entry.
    for matrix in (inward, outward):
        sums = matrix.sum(axis=0)
        has_entry = (matrix != 0).any(axis=0)
        np.testing.assert_allclose(sums[has_entry], 1, atol=1e-6)
        np.testing.assert_array_equal(sums[~has_entry], 0)


def test_h36m_adjacency_values():
    _, inward, outward = adjacency_subsets(H36M)
    # The root has no parent: its inward column is empty. The thorax (8) has three
    # children (neck 9, shoulders 11 and 14), so each outward entry in its column is 1/3.
    assert inward[:, 0].sum() == 0
    assert inward[0, 1] == 1 and inward[8, 9] == 1
    np.testing.assert_allclose(outward[[9, 11, 14], 8], 1 / 3, rtol=1e-6)
    np.testing.assert_allclose(outward[[1, 4, 7], 0], 1 / 3, rtol=1e-6)
    assert outward[:, 16].sum() == 0  # a wrist is a leaf


@pytest.mark.parametrize("shape", [(2, 27, 16, 2), (2, 27, 17, 3), (27, 17, 2), (1, 2, 27, 17, 2)])
def test_invalid_input_shape(shape):
    model = GLAGCN(H36M, (3, 3, 3), 8)
    with pytest.raises(ValueError, match=r"expected input \(N, T, 17, 2\)"):
        model(torch.zeros(shape))


@pytest.mark.parametrize("widths", [(3, 2), (4,), (3, 0, 3)])
def test_even_or_nonpositive_filter_width_rejected(widths):
    with pytest.raises(ValueError, match="odd"):
        GLAGCN(H36M, widths, 8)


def test_float64_follows_the_model():
    """No hard-coded dtype or device: buffers (the adjacency) follow .to()."""
    torch.manual_seed(0)
    model = GLAGCN(H36M, (3, 3), 8).eval()
    x = torch.randn(2, 9, 17, 2)
    with torch.inference_mode():
        y32 = model(x)
        y64 = model.double()(x.double())
    assert y64.dtype == torch.float64
    assert model.expand_gcn.gcn1.A.dtype == torch.float64
    torch.testing.assert_close(y64.float(), y32, atol=1e-5, rtol=1e-4)


def test_output_is_individually_connected():
    """A joint's 3D output sees only its own final feature (one shared 1x1 conv)."""
    torch.manual_seed(0)
    model = GLAGCN(H36M, (3,), 8).eval()
    x = torch.randn(1, 3, 17, 2)
    with torch.inference_mode():
        plain = model(x)
        handle = model.fc.register_forward_pre_hook(
            lambda _, args: (args[0] + torch.eye(17)[5] * 10.0,))  # perturb joint 5's feature only
        perturbed = model(x)
        handle.remove()
    changed = (perturbed - plain).abs().amax(dim=-1)[0, 0]
    assert changed[5] > 1e-3
    assert torch.all(changed[torch.arange(17) != 5] == 0)

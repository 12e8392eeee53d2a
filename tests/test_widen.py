"""Net2Net widening (glagcn_video/lifter/widen.py): the wider model computes
what the narrower one did, on the shipped weights and on fresh ones."""

from __future__ import annotations

import pytest
import torch

from conftest import ROOT
from glagcn_video.lifter.checkpoint import load_checkpoint
from glagcn_video.lifter.model import GLAGCN
from glagcn_video.lifter.widen import channel_map, widen
from glagcn_video.skeleton import get_layout


def outputs(model: GLAGCN, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def test_the_channel_map_copies_the_first_channels_once():
    assert channel_map(4, 6).tolist() == [0, 1, 2, 3, 0, 1]
    assert channel_map(2, 5).tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="cannot widen 4 channels to 3"):
        channel_map(4, 3)


@pytest.mark.parametrize("old, new", [(8, 12), (16, 32), (8, 20)])
def test_a_widened_model_computes_the_same(old, new):
    torch.manual_seed(0)
    narrow = GLAGCN(get_layout("h36m"), (3, 3), old)
    # Random BatchNorm statistics and gains, so that copies must carry them.
    for m in narrow.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(5, 9, 17, 2)
    wide = widen(narrow, new)
    assert wide.channels == new and wide.expand_gcn.gcn1.inter_channels == new // 4
    assert torch.allclose(outputs(wide, x), outputs(narrow, x), atol=1e-5)
    noisy = widen(narrow, new, noise=0.01)
    difference = (outputs(noisy, x) - outputs(narrow, x)).abs().max().item()
    assert 0 < difference < 0.05 * outputs(narrow, x).abs().max().item()


def test_the_shipped_model_widened_to_48_channels_lifts_as_before():
    shipped = load_checkpoint(ROOT / "models" / "glagcn_h36m_243f_32ch.bin")
    x = torch.randn(2, 243, 17, 2) * 0.3
    wide = widen(shipped, 48)
    assert sum(p.numel() for p in wide.parameters()) > 2 * sum(p.numel() for p in shipped.parameters())
    assert torch.allclose(outputs(wide, x), outputs(shipped, x), atol=1e-4)

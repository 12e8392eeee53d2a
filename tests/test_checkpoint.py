"""Checkpoint files: the authors' format both ways, and every way a file can be wrong."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import shared_path
from glagcn_video.lifter.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from glagcn_video.lifter.model import GLAGCN
from glagcn_video.skeleton import H36M, HUMANEVA15


def trained_looking(model: GLAGCN, seed: int = 0) -> GLAGCN:
    """Move every parameter and BatchNorm statistic off its initial value."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.rand(t.shape, generator=gen) * 0.1)
    return model.eval()


def official(name: str) -> Path:
    return shared_path(f"reference/glagcn-official/official_{name}.bin")


def test_save_load_round_trip(tmp_path):
    model = trained_looking(GLAGCN(HUMANEVA15, (3, 3), 16))
    path = tmp_path / "model.bin"
    save_checkpoint(path, model, epoch=7, lr=1e-3, optimizer={"steps": 3}, random_state={"seed": 5})

    raw = torch.load(path, weights_only=True)
    assert {"epoch", "lr", "random_state", "optimizer", "model_pos", "config"} <= set(raw)
    assert raw["epoch"] == 7 and raw["lr"] == 1e-3
    assert all(k.startswith("module.") for k in raw["model_pos"])
    assert len(raw["model_pos"]) == len(model.state_dict())
    assert raw["config"] == {"layout": "humaneva15", "filter_widths": [3, 3], "channels": 16}

    loaded = load_checkpoint(path)  # no layout needed: the file says it
    assert loaded.layout is HUMANEVA15 and loaded.filter_widths == (3, 3) and not loaded.training
    x = torch.randn(3, 9, 15, 2)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))


def test_round_trip_keeps_non_default_widths(tmp_path):
    """Strides are not in the tensors; our config must carry them (5,3 is not 3,3)."""
    model = trained_looking(GLAGCN(H36M, (5, 3), 8))
    save_checkpoint(tmp_path / "m.bin", model, epoch=1, lr=0.0)
    loaded = load_checkpoint(tmp_path / "m.bin")
    assert loaded.receptive_field == 15
    x = torch.randn(2, 15, 17, 2)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))


def test_authors_file_loads_and_resaves(tmp_path):
    model = load_checkpoint(official("h36m_27"))
    save_checkpoint(tmp_path / "again.bin", model, epoch=80, lr=1e-5)
    again = load_checkpoint(tmp_path / "again.bin")
    for (k, a), (k2, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_15_joint_file_needs_a_layout():
    path = official("humaneva15_27")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    assert "'humaneva15'" in message and "'humaneva15-from-coco17'" in message


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.bin"
    path.write_bytes(official("h36m_27").read_bytes()[:200_000])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"hello, this is a text file\n", b"# notes\nepoch 3\n",
                                     bytes(range(256))], ids=["empty", "text", "comment", "binary"])
def test_garbage_file(tmp_path, content):
    path = tmp_path / "notes.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a .*PyTorch checkpoint|truncated or corrupt") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("obj", [[1, 2, 3], {"epoch": 3}, {"model_pos": {}}, torch.zeros(3)],
                         ids=["list", "dict", "empty-weights", "tensor"])
def test_torch_file_that_is_not_a_checkpoint(tmp_path, obj):
    path = tmp_path / "thing.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert "GLA-GCN" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.bin")


def test_stage_count_mismatch():
    path = official("h36m_27")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, filter_widths=(3, 3, 3, 3))
    message = str(info.value)
    assert str(path) in message and "3 stages" in message and "[3, 3, 3, 3]" in message


def test_tensor_shape_mismatch(tmp_path):
    data = torch.load(official("h36m_27"), weights_only=True)
    key = "module.layers_tcngcn.3.gcn1.conv_a.1.weight"
    data["model_pos"][key] = torch.zeros(5, 96, 1, 1)
    path = tmp_path / "edited.bin"
    torch.save(data, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    assert "layers_tcngcn.3.gcn1.conv_a.1.weight (5, 96, 1, 1) vs (24, 96, 1, 1)" in message


def test_missing_tensor(tmp_path):
    data = torch.load(official("h36m_27"), weights_only=True)
    del data["model_pos"]["module.layers_tcngcn.0.tcn1.bn.running_var"]
    path = tmp_path / "edited.bin"
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="1 missing tensors .*layers_tcngcn.0.tcn1.bn.running_var"):
        load_checkpoint(path)


class Payload:
    """Unpickling this would create a marker file: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


@pytest.mark.parametrize("writer", ["zip", "legacy"])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.bin"
    state = torch.load(official("h36m_27"), weights_only=True)
    state["random_state"] = Payload(marker)
    # The current zip format, and the pre-1.6 format (a bare pickle stream).
    torch.save(state, path, _use_new_zipfile_serialization=writer == "zip")
    assert not marker.exists()

    with pytest.raises(CheckpointError, match="refused") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert "system" in str(info.value)  # names what it refused
    assert not marker.exists()


def test_authors_training_state_loads(tmp_path):
    """The authors' files carry a NumPy RandomState tuple and an optimizer state."""
    state = torch.load(official("h36m_27"), weights_only=True)
    param = torch.nn.Parameter(torch.ones(4))
    optimizer = torch.optim.Adam([param], lr=0.01)
    param.grad = torch.ones(4)
    optimizer.step()
    state["random_state"] = np.random.RandomState(1234).get_state()
    state["optimizer"] = optimizer.state_dict()
    path = tmp_path / "authors.bin"
    torch.save(state, path)

    data = read_checkpoint(path)
    assert data["random_state"][0] == "MT19937"
    np.testing.assert_array_equal(data["random_state"][1], np.random.RandomState(1234).get_state()[1])
    assert data["optimizer"]["param_groups"][0]["lr"] == 0.01
    assert load_checkpoint(path).receptive_field == 27

    # The same file as numpy < 2 writes it (module numpy.core, not numpy._core).
    legacy = tmp_path / "authors_numpy1.bin"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(legacy, "w") as dst:
        for name in src.namelist():
            payload = src.read(name)
            if name.endswith("data.pkl"):
                assert b"numpy._core.multiarray" in payload
                payload = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            dst.writestr(name, payload)
    assert read_checkpoint(legacy)["random_state"][2] == 624

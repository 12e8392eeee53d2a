"""Shipped lifters by name: every zoo entry is a real, loadable file within the
size limit, and the demo's --checkpoint takes names and paths alike."""

from __future__ import annotations

import re

import pytest

from glagcn_video.lifter.checkpoint import CheckpointError, load_checkpoint
from glagcn_video.lifter.zoo import DEFAULT_MODEL, ZOO, resolve_checkpoint
from glagcn_video.skeleton import H36M


@pytest.mark.parametrize("name", list(ZOO))
def test_every_zoo_model_ships_and_loads(name):
    path = resolve_checkpoint(name)
    assert path == ZOO[name].path and path.is_file()
    assert path.stat().st_size <= 20 * 2 ** 20
    model = load_checkpoint(path)
    assert model.layout.name == H36M.name
    named = re.fullmatch(r"h36m-(\d+)f(?:-(\d+)ch)?", name)  # frames, and channels where two share them
    frames = int(named.group(1))
    assert model.receptive_field == frames
    assert named.group(2) is None or model.channels == int(named.group(2))
    assert f"{frames} frames" in ZOO[name].summary and f"{model.channels} channels" in ZOO[name].summary


def test_default_is_in_the_zoo():
    assert DEFAULT_MODEL in ZOO


def test_paths_pass_through_and_unknown_names_list_the_zoo(tmp_path):
    file = tmp_path / "mine.bin"
    file.write_bytes(b"")
    assert resolve_checkpoint(file) == file
    assert resolve_checkpoint(str(file)) == file
    with pytest.raises(CheckpointError, match=r"^h36m-81f: checkpoint not found \(nor a shipped model "
                                              r"name: " + ", ".join(ZOO) + r"\)$"):
        resolve_checkpoint("h36m-81f")

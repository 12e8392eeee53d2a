"""CPU thread settings."""

from __future__ import annotations

import os

import pytest
import torch

from glagcn_video.cpu import torch_threads, usable_cores


def test_usable_cores_is_at_most_the_machines() -> None:
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


def test_torch_threads_is_restored_even_after_an_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with torch_threads(before + 1):
            assert torch.get_num_threads() == before + 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before

"""train.py end to end on a small slice of real Human3.6M: training, files,
evaluation tables, and an interrupted run resumed to the same weights."""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT
from glagcn_video.checkpoint import load_checkpoint
from glagcn_video.data import DataError
from glagcn_video.training import cosine_lr

sys.path.insert(0, str(ROOT))
import train  # noqa: E402

EPOCHS = 3


def args(data: Path, checkpoint: Path, *extra: str) -> list[str]:
    """A tiny configuration: train on S1, test on S9, 27 frames, 16 channels."""
    return ["-str", "S1", "-ste", "S9", "-arc", "3,3,3", "-ch", "16", "-s", "10", "-b", "64",
            "--eval-stride", "50", "--data-dir", str(data), "-c", str(checkpoint), "--device", "cpu",
            *extra]


def read_log(folder: Path) -> list[dict[str, float]]:
    with (folder / "log.csv").open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model_pos"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train fastest on one thread (and the other core may be busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run_a(h36m_small, tmp_path_factory) -> Path:
    """An uninterrupted run of EPOCHS epochs."""
    folder = tmp_path_factory.mktemp("run_a")
    torch.manual_seed(987)  # whatever state the global RNG is in must not matter: --seed decides
    assert train.main(args(h36m_small, folder, "-e", str(EPOCHS), "--checkpoint-frequency", "2")) == 0
    return folder


def test_training_lowers_the_loss_and_writes_its_files(run_a):
    log = read_log(run_a)
    assert [row["epoch"] for row in log] == [1, 2, 3]
    assert [row["lr"] for row in log] == pytest.approx([cosine_lr(e, EPOCHS, 0.01) for e in range(EPOCHS)])
    assert log[-1]["train_mpjpe_mm"] < 0.9 * log[0]["train_mpjpe_mm"]
    assert all(np.isfinite(row["eval_mpjpe_mm"]) and row["eval_mpjpe_mm"] > 0 for row in log)

    for name in ("last_epoch.bin", "best_epoch.bin", "epoch_2.bin", "log.csv", "training_curves.png"):
        assert (run_a / name).is_file(), name
    assert (run_a / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (run_a / "epoch_1.bin").exists() and not (run_a / "epoch_3.bin").exists()

    raw = torch.load(run_a / "last_epoch.bin", weights_only=True)
    assert raw["epoch"] == EPOCHS
    assert [h["train_mpjpe_mm"] for h in raw["history"]] == [row["train_mpjpe_mm"] for row in log]
    model = load_checkpoint(run_a / "last_epoch.bin")
    assert model.receptive_field == 27 and model.channels == 16
    for key, value in model.state_dict().items():
        assert torch.equal(value, raw["model_pos"]["module." + key])

    best_epoch = int(torch.load(run_a / "best_epoch.bin", weights_only=True)["epoch"])
    assert log[best_epoch - 1]["eval_mpjpe_mm"] == min(row["eval_mpjpe_mm"] for row in log)
    assert load_checkpoint(run_a / "best_epoch.bin").receptive_field == 27


def table(output: str, title: str) -> dict[str, list[float]]:
    """Rows of one printed table: name -> [P#1, P#2, N-MPJPE, MPJVE]."""
    block = output.split(f"{title} (mm)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert re.split(r"\s{2,}", block[0].strip()) == ["action", "MPJPE (P#1)", "P-MPJPE (P#2)", "N-MPJPE", "MPJVE"]
    rows = {}
    for line in block[1:]:
        *name, p1, p2, n, v = line.split()
        rows[" ".join(name)] = [float(p1), float(p2), float(n), float(v)]
    return rows


def test_evaluate_prints_per_action_tables(run_a, h36m_small, capsys):
    best = torch.load(run_a / "best_epoch.bin", weights_only=True)
    assert train.main(args(h36m_small, run_a, "--evaluate", "best_epoch.bin", "-tta")) == 0
    out = capsys.readouterr().out

    plain = table(out, "without test-time flipping")
    flipped = table(out, "with test-time flipping")
    for rows in (plain, flipped):
        assert list(rows) == ["Directions", "Walking", "average"]
        for metric in range(4):
            mean = np.mean([rows["Directions"][metric], rows["Walking"][metric]])
            assert rows["average"][metric] == pytest.approx(mean, abs=0.051)
        for name in ("Directions", "Walking"):
            p1, p2, n, v = rows[name]
            assert 0 < p2 <= p1 and 0 < n <= p1 and v > 0
    assert plain != flipped
    # The stand-alone evaluation reproduces the figure logged in training (same frames, no flip).
    assert plain["average"][0] == pytest.approx(best["history"][-1]["eval_mpjpe_mm"], abs=0.051)


def test_evaluate_by_subject(run_a, h36m_small, capsys):
    assert train.main(args(h36m_small, run_a, "--evaluate", str(run_a / "last_epoch.bin"),
                           "--by-subject", "-ste", "S1,S9")) == 0
    out = capsys.readouterr().out
    assert "with test-time flipping" not in out
    rows = table(out, "without test-time flipping")
    assert list(rows) == ["S1 Directions", "S1 Walking", "S9 Directions", "S9 Walking", "average"]
    assert rows["S1 Walking"] != rows["S9 Walking"]


class Killed(Exception):
    """Stands in for the process dying right after epoch 1's checkpoint is written."""


def test_interrupted_run_resumes_to_the_same_weights(run_a, h36m_small, tmp_path, monkeypatch):
    folder = tmp_path / "run_b"
    write_log = train.write_log

    def die_after_first_epoch(path, history):
        write_log(path, history)
        if history[-1]["epoch"] == 1:
            raise Killed

    monkeypatch.setattr(train, "write_log", die_after_first_epoch)
    torch.manual_seed(4321)  # a different global RNG state than run A started with
    with pytest.raises(Killed):
        train.main(args(h36m_small, folder, "-e", str(EPOCHS), "--checkpoint-frequency", "2"))
    assert torch.load(folder / "last_epoch.bin", weights_only=True)["epoch"] == 1
    assert len(read_log(folder)) == 1

    torch.manual_seed(55)  # nor does the state at resume time
    assert train.main(args(h36m_small, folder, "-e", str(EPOCHS), "--checkpoint-frequency", "2",
                           "-r", "last_epoch.bin")) == 0

    a, b = weights(run_a / "last_epoch.bin"), weights(folder / "last_epoch.bin")
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    log_a, log_b = read_log(run_a), read_log(folder)
    assert [r["train_mpjpe_mm"] for r in log_a] == [r["train_mpjpe_mm"] for r in log_b]
    assert [r["eval_mpjpe_mm"] for r in log_a] == [r["eval_mpjpe_mm"] for r in log_b]
    assert torch.equal(weights(run_a / "epoch_2.bin")["module.fc.weight"],
                       weights(folder / "epoch_2.bin")["module.fc.weight"])


def test_resume_and_evaluate_together_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        train.main(args(tmp_path, tmp_path, "-r", "last_epoch.bin", "--evaluate", "best_epoch.bin"))
    assert info.value.code == 2
    assert "--resume and --evaluate cannot be set at the same time" in capsys.readouterr().err


def test_missing_data_is_reported(tmp_path):
    with pytest.raises(DataError, match="data_3d_h36m.npz: file not found"):
        train.main(args(tmp_path, tmp_path / "ckpt", "-e", "1"))


def test_cpu_evaluation_runs_the_fast_path_with_the_faithful_results(monkeypatch):
    """On the CPU, evaluate() lifts through optimize_for_inference; its tables
    equal those of the faithful module (here reached through a wrapper that is
    not a GLAGCN, so it is used as is)."""
    import glagcn_video.training as training
    from glagcn_video.data import Sequence
    from glagcn_video.fast import optimize_for_inference
    from glagcn_video.model import GLAGCN
    from glagcn_video.skeleton import H36M

    torch.manual_seed(0)
    model = GLAGCN(H36M, (3, 3), 32).eval()
    rng = np.random.default_rng(0)
    sequences = [Sequence("S9", action, 0, rng.uniform(-0.5, 0.5, (40, 17, 2)).astype(np.float32),
                          rng.normal(0, 0.3, (40, 17, 3)).astype(np.float32))
                 for action in ("Walking 1", "Directions 1")]
    built: list[torch.nn.Module] = []

    def counted(m: GLAGCN) -> torch.nn.Module:
        built.append(m)
        return optimize_for_inference(m)

    monkeypatch.setattr(training, "optimize_for_inference", counted)
    fast = training.evaluate(model, sequences, H36M, torch.device("cpu"), tta=True)
    assert built == [model]

    class Plain(torch.nn.Module):
        def __init__(self, inner: GLAGCN):
            super().__init__()
            self.inner, self.receptive_field = inner, inner.receptive_field

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x)

    faithful = training.evaluate(Plain(model), sequences, H36M, torch.device("cpu"), tta=True)
    assert len(built) == 1 and fast.keys() == faithful.keys() == {"plain", "flip"}
    for mode in fast:
        for action, row in fast[mode].items():
            for metric, value in row.items():
                assert value == pytest.approx(faithful[mode][action][metric], abs=1e-3), (mode, action, metric)

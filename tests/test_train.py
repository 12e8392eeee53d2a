"""train.py end to end on a small slice of real Human3.6M: training, files,
evaluation tables, and an interrupted run resumed to the same weights."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT
from glagcn_video.lifter.checkpoint import load_checkpoint
from glagcn_video.datasets.load import DataError
from glagcn_video.training.loop import cosine_lr

sys.path.insert(0, str(ROOT))
import train  # noqa: E402

EPOCHS = 3


def args(data: Path, checkpoint: Path, *extra: str) -> list[str]:
    """A tiny configuration: train on S1, test on S9, 27 frames, 16 channels, in
    float32: ``--precision auto`` would take bfloat16 on CPUs that have it, and
    the comparisons between runs (two processes against one) allow float32
    rounding only. A later ``--precision`` in ``extra`` overrides it."""
    return ["-str", "S1", "-ste", "S9", "-arc", "3,3,3", "-ch", "16", "-s", "10", "-b", "64",
            "--eval-stride", "50", "--data-dir", str(data), "-c", str(checkpoint), "--device", "cpu",
            "--precision", "fp32", *extra]


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


def test_a_run_killed_while_it_evaluates_resumes_with_the_epoch_trained(run_a, h36m_small, tmp_path,
                                                                       monkeypatch, capsys):
    """The epoch's checkpoint is on disk before its evaluation starts: what a
    kill during epoch 2's evaluation leaves behind resumes to run A's weights."""
    folder, left = tmp_path / "killed", tmp_path / "left_behind.bin"
    real_score, calls = train.score, []

    def score(*a, **k):
        calls.append(1)
        if len(calls) == 2:  # epoch 2's evaluation: the state a kill would leave
            left.write_bytes((folder / "last_epoch.bin").read_bytes())
        return real_score(*a, **k)
    monkeypatch.setattr(train, "score", score)
    assert train.main(args(h36m_small, folder, "-e", str(EPOCHS))) == 0
    monkeypatch.undo()
    windows = int(re.search(r"(\d+) windows per epoch", capsys.readouterr().out).group(1))
    state = torch.load(left, weights_only=True)
    assert state["epoch"] == 1
    assert state["progress"]["windows"] == windows and state["progress"]["batches"] == -(-windows // 64)

    resumed = tmp_path / "resumed"
    assert train.main(args(h36m_small, resumed, "-e", str(EPOCHS), "--checkpoint-frequency", "2",
                           "-r", str(left))) == 0
    assert_same_weights(run_a / "last_epoch.bin", resumed / "last_epoch.bin")
    assert [r["eval_mpjpe_mm"] for r in read_log(run_a)] == [r["eval_mpjpe_mm"] for r in read_log(resumed)]


def test_epoch_windows_sets_the_epoch_size(h36m_small, tmp_path, monkeypatch, capsys):
    """--epoch-windows N trains N windows per epoch, drawn from all that -s gives."""
    windows, real = [], train.train_epoch

    def counting(*a, **k):
        progress = real(*a, **k)
        windows.append(progress.windows)
        return progress
    monkeypatch.setattr(train, "train_epoch", counting)
    assert train.main(args(h36m_small, tmp_path, "-e", "2", "--epoch-windows", "100")) == 0
    assert windows == [100, 100]
    total = int(re.search(r"100 windows per epoch \(drawn from (\d+)\)", capsys.readouterr().out).group(1))
    assert total > 100
    with pytest.raises(DataError, match=f"epochs of {total + 1} windows asked for: there are 1 to {total} "):
        train.main(args(h36m_small, tmp_path / "too_many", "--epoch-windows", str(total + 1)))


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
    import glagcn_video.training.evaluation as evaluation
    from glagcn_video.datasets.load import Sequence
    from glagcn_video.lifter.fast import optimize_for_inference
    from glagcn_video.lifter.model import GLAGCN
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

    monkeypatch.setattr(evaluation, "optimize_for_inference", counted)
    fast = evaluation.evaluate(model, sequences, H36M, torch.device("cpu"), tta=True)
    assert built == [model]

    class Plain(torch.nn.Module):
        def __init__(self, inner: GLAGCN):
            super().__init__()
            self.inner, self.receptive_field = inner, inner.receptive_field

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x)

    faithful = evaluation.evaluate(Plain(model), sequences, H36M, torch.device("cpu"), tta=True)
    assert len(built) == 1 and fast.keys() == faithful.keys() == {"plain", "flip"}
    for mode in fast:
        for action, row in fast[mode].items():
            for metric, value in row.items():
                assert value == pytest.approx(faithful[mode][action][metric], abs=1e-3), (mode, action, metric)


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def test_checkpoints_within_an_epoch_do_not_change_the_run(run_a, h36m_small, tmp_path):
    """--checkpoint-minutes 0 pauses and saves after every batch: the run must
    still end with exactly the uninterrupted run's weights and figures."""
    folder = tmp_path / "paused"
    assert train.main(args(h36m_small, folder, "-e", str(EPOCHS), "--checkpoint-frequency", "2",
                           "--checkpoint-minutes", "0")) == 0
    assert_same_weights(run_a / "last_epoch.bin", folder / "last_epoch.bin")
    log_a, log_b = read_log(run_a), read_log(folder)
    assert [r["eval_mpjpe_mm"] for r in log_a] == [r["eval_mpjpe_mm"] for r in log_b]
    # The loss is summed in float32 in a different order across pauses: equal to its rounding.
    assert [r["train_mpjpe_mm"] for r in log_b] == pytest.approx([r["train_mpjpe_mm"] for r in log_a],
                                                                   rel=1e-6)
    assert "progress" not in torch.load(folder / "last_epoch.bin", weights_only=True)


def test_sigterm_mid_epoch_saves_and_resumes_exactly(run_a, h36m_small, tmp_path, capsys):
    """A real SIGTERM (through the real handler, in a fresh process) after batch
    5 of epoch 2: the run stops after that batch with a mid-epoch checkpoint,
    exit code 143, and a resumed run ends with the uninterrupted run's weights."""
    folder = tmp_path / "sigterm"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "train_sigterm_at_batch.py"), "2", "5",
                           *args(h36m_small, folder, "-e", str(EPOCHS), "--checkpoint-frequency", "2")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 143, done.stderr[-2000:]
    assert "SIGTERM: stopped in epoch 2 after 5 of" in done.stdout
    assert "Traceback" not in done.stderr
    state = torch.load(folder / "last_epoch.bin", weights_only=True)
    assert state["epoch"] == 1 and state["progress"]["batches"] == 5
    assert len(read_log(folder)) == 1

    previous = signal.getsignal(signal.SIGTERM)
    assert train.main(args(h36m_small, folder, "-e", str(EPOCHS), "--checkpoint-frequency", "2",
                           "-r", "last_epoch.bin")) == 0
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler is put back
    assert "after epoch 1 at batch 5" in capsys.readouterr().out
    assert_same_weights(run_a / "last_epoch.bin", folder / "last_epoch.bin")
    assert [r["eval_mpjpe_mm"] for r in read_log(run_a)] == [r["eval_mpjpe_mm"] for r in read_log(folder)]


def test_time_budget_stops_with_a_checkpoint_and_exit_code_0(run_a, h36m_small, tmp_path, capsys):
    folder = tmp_path / "budget"
    # A budget of a few microseconds is spent before the first batch ends.
    assert train.main(args(h36m_small, folder, "-e", str(EPOCHS), "--time-budget", "1e-9")) == 0
    assert "time budget reached: stopped in epoch 1 after" in capsys.readouterr().out
    state = torch.load(folder / "last_epoch.bin", weights_only=True)
    assert state["epoch"] == 0 and state["progress"]["batches"] <= 1
    assert not (folder / "log.csv").exists()
    assert train.main(args(h36m_small, folder, "-e", str(EPOCHS), "--checkpoint-frequency", "2",
                           "-r", "last_epoch.bin")) == 0
    assert_same_weights(run_a / "last_epoch.bin", folder / "last_epoch.bin")


def test_sigterm_to_a_real_training_process(h36m_small, tmp_path):
    """The command line as a machine shutting down sees it: SIGTERM while it
    trains, then a checkpoint, a one-line message, exit code 143."""
    folder = tmp_path / "process"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"),
                             *args(h36m_small, folder, "-e", "50", "--no-eval")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:
            if line.startswith("training in"):
                break
        time.sleep(1.0)  # a few batches in
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "SIGTERM: stopping after this batch with a checkpoint" in err
    assert "SIGTERM: stopped in epoch" in out and "continue with -r last_epoch.bin" in out
    assert "Traceback" not in err
    state = torch.load(folder / "last_epoch.bin", weights_only=True)
    assert "progress" in state and state["progress"]["batches"] >= 0


def bf16_vs_fp32_losses(h36m_small: Path, tmp_path: Path) -> dict[str, list[float]]:
    losses = {}
    for precision in ("fp32", "bf16"):
        folder = tmp_path / precision
        assert train.main(args(h36m_small, folder, "-e", "2", "--no-eval", "-s", "40",
                               "--precision", precision)) == 0
        losses[precision] = [row["train_mpjpe_mm"] for row in read_log(folder)]
    return losses


def test_bfloat16_training_lowers_the_loss_like_float32(h36m_small, tmp_path, capsys):
    """Two epochs on real Human3.6M with the same seed, data order and initial
    weights. bfloat16 keeps 8 bits of mantissa (about 0.4% per rounding), so
    the two runs' trajectories drift apart a little: each epoch's mean loss
    must agree within 5%, and both must fall by the same large factor."""
    losses = bf16_vs_fp32_losses(h36m_small, tmp_path)
    out = capsys.readouterr().out
    assert "training in bfloat16 on cpu (autocast; weights, loss and optimizer in float32)" in out
    assert "training in float32 on cpu\n" in out
    fp32, bf16 = losses["fp32"], losses["bf16"]
    assert fp32[1] < 0.8 * fp32[0] and bf16[1] < 0.8 * bf16[0]
    assert bf16 == pytest.approx(fp32, rel=0.05)
    assert bf16 != fp32  # it did run in lower precision


def test_precision_auto_and_the_weights_stay_float32(h36m_small, tmp_path):
    from glagcn_video.training.loop import cpu_has_native_bf16, resolve_precision

    expected = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    assert resolve_precision("auto", torch.device("cpu")) == expected
    assert resolve_precision("fp16", torch.device("cpu")) == torch.float16
    folder = tmp_path / "bf16"
    assert train.main(args(h36m_small, folder, "-e", "1", "--no-eval", "-s", "80", "--precision", "bf16")) == 0
    state = torch.load(folder / "last_epoch.bin", weights_only=True)
    assert state["precision"] == "bfloat16"
    assert {v.dtype for k, v in state["model_pos"].items() if v.is_floating_point()} == {torch.float32}
    assert load_checkpoint(folder / "last_epoch.bin").receptive_field == 27

"""The steps of train.py (glagcn_video/training/), each on its own: the
arguments, the data selection, the model and --init, one epoch with its
pauses, the end of an epoch, saving and resuming, the log, and the command
line's error handling. test_train.py runs them together end to end."""

from __future__ import annotations

import csv
import re
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from glagcn_video.cli.train import run
from glagcn_video.datasets.load import Sequence
from glagcn_video.lifter.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from glagcn_video.lifter.model import GLAGCN
from glagcn_video.skeleton import H36M
from glagcn_video.training.arguments import Setting, parse_args
from glagcn_video.training.distributed import Ranks
from glagcn_video.training.evaluation import evaluate, score
from glagcn_video.training.history import plot_curves, write_log
from glagcn_video.training.loop import EpochProgress, train_epoch
from glagcn_video.training.steps import (
    build_model, initial_model, load_data, optimization, resume, select, training_windows)
from glagcn_video.training.stopper import Stopper
from glagcn_video.training.trainer import Evaluation, RunState, Trainer

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models train fastest on one thread (and the other core may be busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def sequence(frames: int, seed: int = 0, action: str = "Walking 1") -> Sequence:
    rng = np.random.default_rng(seed)
    return Sequence("S1", action, 0, rng.uniform(-0.5, 0.5, (frames, 17, 2)).astype(np.float32),
                    rng.normal(0, 0.3, (frames, 17, 3)).astype(np.float32))


def trainer(folder: Path, *extra: str) -> Trainer:
    """A run as train.py builds it, of a 9-frame, 8-channel model on 120
    random windows (batches of 16), with checkpoints in ``folder``."""
    folder.mkdir(exist_ok=True)
    args = parse_args(["-c", str(folder), "--device", "cpu", "-arc", "3,3", "-ch", "8", "-b", "16", "-e", "3",
                       "--precision", "fp32", *extra])
    setting, ranks = Setting.of(args), Ranks()
    model = build_model(args, setting, ranks)
    sampler = training_windows([sequence(60), sequence(60, seed=1, action="Directions")], model, args, setting)
    optimizer, precision, scaler = optimization(model, args, CPU)
    evaluation = Evaluation([sequence(30, seed=2)], H36M, ranks, False, 1, score)
    return Trainer(args, setting, ranks, model, model, sampler, optimizer, precision, scaler, evaluation,
                   RunState(seed=args.seed), train_epoch)


def test_contradictory_options_are_refused_by_name(capsys):
    for argv, message in [(["-r", "a.bin", "--evaluate", "b.bin"], "--resume and --evaluate cannot be set"),
                          (["--init", "a.bin", "-r", "b.bin"], "--init starts a run: it cannot be set with"),
                          (["--init", "a.bin", "--evaluate", "b.bin"], "--init starts a run: it cannot be set with"),
                          (["--precision", "fp8"], "argument --precision: invalid choice: 'fp8'")]:
        with pytest.raises(SystemExit) as info:
            parse_args(argv)
        assert info.value.code == 2
        assert message in capsys.readouterr().err, argv


def test_the_setting_takes_the_datasets_protocol_unless_told_otherwise(tmp_path, monkeypatch):
    humaneva = Setting.of(parse_args(["-d", "humaneva15"]))
    assert humaneva.subjects_test == ["Validate/S1", "Validate/S2", "Validate/S3"]
    assert humaneva.actions == ["Walk", "Jog", "Box"]
    assert humaneva.checkpoint_dir == Path("checkpoint/humaneva15")
    assert humaneva.pixel == 2 / 640
    assert Setting.of(parse_args(["-d", "humaneva15", "-a", "*"])).actions is None
    h36m = Setting.of(parse_args(["-str", "S1,S5", "-a", "Walking,Eating", "-c", str(tmp_path)]))
    assert h36m.subjects_train == ["S1", "S5"] and h36m.subjects_test == ["S9", "S11"]
    assert h36m.actions == ["Walking", "Eating"]

    monkeypatch.chdir(tmp_path)
    Path("here.bin").touch()
    assert h36m.in_checkpoint_dir("here.bin") == Path("here.bin")  # a file that exists: as given
    assert h36m.in_checkpoint_dir("best_epoch.bin") == tmp_path / "best_epoch.bin"  # a name in -c
    assert h36m.in_checkpoint_dir("/elsewhere/x.bin") == Path("/elsewhere/x.bin")


def test_select_keeps_a_contiguous_chunk_of_2d_and_3d_alike():
    sequences = [sequence(100), sequence(7, seed=1)]
    chunks = select(sequences, 0.3, 2, seed=5)
    assert [len(s.poses_3d) for s in chunks] == [15, 1]  # 30 of 100 frames, every 2nd; at least one
    first = next(f for f in range(100) if np.array_equal(sequences[0].poses_3d[f], chunks[0].poses_3d[0]))
    assert np.array_equal(chunks[0].poses_3d, sequences[0].poses_3d[first:first + 30:2])
    assert np.array_equal(chunks[0].poses_2d, sequences[0].poses_2d[first:first + 30:2])
    again = select(sequences, 0.3, 2, seed=5)
    assert all(np.array_equal(a.poses_3d, b.poses_3d) for a, b in zip(chunks, again))
    other = select(sequences, 0.3, 2, seed=6)
    assert not np.array_equal(other[0].poses_3d, chunks[0].poses_3d)  # the seed picks the chunk
    whole = select(sequences, 1.0, 1, seed=5)
    assert np.array_equal(whole[1].poses_2d, sequences[1].poses_2d)


def test_load_data_reads_only_the_test_subjects_to_evaluate(h36m_small, capsys):
    args = parse_args(["--data-dir", str(h36m_small), "-str", "S1", "-ste", "S9", "--evaluate", "x.bin",
                       "--downsample", "4"])
    dataset, test = load_data(args, Setting.of(args))
    assert {s.subject for s in dataset.sequences} == {"S9"} and {s.subject for s in test} == {"S9"}
    frames = sum(len(s.poses_3d) for s in test)
    assert frames == len(test) * 100  # every 4th of 400 frames
    assert f"{len(test)} test sequences, {frames} frames\n" in capsys.readouterr().out


def test_the_model_follows_the_seed_then_each_process_draws_its_own(tmp_path):
    args = parse_args(["-c", str(tmp_path), "-arc", "3,3", "-ch", "8", "--seed", "5"])
    model = build_model(args, Setting.of(args), Ranks(rank=1, world=2))
    after = torch.get_rng_state()
    torch.manual_seed(5)
    expected = GLAGCN(H36M, [3, 3], 8, 0.1)
    for key, value in expected.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    torch.manual_seed(6)  # --seed + rank
    assert torch.equal(after, torch.get_rng_state())


def narrow_checkpoint(path: Path, channels: int) -> GLAGCN:
    torch.manual_seed(3)
    model = GLAGCN(H36M, (3, 3), channels).eval()
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)):
            bn.running_mean.normal_(0, 0.1)
            bn.running_var.uniform_(0.5, 2.0)
    save_checkpoint(path, model, epoch=1, lr=0.01)
    return model


def test_init_widens_a_narrower_checkpoint_to_compute_nearly_the_same(tmp_path, capsys):
    path = tmp_path / "narrow.bin"
    narrow = narrow_checkpoint(path, 8)
    fresh = GLAGCN(H36M, (3, 3), 16, dropout=0.25)
    model = initial_model(path, fresh)
    assert model.channels == 16 and model.training and model.drop.p == 0.25
    assert f"initial weights from {path}, widened from 8 to 16 channels" in capsys.readouterr().out
    x = torch.rand(4, 9, 17, 2) - 0.5
    with torch.no_grad():
        expected, got = narrow(x), model.eval()(x)
    # Net2Net computes the same; the 1% noise that breaks the copies' symmetry moves it a little.
    assert (got - expected).abs().max() < 0.05 * expected.abs().max()

    same = initial_model(path, GLAGCN(H36M, (3, 3), 8))
    assert all(torch.equal(a, b) for a, b in zip(same.state_dict().values(), narrow.state_dict().values()))
    assert capsys.readouterr().out == f"initial weights from {path}\n"


def test_init_refuses_a_wider_or_differently_shaped_checkpoint_naming_it(tmp_path):
    path = tmp_path / "wide.bin"
    narrow_checkpoint(path, 16)
    named = re.escape(str(path))
    with pytest.raises(CheckpointError, match=f"^{named}: a GLA-GCN .*16 channels.* cannot start a GLA-GCN .*8 ch"):
        initial_model(path, GLAGCN(H36M, (3, 3), 8))
    with pytest.raises(CheckpointError, match=f"^{named}: .*widths 3,3,.* cannot start .*widths 3,3,3"):
        initial_model(path, GLAGCN(H36M, (3, 3, 3), 16))


def test_an_epoch_trains_to_its_end_without_a_pause(tmp_path):
    run = trainer(tmp_path)
    before = [p.detach().clone() for p in run.model.parameters()]
    lr = run.begin_epoch(0)
    assert lr == pytest.approx(0.01) and run.optimizer.param_groups[0]["lr"] == lr
    assert run.train(0, lr, Stopper(None)) is False
    assert run.state.progress.batches == run.batches_per_epoch == 8  # 120 windows in batches of 16
    assert run.state.progress.windows == 120 and run.state.progress.loss > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, run.model.parameters()))
    assert not list(tmp_path.iterdir())  # no pause, no checkpoint
    run.begin_epoch(1)
    assert run.state.progress == EpochProgress()  # the next epoch starts afresh


def test_a_requested_stop_ends_the_epoch_after_one_batch_with_a_checkpoint(tmp_path, capsys):
    run = trainer(tmp_path)
    stopper = Stopper(0.0)  # the time budget is spent at once
    assert run.train(0, run.begin_epoch(0), stopper) is True
    assert run.state.progress.batches == 1
    saved = read_checkpoint(tmp_path / "last_epoch.bin")
    assert saved["epoch"] == 0 and saved["progress"]["batches"] == 1 and saved["progress"]["windows"] == 16
    assert run.stop(0, 0.01, stopper) == 0  # the time budget: the run did what was asked
    assert ("time budget reached: stopped in epoch 1 after 1 of 8 batches; "
            f"{tmp_path / 'last_epoch.bin'} written, continue with -r last_epoch.bin") in capsys.readouterr().out
    stopper.signal = signal.SIGTERM
    assert run.stop(0, 0.01, stopper) == 143


def test_checkpoints_every_minutes_pause_the_epoch_without_changing_it(tmp_path):
    runs = []
    for name, extra in (("paused", ["--checkpoint-minutes", "0"]), ("whole", [])):
        runs.append(trainer(tmp_path / name, *extra))  # seeds the weights and the dropout masks afresh
        runs[-1].train(0, runs[-1].begin_epoch(0), Stopper(None))
    paused, whole = runs
    assert paused.state.progress.batches == whole.state.progress.batches == 8
    assert read_checkpoint(tmp_path / "paused" / "last_epoch.bin")["progress"]["batches"] == 7  # the last pause
    for a, b in zip(paused.model.parameters(), whole.model.parameters()):
        assert torch.equal(a, b)


def test_the_end_of_an_epoch_logs_it_and_keeps_the_best_and_every_nth(tmp_path, capsys):
    run = trainer(tmp_path, "--checkpoint-frequency", "2")
    for epoch, eval_mm in [(0, 50.0), (1, 60.0)]:
        run.train(epoch, run.begin_epoch(epoch), Stopper(None))
        run.end_epoch(epoch, 0.01, eval_mm, 1.5)
    assert [h["epoch"] for h in run.state.history] == [1, 2]
    assert [h["eval_mpjpe_mm"] for h in run.state.history] == [50.0, 60.0] and run.state.best == 50.0
    assert run.state.history[0]["epoch_time_s"] >= 1.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best_epoch.bin", "epoch_2.bin", "last_epoch.bin"]
    assert read_checkpoint(tmp_path / "best_epoch.bin")["epoch"] == 1
    last = read_checkpoint(tmp_path / "last_epoch.bin")
    assert last["epoch"] == 2 and "progress" not in last and last["history"] == run.state.history
    out = capsys.readouterr().out
    assert "epoch 1/3  lr 1.00e-02  train " in out and " mm  test 60.0 mm  " in out


def test_resume_restores_what_save_wrote(tmp_path, capsys):
    run = trainer(tmp_path)
    run.train(0, run.begin_epoch(0), Stopper(None))
    run.end_epoch(0, 0.01, 80.0, 0.0)
    run.state.history.append({**run.state.history[0], "epoch": 2, "eval_mpjpe_mm": 70.0})
    run.state.seed = 99  # as a resumed run keeps the seed of the run it continues
    progress = EpochProgress(batches=3, loss_sum=1.25, windows=48, seconds=2.0)
    run.save("paused.bin", 2, 0.005, progress)
    rng = torch.get_rng_state()

    torch.manual_seed(0)
    other = trainer(tmp_path / "other", "--seed", "7")
    state = resume(tmp_path / "paused.bin", other.core, other.optimizer, other.scaler, Ranks(), 16)
    assert state == RunState(seed=99, start_epoch=2, history=run.state.history, best=70.0, progress=progress)
    assert torch.equal(torch.get_rng_state(), rng)
    for key, value in run.model.state_dict().items():
        assert torch.equal(other.model.state_dict()[key], value), key
    assert other.optimizer.steps == run.optimizer.steps == 8
    assert all(torch.equal(a, b) for a, b in zip(other.optimizer.slow, run.optimizer.slow))
    assert f"resumed from {tmp_path / 'paused.bin'} after epoch 2 at batch 3" in capsys.readouterr().out

    with pytest.raises(CheckpointError, match=re.escape(f"{tmp_path / 'paused.bin'}: stopped mid-epoch with -b 16; "
                                                        "resume it with the same -b")):
        resume(tmp_path / "paused.bin", other.core, other.optimizer, other.scaler, Ranks(), 32)


def test_evaluation_in_one_process_is_evaluate():
    torch.manual_seed(0)
    model = GLAGCN(H36M, (3, 3), 8).eval()
    sequences = [sequence(40, seed=i, action=a) for i, a in enumerate(("Walking 1", "Directions", "Walking"))]
    tables = Evaluation(sequences, H36M, Ranks(), True, 2, score)(model, by_subject=True)
    assert tables == evaluate(model, sequences, H36M, CPU, tta=True, frame_stride=2, by_subject=True)
    assert list(tables["flip"]) == ["S1 Directions", "S1 Walking"]


def test_until_stop_cuts_the_items_when_a_stop_is_requested():
    assert list(Stopper(None).until_stop(range(5))) == [0, 1, 2, 3, 4]
    assert list(Stopper(0.0).until_stop(range(5))) == []
    stopper, seen = Stopper(None), []
    for item in stopper.until_stop(range(5)):
        seen.append(item)
        if item == 2:
            stopper.signal = signal.SIGINT
    assert seen == [0, 1, 2] and stopper.exit_code() == 130


def test_write_log_reads_back_and_the_curves_are_a_png(tmp_path):
    history = [{"epoch": 1, "lr": 0.01, "train_mpjpe_mm": 123.456789, "eval_mpjpe_mm": float("nan"),
                "epoch_time_s": 10.5},
               {"epoch": 2, "lr": 0.005005, "train_mpjpe_mm": 98.7, "eval_mpjpe_mm": 88.1, "epoch_time_s": 9.0}]
    write_log(tmp_path / "log.csv", history)
    with (tmp_path / "log.csv").open() as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    assert list(rows[0]) == list(history[0])
    assert np.isnan(rows[0]["eval_mpjpe_mm"])
    assert rows[1] == history[1] and rows[0]["train_mpjpe_mm"] == history[0]["train_mpjpe_mm"]
    for name, part in (("both.png", history), ("train_only.png", history[:1])):
        plot_curves(tmp_path / name, part)
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_turns_a_users_error_into_one_line_and_exit_code_1(tmp_path, capsys):
    assert run(["--data-dir", str(tmp_path), "-c", str(tmp_path / "c"), "--device", "cpu"]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'data_3d_h36m.npz'}: file not found\n"
    assert run(["-d", "mpii"]) == 1
    assert capsys.readouterr().err == "error: unknown dataset 'mpii'; known: h36m, humaneva15\n"


def test_run_loads_an_evaluated_checkpoint_it_names(h36m_small, tmp_path, capsys):
    assert run(["--data-dir", str(h36m_small), "-ste", "S9", "--evaluate", str(tmp_path / "none.bin"),
                "--device", "cpu"]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'none.bin'}: checkpoint not found\n"
    path = tmp_path / "narrow.bin"
    narrow_checkpoint(path, 8)
    assert run(["--data-dir", str(h36m_small), "-ste", "S9", "--evaluate", str(path), "--device", "cpu",
                "--eval-stride", "50"]) == 0
    out = capsys.readouterr().out
    assert f"evaluating {path} (9 frames) every 50 frame(s)" in out and "with test-time flipping" not in out
    rows = [line.split()[0] for line in out.split("without test-time flipping (mm)\n")[1].splitlines()[1:]]
    assert rows == ["Directions", "Walking", "average"]

"""train.py in two processes on the CPU (Gloo), as torchrun and srun start it:
the same weights as one process, checkpoints one process loads, exact
resumption, and a run that ends with a message when a process dies or hangs.

Every run here is the tiny configuration of test_train.py on the small real
Human3.6M set, with -s 40 (160 windows an epoch) and -b 45, so that the
batches (45, 45, 45, 25) split unevenly over two processes (23 + 22, 13 + 12).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from conftest import ROOT
from glagcn_video.datasets.load import Sequence
from glagcn_video.datasets.windows import WindowSampler, shard_rows
from glagcn_video.lifter.checkpoint import load_checkpoint, read_checkpoint
from glagcn_video.lifter.model import GLAGCN
from glagcn_video.skeleton import H36M
from glagcn_video.training.distributed import CpuSyncBatchNorm, DistributedError
from glagcn_video.training.evaluation import evaluate, merge_scores, score, tabulate
from glagcn_video.training.loop import corrupt_keypoints
from test_train import args, read_log, weights

sys.path.insert(0, str(ROOT))
import train  # noqa: E402

EPOCHS = 2
BATCHES = 4  # per epoch: 160 windows in batches of 45
WITHOUT_DROPOUT = ROOT / "tests" / "train_without_dropout.py"

# Two processes and one add the same numbers in different orders (BatchNorm
# statistics from two partial sums, the gradients of two part batches summed
# by DDP): float32 rounding, which over the run's 8 steps grows to 5e-7 at
# most in any weight or statistic (measured: 4.8e-7, in a running variance).
# The tolerance is absolute: conv biases ahead of a BatchNorm get no gradient
# beyond rounding and stay near 0, so relative differences there mean nothing.
ATOL = 1e-5


def test_shares_of_a_batch_are_contiguous_and_cover_it():
    for world in range(1, 6):
        for count in range(0, 30):
            parts = [shard_rows(count, rank, world) for rank in range(world)]
            assert [i for part in parts for i in range(count)[part]] == list(range(count))
            sizes = [part.stop - part.start for part in parts]
            assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def random_sequences(count: int, frames: int = 60) -> list[Sequence]:
    rng = np.random.default_rng(0)
    actions = ("Walking 1", "Directions 1", "Walking", "Eating 2", "Directions")
    return [Sequence(f"S{9 + i % 2}", actions[i % len(actions)], i % 4,
                     rng.uniform(-0.5, 0.5, (frames + i, 17, 2)).astype(np.float32),
                     rng.normal(0, 0.3, (frames + i, 17, 3)).astype(np.float32)) for i in range(count)]


def test_processes_share_the_batches_and_the_noise_of_one_process():
    """Rank r of N gathers rows shard_rows(., r, N) of every batch, and corrupts
    them exactly as one process corrupts those rows of the whole batch."""
    sampler = WindowSampler(random_sequences(3), 9, H36M, augment=True)
    whole = list(sampler.batches(16, np.random.default_rng(5)))
    shares = [list(sampler.batches(16, np.random.default_rng(5), shard=(rank, 3))) for rank in range(3)]
    for b, (x, y) in enumerate(whole):
        assert np.array_equal(np.concatenate([share[b][0] for share in shares]), x)
        assert np.array_equal(np.concatenate([share[b][1] for share in shares]), y)
        noisy = corrupt_keypoints(x, np.random.default_rng(b), 5.0, 0.2)
        parts = [corrupt_keypoints(share[b][0], np.random.default_rng(b), 5.0, 0.2,
                                   rows=shard_rows(len(x), rank, 3), batch=len(x))
                 for rank, share in enumerate(shares)]
        assert np.array_equal(np.concatenate(parts), noisy)
        assert not np.array_equal(noisy, x)


def test_scores_of_shares_add_up_to_the_tables_of_one_process():
    torch.manual_seed(0)
    model = GLAGCN(H36M, (3, 3), 16).eval()
    sequences = random_sequences(7)
    cpu = torch.device("cpu")
    whole = evaluate(model, sequences, H36M, cpu, tta=True, by_subject=True)
    merged = tabulate(merge_scores(score(model, sequences[rank::3], H36M, cpu, tta=True, by_subject=True)
                                   for rank in range(3)))
    assert merged.keys() == whole.keys() and all(merged[m].keys() == whole[m].keys() for m in whole)
    for mode in whole:
        for group, row in whole[mode].items():
            assert merged[mode][group] == pytest.approx(row, rel=1e-12), (mode, group)


def test_cpu_sync_batchnorm_is_batchnorm_in_one_process():
    """Alone in its group, the CPU SyncBatchNorm must compute what BatchNorm
    does: outputs, gradients, running statistics (unbiased variance)."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        plain = torch.nn.BatchNorm2d(5, momentum=0.3)
        torch.nn.init.normal_(plain.weight)
        torch.nn.init.normal_(plain.bias)
        synced = CpuSyncBatchNorm.convert(torch.nn.Sequential(torch.nn.BatchNorm2d(5, momentum=0.3)))[0]
        synced.load_state_dict(plain.state_dict())
        x = torch.randn(6, 5, 4, 3) * 3 + 1
        outputs = []
        for bn in (plain, synced):
            xi = x.clone().requires_grad_()
            out = bn(xi)
            (out * torch.arange(out.numel()).view_as(out)).sum().backward()
            outputs.append((out, xi.grad, bn.weight.grad, bn.bias.grad))
        for a, b in zip(*outputs):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)
        for key, value in plain.state_dict().items():
            torch.testing.assert_close(synced.state_dict()[key], value, msg=key)
        synced.eval()
        torch.testing.assert_close(synced(x), plain.eval()(x))
    finally:
        dist.destroy_process_group()


def tiny(data: Path, folder: Path, *extra: str) -> list[str]:
    return args(data, folder, "-s", "40", "-b", "45", "-e", str(EPOCHS), "--export-training-curves", *extra)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_environment() -> dict[str, str]:
    """This environment without any launcher's variables (the tests may run under one)."""
    launcher = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
                "MASTER_PORT", "TORCHELASTIC_", "SLURM_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(launcher)}
    return {**env, "OMP_NUM_THREADS": "1"}


class Process:
    """A child process whose output is read as it comes (tqdm writes no newlines)."""

    def __init__(self, command: list[str], env: dict[str, str]):
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.out, self.err = bytearray(), bytearray()
        self.readers = [threading.Thread(target=self._read, args=(pipe, into), daemon=True)
                        for pipe, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(pipe, into: bytearray) -> None:
        while chunk := pipe.read1(4096):
            into.extend(chunk)

    def wait(self, timeout: float) -> tuple[int, str, str]:
        """Exit code, standard output and standard error."""
        code = self.proc.wait(timeout)
        for reader in self.readers:
            reader.join(10)
        return code, self.out.decode(), self.err.decode()

    def wait_for(self, pattern: str, timeout: float = 120) -> None:
        """Until standard error matches the regular expression ``pattern``."""
        end = time.time() + timeout
        while not re.search(pattern.encode(), self.err):
            assert self.proc.poll() is None, f"exited before {pattern!r}: {self.err.decode()[-2000:]}"
            assert time.time() < end, f"no {pattern!r} within {timeout} s"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# Rank 0's progress bar once a batch is done (both processes are in the training loop).
TRAINING = r"\| [1-9]/4 \["


def launch(script: Path, argv: list[str], slurm: bool = False,
           rank_1_only: tuple[str, ...] = ()) -> list[Process]:
    """Two ranks on localhost started the way torchrun (or, with ``slurm``, srun)
    starts them: one process each, told its rank in environment variables.
    ``rank_1_only``: arguments for rank 1 alone."""
    port = str(free_port())
    ranks = []
    for rank in range(2):
        if slurm:
            where = {"SLURM_PROCID": str(rank), "SLURM_NTASKS": "2", "SLURM_LOCALID": str(rank)}
        else:
            where = {"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank)}
        env = {**clean_environment(), **where, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        ranks.append(Process([sys.executable, str(script), *argv, *(rank_1_only if rank else ())], env))
    return ranks


def hurt_rank_1(ranks: list[Process], hurt: Callable[[subprocess.Popen], None],
                wait_s: float) -> tuple[int, str, float]:
    """Once the ranks train, ``hurt`` rank 1's process; then (rank 0's exit
    code, its stderr, seconds it took to exit after the hurt)."""
    try:
        ranks[0].wait_for(TRAINING)
        hurt(ranks[1].proc)
        hurt_at = time.time()
        code, _, err = ranks[0].wait(wait_s)
        return code, err, time.time() - hurt_at
    finally:
        for rank in ranks:
            rank.kill()


def assert_close_weights(a: Path, b: Path, atol: float = ATOL) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=0, atol=atol, msg=lambda m: f"{key}: {m}")


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


@pytest.fixture(scope="module")
def two_processes(h36m_small, tmp_path_factory) -> tuple[Path, str]:
    """``torchrun --nproc_per_node=2``, synchronised BatchNorm, dropout off:
    the checkpoint folder and the run's standard output."""
    folder = tmp_path_factory.mktemp("two")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               f"--master_port={free_port()}", str(WITHOUT_DROPOUT), *tiny(h36m_small, folder, "--sync-bn")]
    done = subprocess.run(command, capture_output=True, text=True, env=clean_environment(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, done.stdout


@pytest.fixture(scope="module")
def one_process(h36m_small, tmp_path_factory) -> Path:
    """The same run in one process (here, in the test's own process)."""
    folder = tmp_path_factory.mktemp("one")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(torch.nn.Dropout, "forward", lambda self, x: x)
            assert train.main(tiny(h36m_small, folder, "--sync-bn")) == 0  # nothing to synchronise in one
    finally:
        torch.set_num_threads(threads)
    return folder


def test_two_processes_train_like_one(two_processes, one_process):
    """Same global batch, data order and initial weights: the same weights and
    figures within float32 rounding (ATOL), and the files rank 0 alone writes."""
    folder, out = two_processes
    assert "2 processes, global batch 45 windows (about 22 per process), synchronised BatchNorm" in out
    assert out.count(f"epoch 1/{EPOCHS}") == 1  # printed by rank 0 only
    assert_close_weights(one_process / "last_epoch.bin", folder / "last_epoch.bin")
    log_1, log_2 = read_log(one_process), read_log(folder)
    for key in ("train_mpjpe_mm", "eval_mpjpe_mm"):
        assert [r[key] for r in log_2] == pytest.approx([r[key] for r in log_1], rel=1e-5), key
    assert sorted(p.name for p in folder.iterdir()) == ["best_epoch.bin", "last_epoch.bin", "log.csv"]
    state = torch.load(folder / "last_epoch.bin", weights_only=True)
    assert len(state["random_state"]["ranks"]) == 2 and state["batch_size"] == 45


def test_a_two_process_checkpoint_loads_and_evaluates_in_one_process(two_processes, h36m_small, capsys):
    folder, _ = two_processes
    raw = torch.load(folder / "last_epoch.bin", weights_only=True)
    model = load_checkpoint(folder / "last_epoch.bin")
    assert model.receptive_field == 27
    assert raw["model_pos"].keys() == {"module." + k for k in model.state_dict()}
    for key, value in model.state_dict().items():
        assert torch.equal(value, raw["model_pos"]["module." + key])
    assert train.main(args(h36m_small, folder, "--evaluate", "last_epoch.bin")) == 0
    average = capsys.readouterr().out.split("\naverage", 1)[1].split()
    assert float(average[0]) == pytest.approx(read_log(folder)[-1]["eval_mpjpe_mm"], abs=0.051)


def test_a_stopped_two_process_run_resumes_exactly(two_processes, h36m_small, tmp_path, monkeypatch):
    """Rank 1 alone has a time budget, spent at once: both processes stop after
    the first batch, and rank 0 writes the checkpoint. Resumed in two processes
    the run ends with the uninterrupted run's weights, bit for bit (two
    processes add in the same order every time); resumed in one, within ATOL."""
    uninterrupted, _ = two_processes
    folder = tmp_path / "stopped"
    ranks = launch(WITHOUT_DROPOUT, tiny(h36m_small, folder, "--sync-bn"),
                   rank_1_only=("--time-budget", "1e-9"))
    try:
        (code_0, out_0, err_0), (code_1, out_1, err_1) = ranks[0].wait(300), ranks[1].wait(300)
    finally:
        for rank in ranks:
            rank.kill()
    assert (code_0, code_1) == (0, 0), err_0[-2000:] + err_1[-2000:]
    assert "stop requested in another process: stopped in epoch 1 after 1 of 4 batches" in out_0
    assert out_1 == ""  # rank 1 prints nothing
    state = read_checkpoint(folder / "last_epoch.bin")
    assert state["epoch"] == 0 and state["progress"]["batches"] == 1

    resumed = launch(WITHOUT_DROPOUT, tiny(h36m_small, folder, "--sync-bn", "-r", "last_epoch.bin"))
    try:
        results = [rank.wait(300) for rank in resumed]
    finally:
        for rank in resumed:
            rank.kill()
    assert [code for code, _, _ in results] == [0, 0], results[0][2][-2000:] + results[1][2][-2000:]
    assert_same_weights(uninterrupted / "last_epoch.bin", folder / "last_epoch.bin")
    log_a, log_b = read_log(uninterrupted), read_log(folder)
    assert [r["eval_mpjpe_mm"] for r in log_b] == [r["eval_mpjpe_mm"] for r in log_a]
    # The epoch's loss is summed in float32 in another order across the pause.
    assert [r["train_mpjpe_mm"] for r in log_b] == pytest.approx([r["train_mpjpe_mm"] for r in log_a], rel=1e-6)

    one = tmp_path / "one"
    one.mkdir()
    (one / "last_epoch.bin").write_bytes((folder / "last_epoch.bin").read_bytes())
    monkeypatch.setattr(torch.nn.Dropout, "forward", lambda self, x: x)
    assert train.main(tiny(h36m_small, one, "-r", "last_epoch.bin")) == 0
    assert_close_weights(uninterrupted / "last_epoch.bin", one / "last_epoch.bin")


@pytest.mark.slow
def test_a_process_that_dies_ends_the_run_with_a_message(h36m_small, tmp_path):
    """srun's variables, no torchrun: rank 1 is killed (SIGKILL) mid-run; rank 0
    stops within seconds with one line saying why, and the last checkpoint
    (written after every batch here) loads."""
    folder = tmp_path / "dead"
    ranks = launch(ROOT / "train.py", tiny(h36m_small, folder, "-e", "50", "--checkpoint-minutes", "0",
                                           "--dist-timeout", "1"), slurm=True)
    code, err, waited = hurt_rank_1(ranks, lambda proc: proc.kill(), 90)  # once training, a checkpoint exists
    assert code == 1, err[-2000:]
    assert waited < 30, err[-2000:]  # a closed connection is noticed at once, well before --dist-timeout
    assert "error: rank 0 of 2 lost contact with the other processes" in err, err[-2000:]
    assert "resume with -r last_epoch.bin" in err and "Traceback" not in err, err[-2000:]
    assert load_checkpoint(folder / "last_epoch.bin").receptive_field == 27
    assert "progress" in read_checkpoint(folder / "last_epoch.bin")


@pytest.mark.slow
def test_a_process_that_hangs_times_out_with_a_message(h36m_small, tmp_path):
    """Rank 1 stopped (SIGSTOP) keeps its connections open: rank 0 gives up
    after --dist-timeout (15 s here) instead of waiting for ever. (Its wait may
    have begun before the SIGSTOP, so it can end sooner after it.)"""
    folder = tmp_path / "hung"
    ranks = launch(ROOT / "train.py", tiny(h36m_small, folder, "-e", "50", "--dist-timeout", "0.25"))
    code, err, waited = hurt_rank_1(ranks, lambda proc: proc.send_signal(signal.SIGSTOP), 120)
    assert code == 1, err[-2000:]
    assert waited < 75, err[-2000:]
    assert "error: rank 0 of 2 lost contact with the other processes" in err and "Timed out" in err, err[-2000:]


@pytest.mark.slow
def test_sigterm_to_one_process_stops_both_together(h36m_small, tmp_path):
    """A signal to one process only: all stop after the same batch, rank 0
    writes the checkpoint and says so once, and all exit with 143."""
    folder = tmp_path / "sigterm"
    ranks = launch(ROOT / "train.py", tiny(h36m_small, folder, "-e", "50"))
    try:
        ranks[0].wait_for(TRAINING)
        ranks[1].proc.send_signal(signal.SIGTERM)
        (code_0, out_0, err_0), (code_1, out_1, err_1) = ranks[0].wait(120), ranks[1].wait(120)
    finally:
        for rank in ranks:
            rank.kill()
    assert (code_0, code_1) == (143, 143), err_0[-2000:] + err_1[-2000:]
    assert "stop requested in another process: stopped in epoch" in out_0 and out_1 == ""
    assert "stopping after this batch" not in err_1  # rank 0 speaks for all
    assert "progress" in read_checkpoint(folder / "last_epoch.bin")


def test_srun_without_master_address_is_refused(tmp_path, monkeypatch):
    """Checked first, before any data is read."""
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_NTASKS", "2")
    with pytest.raises(DistributedError, match="srun started 2 tasks but MASTER_ADDR and MASTER_PORT are not set"):
        train.main(args(tmp_path, tmp_path))

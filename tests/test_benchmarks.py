"""Every benchmark starts the way the docs run it: ``python benchmarks/bench_X.py``
from the repository root (no benchmark is timed here: ``--help`` only)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

BENCHMARKS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "benchmarks").glob("bench_*.py"))


def test_every_benchmark_runs_as_a_script_from_the_repository_root():
    assert len(BENCHMARKS) >= 5
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as a user's shell has it
    # Started together: each spends its few seconds importing torch.
    runs = {script: subprocess.Popen([sys.executable, script, "--help"], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for script in BENCHMARKS}
    for script, run in runs.items():
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0 and out.startswith("usage:"), f"{script}: {err.strip()[-2000:]}"

"""What every benchmark prints about the machine it ran on.

The benchmarks run as scripts
(``python benchmarks/bench_lifter.py``), so they import this module and each
other as siblings (``from machine import cpu_model``).
"""

from __future__ import annotations

import platform
from pathlib import Path

from glagcn_video.cpu import usable_cores

__all__ = ["cpu_model", "usable_cores"]


def cpu_model() -> str:
    """The CPU's model name, or the best the platform module can tell."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

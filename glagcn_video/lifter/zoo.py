"""The lifters that ship in ``models/``, by name.

``demo.py --checkpoint h36m-27f`` reads better than a path and survives a
model being retrained under a new file name; any path still works. Each
entry's figures, training command and hardware are in ``models/README.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .checkpoint import CheckpointError

# models/ at the top of the repository, installed as this package's data
# (pyproject.toml maps it): the same name in a checkout and in a wheel.
MODELS_PACKAGE = "glagcn_video.models"


@dataclass(frozen=True)
class ZooModel:
    """One shipped lifter: its name, file in ``models/`` and a one-line summary."""

    name: str
    file: str
    summary: str

    @property
    def path(self) -> Path:
        """The file on disk (the package is installed unzipped, as pip does)."""
        return Path(str(resources.files(MODELS_PACKAGE) / self.file))


ZOO: dict[str, ZooModel] = {m.name: m for m in (
    ZooModel("h36m-27f", "glagcn_h36m_27f_32ch.bin",
             "27 frames, 32 channels, Human3.6M; P#1 46.8 mm on ground-truth 2D with flipping"),
    ZooModel("h36m-243f", "glagcn_h36m_243f_16ch.bin",
             "243 frames, 16 channels, Human3.6M; P#1 45.4 mm on ground-truth 2D with flipping (every "
             "100th test frame, where h36m-27f has 46.7); lifts 1.9x faster than h36m-243f-32ch"),
    ZooModel("h36m-243f-32ch", "glagcn_h36m_243f_32ch.bin",
             "243 frames, 32 channels, Human3.6M; P#1 42.7 mm on ground-truth 2D with flipping (every "
             "100th test frame, where h36m-243f has 45.4); lifts 1.85x faster than h36m-243f-48ch"),
    ZooModel("h36m-243f-48ch", "glagcn_h36m_243f_48ch.bin",
             "243 frames, 48 channels, Human3.6M, still training; P#1 41.9 mm on ground-truth 2D with "
             "flipping (every 100th test frame, where h36m-243f-32ch has 42.7)"),
)}
DEFAULT_MODEL = "h36m-243f-48ch"  # the best shipped model on ground-truth 2D and at 5 px noise


def resolve_checkpoint(spec: str | os.PathLike) -> Path:
    """The file for a zoo name or a path; a path that does not exist and is
    not a zoo name is a :class:`CheckpointError` listing the names."""
    if str(spec) in ZOO:
        return ZOO[str(spec)].path
    path = Path(spec)
    if not path.exists():
        raise CheckpointError(f"{spec}: checkpoint not found (nor a shipped model name: "
                              f"{', '.join(ZOO)})")
    return path

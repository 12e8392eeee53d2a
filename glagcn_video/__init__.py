"""glagcn-video: video of people to 3D skeletons with the GLA-GCN lifter.

Subpackages: ``lifter`` (the network, checkpoints, inference), ``datasets``
(Human3.6M, HumanEva-I), ``training`` (the paper's protocol), ``pipeline``
(the demo's stages and their runner), ``world`` (the ground, the world
frame, placing people in it), ``exports`` (the files a run writes),
``view`` (the output video's pictures and the HTML viewer) and ``cli`` (the
command lines). The modules at this level are what they all share: joint
layouts (``skeleton``), camera geometry (``camera``), files and paths
(``files``), CPU threads (``cpu``) and people's 2D tracks (``tracks``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The public names, imported when first used: importing the package (as the
# command lines do first) must not load PyTorch, so that they can set its
# threads' environment before it starts, and answer --help at once.
_PUBLIC = {
    "GLAGCN": ".lifter.model",
    "CheckpointError": ".lifter.checkpoint",
    "load_checkpoint": ".lifter.checkpoint",
    "Exports": ".exports.formats",
    "DemoOptions": ".pipeline.runner",
    "DemoResult": ".pipeline.runner",
    "run_demo": ".pipeline.runner",
}
__all__ = sorted(_PUBLIC)
__version__ = "0.1.0"

if TYPE_CHECKING:
    from .exports.formats import Exports
    from .lifter.checkpoint import CheckpointError, load_checkpoint
    from .lifter.model import GLAGCN
    from .pipeline.runner import DemoOptions, DemoResult, run_demo


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name], __name__), name)

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

from .exports.formats import Exports
from .lifter.checkpoint import CheckpointError, load_checkpoint
from .lifter.model import GLAGCN
from .pipeline.runner import DemoOptions, DemoResult, run_demo

__all__ = ["GLAGCN", "CheckpointError", "DemoOptions", "DemoResult", "Exports", "load_checkpoint", "run_demo"]
__version__ = "0.1.0"

"""glagcn-video: video of people to 3D skeletons with the GLA-GCN lifter.

Subpackages: ``lifter`` (the network, checkpoints, inference), ``datasets``
(Human3.6M, HumanEva-I), ``training`` (the paper's protocol) and
``pipeline`` (the demo's stages and their runner). The modules at this level
are what they all share: joint layouts (``skeleton``), camera geometry
(``camera``), files and paths (``files``) and CPU threads (``cpu``).
"""

from .lifter.checkpoint import CheckpointError, load_checkpoint
from .lifter.model import GLAGCN
from .pipeline.outputs import Exports
from .pipeline.runner import DemoOptions, DemoResult, run_demo

__all__ = ["GLAGCN", "CheckpointError", "DemoOptions", "DemoResult", "Exports", "load_checkpoint", "run_demo"]
__version__ = "0.1.0"

"""glagcn-video: video of people to 3D skeletons with the GLA-GCN lifter."""

from .checkpoint import CheckpointError, load_checkpoint
from .model import GLAGCN

__all__ = ["GLAGCN", "CheckpointError", "load_checkpoint"]
__version__ = "0.1.0"

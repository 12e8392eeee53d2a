"""The shipped GLA-GCN lifters (``*.bin``) and their model card, installed as this package's data.

A checkout keeps them in ``models/`` at the top of the repository; ``pyproject.toml`` maps that folder to
``glagcn_video.models``, so ``glagcn_video.lifter.zoo`` finds them the same way installed or not.
"""

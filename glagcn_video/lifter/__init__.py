"""The GLA-GCN lifter: 2D keypoint windows in, root-relative 3D joints out.

``model.py`` is the network as the authors released it, ``checkpoint.py``
reads and writes their weight files (and ours) without running code,
``fast.py`` is the exact, cheaper inference path, ``inference.py``
runs a model over whole sequences, one window per frame, with flip
test-time augmentation, and ``zoo.py`` names the models in ``models/``.

Both the demo and training use this package, so it imports neither: it
knows joint layouts and nothing about videos or datasets.
"""

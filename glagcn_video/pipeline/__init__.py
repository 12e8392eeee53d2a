"""The demo's stages and their wiring: a video in, tracked people's 2D and 3D out.

May import every other part of the package but ``cli``; no stage imports ``runner.py``.

Stages, in order: ``video.py`` (decoding, encoding), ``detect.py`` (YOLO
pose, run by ``detect_openvino.py`` on the CPU), ``track.py`` with
``refine.py`` (a second look at small people), ``shots.py`` (shot cuts)
and ``stitch.py`` (one ID per person), ``keypoints.py`` (COCO-17 to
Human3.6M, cleaning), ``timebase.py`` (to the lifter's 50 fps and back),
``lift.py`` (the training data's body size; the lifting itself is
``glagcn_video.lifter``). Placing people in the world is ``glagcn_video.world``,
the files a run writes ``glagcn_video.exports``, the pictures
``glagcn_video.view``. ``runner.py`` wires the stages together (``run_demo``)
and is the only module that knows them all; ``batch.py`` runs it on many
videos.

The stages pass plain arrays and dataclasses and never import the runner
(only ``batch.py``, above it, does), so each can be tested or replaced
alone; the lifter never imports this package.
"""

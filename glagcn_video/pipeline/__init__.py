"""The demo: a video of people in, 3D skeletons out, one module per stage.

Stages, in order: ``video.py`` (decoding, encoding), ``detect.py`` (YOLO
pose, run by ``detect_openvino.py`` on the CPU), ``track.py`` with
``refine.py`` (a second look at small people), ``shots.py`` (shot cuts)
and ``stitch.py`` (one ID per person), ``keypoints.py`` (COCO-17 to
Human3.6M, cleaning), ``timebase.py`` (to the lifter's 50 fps and back),
``lift.py`` (the training data's body size; the lifting itself is
``glagcn_video.lifter``), ``position.py`` (placing people in camera
space), ``render.py`` (with ``view.py``, the 3D panel's layouts),
``export.py`` (CSV, NPZ) and ``html_viewer.py`` (the interactive page);
``world.py`` finds the ground under the people and a Y-up world frame for
what shows or exports 3D. ``outputs.py`` writes every requested export in its
axes: ``bvh.py`` (animation), ``markers.py`` (TRC, C3D), ``angles.py`` (joint
angles). ``runner.py`` wires the stages together (``run_demo``), and is the
only module that knows them all; ``batch.py`` runs it on many videos.

The stages pass plain arrays and dataclasses and never import the runner
(only ``batch.py``, above it, does), so each can be tested or replaced
alone; the lifter never imports this package.
"""

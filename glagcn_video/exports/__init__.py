"""Every file a run writes (CSV, NPZ, BVH, TRC, C3D, joint angles) and ``formats.py``, the table of them.

May import the top-level vocabulary and ``world``, never ``pipeline`` (a stage calls an export, not the reverse).
"""

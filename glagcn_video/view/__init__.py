"""The pictures: the 2D overlay and 3D panel of the output video (``render``, ``layouts``) and the HTML viewer.

May import the top-level vocabulary and ``world``, never ``pipeline``.
"""

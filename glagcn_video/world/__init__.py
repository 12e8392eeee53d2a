"""People in the world: the ground under them, a Y-up world frame, and placing each person in it.

Imports only the package's top-level vocabulary (skeleton, camera, files, tracks); the stages, exports and views build on it.
"""

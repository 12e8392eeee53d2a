"""People in the world: the ground and a Y-up frame, placement, foot contacts, filters, foot locking.

Imports only the package's top-level vocabulary (skeleton, camera, files, tracks); the stages,
exports and views build on it.
"""

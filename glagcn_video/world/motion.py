"""People moving in the world: placement, ground, contacts, filtering and foot locking, in order.

Input: each lifted person in camera axes (pelvis-relative poses, a body-size
root placement, the 2D keypoints). Output: the world frame and each person's
final camera-space joints with their foot contacts. Everything downstream
(the video's 3D panel, the viewer, every export) reads these joints, in
camera axes or through the world frame, so all of them agree.

1. The ground from the body-size placement (frame.py); contacts on it
   (contacts.py), found on the motion with its depth smoothed over
   :data:`CONTACT_DEPTH_SMOOTH_S`: depth is the coordinate that jitters, and a
   whole body sliding along its ray by a few centimetres a frame would look
   like a moving foot.
2. ``placement="ground"``: each person's depth from their planted feet
   (placement.place_on_ground), the ground fitted again to the placed people,
   contacts again, placed again.
3. The world joints filtered (filters.py, bone lengths kept).
4. With ``foot_lock``, the planted feet locked on the ground (locking.py);
   the body hangs from them, which also holds a standing person's depth still.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..skeleton import H36M, Layout
from .contacts import ankle_indices, foot_contacts
from .filters import SMOOTHERS, smooth_joints
from .frame import ANKLE_HEIGHT, WorldFrame, estimate_world_frame
from .locking import lock_feet
from .placement import MIN_DEPTH, place_on_ground, smooth_depth

PLACEMENTS = ("ground", "size")
PLACEMENT_ROUNDS = 2  # ground from the people, people on the ground, and once more
CONTACT_DEPTH_SMOOTH_S = 0.5  # seconds (Gaussian sigma) of depth smoothing for finding contacts


@dataclass(frozen=True)
class WorldOptions:
    """How people are put into the world (docs/outputs.md, "Contacts, locking and filters")."""

    # The defaults are what benchmarks/bench_world.py measured best (BENCHMARKS.md).
    placement: str = "size"  # "ground": depth from the planted feet; "size": from body size alone
    foot_lock: bool = True
    smooth: str = "butterworth"  # one of filters.SMOOTHERS
    smooth_hz: float | None = None  # the filter's cut-off; None: filters.DEFAULT_CUTOFF_HZ

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"unknown placement {self.placement!r}; use one of {', '.join(PLACEMENTS)}")
        if self.smooth not in SMOOTHERS:
            raise ValueError(f"unknown smoother {self.smooth!r}; use one of {', '.join(SMOOTHERS)}")
        if self.smooth_hz is not None and not self.smooth_hz > 0:
            raise ValueError(f"the smoothing cut-off must be positive, not {self.smooth_hz}")


@dataclass(frozen=True)
class Body:
    """One lifted person, camera axes: ``poses`` (F, J, 3) pelvis-relative
    metres, ``root`` (F, 3) the body-size placement, ``keypoints`` (F, J, 2)
    pixels and ``scores`` (F, J) the 2D detections."""

    poses: np.ndarray
    root: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class Placed:
    """One person's final ``joints`` (F, J, 3) in camera axes and ``contacts``
    (F, 2), planted feet per frame (contacts.FEET order)."""

    joints: np.ndarray
    contacts: np.ndarray


def settle(bodies: Sequence[Body], focal: float, center: tuple[float, float], fps: float,
           options: WorldOptions = WorldOptions(), layout: Layout = H36M) -> tuple[WorldFrame, list[Placed]]:
    """The world frame and every person placed in it (module docstring); the
    first body is the first person to appear (the world's origin is under them)."""
    roots = [b.root.astype(np.float64) for b in bodies]
    world = estimate_world_frame([b.poses + r[:, None] for b, r in zip(bodies, roots)], layout)
    contacts = _contacts(bodies, roots, world, fps, layout)
    if options.placement == "ground":
        ankles = ankle_indices(layout)
        for _ in range(PLACEMENT_ROUNDS):
            roots = [place_on_ground(b.poses, b.root, b.keypoints, b.scores, c, ankles, world.ground, focal,
                                     center) for b, c in zip(bodies, contacts)]
            world = estimate_world_frame([b.poses + r[:, None] for b, r in zip(bodies, roots)], layout)
            contacts = _contacts(bodies, roots, world, fps, layout)
    placed = []
    for body, root, planted in zip(bodies, roots, contacts):
        placed_joints = body.poses + root[:, None]
        joints = smooth_joints(world.to_world(placed_joints), fps, options.smooth, options.smooth_hz, layout)
        if options.foot_lock:
            joints = lock_feet(joints, planted, fps, layout, floor=ANKLE_HEIGHT)
        joints = world.to_camera(joints)
        # A pose so wrong (a random or mis-lifted one) that filtering and locking would
        # take its pelvis behind the camera is left where placement put it.
        if not (joints[:, 0, 2] >= MIN_DEPTH).all():
            joints = placed_joints.astype(np.float32)
        placed.append(Placed(joints, planted))
    return world, placed


def _contacts(bodies: Sequence[Body], roots: list[np.ndarray], world: WorldFrame, fps: float,
              layout: Layout) -> list[np.ndarray]:
    """Each body's contacts, on its motion with the depth smoothed (step 1)."""
    return [foot_contacts(world.to_world(b.poses + smooth_depth(r, fps, CONTACT_DEPTH_SMOOTH_S)[:, None]), fps,
                          layout) for b, r in zip(bodies, roots)]

"""Foot locking: a planted foot stays where it landed, with no bone changing length.

For each contact (contacts.py) the ankle's target is where it stood: the
median of its positions over the contact, robust to the frames' jitter, and,
given a ``floor``, at the floor's height: a planted foot is on the ground,
not under it or above it. Every frame, each foot is pulled
towards its target with a weight that is 1 for the whole contact and ramps
smoothly to 0 over :data:`BLEND_S` before landing and after lift-off, so
nothing pops. The pull is taken up in two ways, as a motion editor would:

1. the whole body moves by the weighted mean of the feet's pulls (with one
   foot down the body hangs from it; with both, it moves halfway);
2. what remains for each leg is taken up by the knee, by two-bone inverse
   kinematics: hip fixed, thigh and shin lengths kept, the knee bending in
   the plane it bent in before. If a target is out of the leg's reach the
   body moves the rest of the way, and the legs are solved again.

Translations and the two-bone solution keep every bone's length (to float
rounding), so BVH rotations and joint angles stay valid.
"""

from __future__ import annotations

import numpy as np

from ..skeleton import H36M, Layout
from .contacts import FEET, contact_runs

BLEND_S = 0.1  # seconds over which a lock fades in before landing and out after lift-off
_REACH = 0.999  # a leg is never stretched quite straight: the knee keeps a direction


def _legs(layout: Layout) -> list[tuple[int, int, int]]:
    """(hip, knee, ankle) joint indices per foot of :data:`FEET`."""
    index = layout.joint_names.index
    return [(index(f"{side}_hip"), index(f"{side}_knee"), index(f"{side}_ankle"))
            for side in (name.split("_")[0] for name in FEET)]


def _ramp(frames: np.ndarray, start: int, stop: int, blend: float) -> np.ndarray:
    """1 on [start, stop), smoothstep down to 0 within ``blend`` frames either side."""
    before = np.clip((frames - (start - blend)) / blend, 0, 1)
    after = np.clip(((stop - 1 + blend) - frames) / blend, 0, 1)
    ramp = np.minimum(before, after)
    return ramp * ramp * (3 - 2 * ramp)


def lock_pulls(ankles: np.ndarray, contacts: np.ndarray, fps: float,
               floor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per foot, (F, 3) the pull towards its targets and (F,) its weight.

    ``ankles`` (F, 3) one foot's world positions, ``contacts`` (F,) bools,
    ``floor`` the world height of a planted ankle (None: where it was)."""
    frames = np.arange(len(ankles), dtype=np.float64)
    blend = max(BLEND_S * fps, 1.0)
    pull_sum = np.zeros_like(ankles, dtype=np.float64)
    weight = np.zeros(len(ankles))
    for start, stop in contact_runs(contacts):
        target = np.median(ankles[start:stop], axis=0)
        if floor is not None:
            target[1] = floor
        ramp = _ramp(frames, start, stop, blend)
        pull_sum += ramp[:, None] * (target - ankles)
        weight += ramp
    # Overlapping fades of two contacts: their pulls are averaged, not added.
    pull = pull_sum / np.maximum(weight, 1.0)[:, None]
    return pull, np.minimum(weight, 1.0)


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray,
                target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(knee, ankle) moved so the ankle reaches ``target`` (all (F, 3)), thigh
    and shin lengths kept, the knee in the plane of hip, target and its old
    position; an unreachable target is approached as far as the leg allows."""
    thigh = np.linalg.norm(knee - hip, axis=-1)
    shin = np.linalg.norm(ankle - knee, axis=-1)
    to_target = target - hip
    distance = np.linalg.norm(to_target, axis=-1)
    reach = np.clip(distance, np.abs(thigh - shin) + 1e-6, (thigh + shin) * _REACH)
    axis = to_target / np.maximum(distance, 1e-9)[:, None]
    # The bending direction: the knee's offset from the old hip-ankle line, made
    # square to the new one, so the knee keeps bending the way it did.
    old_axis = (ankle - hip) / np.maximum(np.linalg.norm(ankle - hip, axis=-1), 1e-9)[:, None]
    bend = (knee - hip) - np.einsum("fd,fd->f", knee - hip, old_axis)[:, None] * old_axis
    bend = bend - np.einsum("fd,fd->f", bend, axis)[:, None] * axis
    fallback = np.cross(axis, np.array([1.0, 0.0, 0.0]))
    bend = np.where(np.linalg.norm(bend, axis=-1, keepdims=True) > 1e-6, bend, fallback)
    bend /= np.linalg.norm(bend, axis=-1, keepdims=True)
    cos_hip = np.clip((thigh ** 2 + reach ** 2 - shin ** 2) / (2 * thigh * reach), -1, 1)
    new_knee = hip + thigh[:, None] * (cos_hip[:, None] * axis + np.sqrt(1 - cos_hip ** 2)[:, None] * bend)
    new_ankle = hip + reach[:, None] * axis
    return new_knee, new_ankle


def lock_feet(joints: np.ndarray, contacts: np.ndarray, fps: float, layout: Layout = H36M,
              floor: float | None = None) -> np.ndarray:
    """One person's world joints (F, J, 3) with planted feet locked (module docstring).

    ``contacts`` (F, 2) per foot of :data:`FEET`; ``floor`` the height planted
    ankles are put at (None: their own)."""
    joints = np.asarray(joints, np.float64)
    legs = _legs(layout)
    pulls, weights = zip(*(lock_pulls(joints[:, ankle], contacts[:, foot], fps, floor)
                           for foot, (_, _, ankle) in enumerate(legs)))
    if not any(w.any() for w in weights):
        return joints.astype(np.float32)
    wanted = [joints[:, ankle] + pull for (_, _, ankle), pull in zip(legs, pulls)]
    total = sum(weights)
    shift = sum(w[:, None] * p for w, p in zip(weights, pulls)) / np.maximum(total, 1.0)[:, None]
    out = joints + shift[:, None]
    for _ in range(2):  # a second pass when a leg could not reach
        miss = np.zeros_like(shift)
        for (hip, knee, ankle), target, w in zip(legs, wanted, weights):
            moving = w > 0
            knee_at, ankle_at = two_bone_ik(out[moving, hip], out[moving, knee], out[moving, ankle],
                                            target[moving])
            out[moving, knee], out[moving, ankle] = knee_at, ankle_at
            miss[moving] += w[moving, None] * (target[moving] - ankle_at)
        miss /= np.maximum(total, 1.0)[:, None]
        if np.abs(miss).max() < 1e-4:
            break
        out += miss[:, None]
    return out.astype(np.float32)

"""When each foot is on the ground: planted or not, per foot and frame.

A foot is planted when its ankle is near the person's floor level and barely
moving horizontally. Both tests have hysteresis (a contact starts under the
lower thresholds and ends only past the higher ones), and contacts or gaps
shorter than :data:`MIN_CONTACT_S` are dropped, so a contact does not flicker
with a few millimetres of keypoint jitter. The speed is measured on the
ankle's path low-pass filtered at :data:`SPEED_CUTOFF_HZ`: a frame-to-frame
difference of raw lifted joints is mostly noise.

The floor level is the person's own (a low percentile of their lower ankle's
height), not the fitted ground's zero: a person standing on a step, or placed
a few centimetres off by the depth estimate, still has contacts, and placement
(placement.py) then puts them on the ground.
"""

from __future__ import annotations

import numpy as np

from ..skeleton import H36M, Layout
from .filters import butterworth

FEET = ("right_ankle", "left_ankle")  # the order of the contact columns everywhere
ON_HEIGHT_M = 0.04  # a contact starts with the ankle this close to the floor level...
OFF_HEIGHT_M = 0.07  # ...and ends when it rises past this
ON_SPEED_MS = 0.25  # horizontal ankle speed under which a contact may start...
OFF_SPEED_MS = 0.5  # ...and over which it ends
MIN_CONTACT_S = 0.08  # shorter contacts, and shorter gaps between two contacts, are dropped
FLOOR_PERCENTILE = 10  # of the lower ankle's height: the person's floor level
SPEED_CUTOFF_HZ = 6.0


def ankle_indices(layout: Layout = H36M) -> list[int]:
    """The joints of :data:`FEET` in ``layout``."""
    return [layout.joint_names.index(name) for name in FEET]


def floor_level(joints: np.ndarray, layout: Layout = H36M) -> float:
    """A person's floor level (world y of a planted ankle) from (F, J, 3) Y-up joints."""
    lower = joints[:, ankle_indices(layout), 1].min(axis=1)
    lower = lower[np.isfinite(lower)]
    return float(np.percentile(lower, FLOOR_PERCENTILE)) if len(lower) else 0.0


def ankle_speed(joints: np.ndarray, fps: float, layout: Layout = H36M) -> np.ndarray:
    """(F, 2) horizontal speed of each ankle, m/s, on the low-passed path."""
    ankles = joints[:, ankle_indices(layout)][..., [0, 2]].astype(np.float64)
    if len(ankles) < 2:
        return np.zeros(ankles.shape[:2])
    smooth = butterworth(ankles, fps, SPEED_CUTOFF_HZ)
    return np.linalg.norm(np.gradient(smooth, axis=0), axis=-1) * fps


def _hysteresis(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """On where ``low`` holds, staying on until ``high`` fails: (F,) bools."""
    state = np.zeros(len(low), bool)
    on = False
    for i in range(len(low)):
        on = high[i] if on else low[i]
        state[i] = on
    return state


def _runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, stop, value) for each run of equal values."""
    if not len(mask):
        return []
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(mask)]])
    return [(int(a), int(b), bool(mask[a])) for a, b in zip(starts, stops)]


def _drop_short(mask: np.ndarray, min_frames: int) -> np.ndarray:
    """Fill gaps shorter than ``min_frames`` between contacts, then drop contacts that short."""
    out = mask.copy()
    runs = _runs(out)
    for k, (a, b, value) in enumerate(runs):
        if not value and 0 < k < len(runs) - 1 and b - a < min_frames:
            out[a:b] = True
    for a, b, value in _runs(out):
        if value and b - a < min_frames:
            out[a:b] = False
    return out


def foot_contacts(joints: np.ndarray, fps: float, layout: Layout = H36M) -> np.ndarray:
    """(F, 2) bools, one column per foot of :data:`FEET`: planted or not.

    ``joints`` (F, J, 3) one person's consecutive frames in world axes (Y up,
    metres). See the module docstring for the rule."""
    joints = np.asarray(joints, np.float64)
    contacts = np.zeros((len(joints), len(FEET)), bool)
    if len(joints) < 2 or not np.isfinite(joints).all():
        return contacts
    height = joints[:, ankle_indices(layout), 1] - floor_level(joints, layout)
    speed = ankle_speed(joints, fps, layout)
    min_frames = max(1, int(round(MIN_CONTACT_S * fps)))
    for foot in range(len(FEET)):
        low = (height[:, foot] < ON_HEIGHT_M) & (speed[:, foot] < ON_SPEED_MS)
        high = (height[:, foot] < OFF_HEIGHT_M) & (speed[:, foot] < OFF_SPEED_MS)
        contacts[:, foot] = _drop_short(_hysteresis(low, high), min_frames)
    return contacts


def contact_runs(contacts: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) frame ranges of one foot's contacts, (F,) bools."""
    return [(a, b) for a, b, value in _runs(np.asarray(contacts, bool)) if value]

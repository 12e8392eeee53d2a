"""Trajectory filters for world joints, with every bone keeping its length.

Two filters, as in Sports2D and Pose2Sim:

- ``butterworth``: zero-phase (forward and backward) low-pass Butterworth
  from ``scipy.signal``; the whole clip is known, so no lag. Sports2D's
  default is 4th order at 6 Hz.
- ``oneeuro``: the One Euro filter (Casiez et al., CHI 2012) through its
  authors' ``OneEuroFilter`` package: causal (each frame from the past only),
  adaptive (more smoothing when slow, less lag when fast), for live input.

A low-pass filter shortens limbs on curved paths (it averages positions on an
arc), so :func:`keep_bone_lengths` then sets each bone to its length, along
its filtered direction, from the pelvis outwards. A bone's length is its
median over the person's frames: the lifter's lengths jitter with the 2D
keypoints (at 5 px noise that jitter alone is most of the joints' frame-to-
frame acceleration), a person's bones do not change.
"""

from __future__ import annotations

import numpy as np
from OneEuroFilter import OneEuroFilter
from scipy.signal import butter, filtfilt

from ..skeleton import H36M, Layout

SMOOTHERS = ("none", "butterworth", "oneeuro")
# Butterworth at 2 Hz: the lowest W-MPJPE on Human3.6M at 5 px among the cut-offs whose
# joint acceleration stays under twice the motion capture's (bench_world.py, BENCHMARKS.md;
# Sports2D's default is 6 Hz, which leaves three times the motion capture's acceleration).
DEFAULT_CUTOFF_HZ = {"butterworth": 2.0, "oneeuro": 1.0}  # One Euro: its minimum cut-off
BUTTERWORTH_ORDER = 4
ONEEURO_BETA = 0.7  # One Euro's speed coefficient, for positions in metres


def butterworth(values: np.ndarray, fps: float, cutoff_hz: float,
                order: int = BUTTERWORTH_ORDER) -> np.ndarray:
    """Zero-phase low-pass of ``values`` (F, ...) along time. Sequences too short
    for the filter's padding, or a cut-off at or above Nyquist, come back unchanged."""
    values = np.asarray(values, np.float64)
    nyquist = fps / 2
    b, a = butter(order, min(cutoff_hz / nyquist, 0.99), btype="low")
    if cutoff_hz >= nyquist or len(values) <= 3 * max(len(a), len(b)):
        return values.copy()
    return filtfilt(b, a, values, axis=0)


def one_euro(values: np.ndarray, fps: float, min_cutoff_hz: float, beta: float = ONEEURO_BETA) -> np.ndarray:
    """Causal One Euro filter of ``values`` (F, ...) along time, each coordinate on its own."""
    values = np.asarray(values, np.float64)
    flat = values.reshape(len(values), -1)
    out = np.empty_like(flat)
    for column in range(flat.shape[1]):
        filt = OneEuroFilter(fps, mincutoff=min_cutoff_hz, beta=beta)
        out[:, column] = [filt(float(v), i / fps) for i, v in enumerate(flat[:, column])]
    return out.reshape(values.shape)


def keep_bone_lengths(filtered: np.ndarray, original: np.ndarray, layout: Layout = H36M) -> np.ndarray:
    """``filtered`` (F, J, 3) with each bone set to its median length in
    ``original`` (same shape), keeping the filtered root and bone directions."""
    out = np.array(filtered, np.float64)
    original = np.asarray(original, np.float64)
    # Parents come before children in the layout, so one pass rebuilds the chain.
    for child, parent in enumerate(layout.parents):
        if parent < 0:
            continue
        direction = filtered[:, child] - filtered[:, parent]
        norm = np.linalg.norm(direction, axis=-1, keepdims=True)
        length = np.median(np.linalg.norm(original[:, child] - original[:, parent], axis=-1))
        unit = np.divide(direction, norm, out=np.zeros_like(direction), where=norm > 1e-9)
        out[:, child] = out[:, parent] + unit * length
    return out


def smooth_joints(joints: np.ndarray, fps: float, method: str, cutoff_hz: float | None = None,
                  layout: Layout = H36M) -> np.ndarray:
    """One person's world joints (F, J, 3) filtered by ``method`` (one of
    :data:`SMOOTHERS`) at ``cutoff_hz`` (default :data:`DEFAULT_CUTOFF_HZ`),
    each bone at its median length (:func:`keep_bone_lengths`)."""
    if method not in SMOOTHERS:
        raise ValueError(f"unknown smoother {method!r}; use one of {', '.join(SMOOTHERS)}")
    if method == "none" or len(joints) < 2:
        return np.asarray(joints, np.float32).copy()
    cutoff = cutoff_hz or DEFAULT_CUTOFF_HZ[method]
    filtered = (butterworth(joints, fps, cutoff) if method == "butterworth"
                else one_euro(joints, fps, cutoff))
    return keep_bone_lengths(filtered, joints, layout).astype(np.float32)

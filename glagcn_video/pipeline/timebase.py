"""Between the video's frame times and the 50 fps the lifter was trained at.

GLA-GCN learned Human3.6M motion sampled at 50 fps: a 243-frame window means
4.86 s of motion to it. Fed 24 fps video directly, every movement would look
twice as fast and the window would cover twice the time. So each track is
resampled to 50 fps before lifting and the lifted poses back to the video's
frame times afterwards (linear interpolation: motion is smooth at these rates).
"""

from __future__ import annotations

import math

import numpy as np

MODEL_FPS = 50.0


def model_times(times: np.ndarray, model_fps: float = MODEL_FPS) -> np.ndarray:
    """A ``model_fps`` grid from ``times[0]`` that reaches ``times[-1]``.

    The grid's last point is at or past the last frame time, so mapping back
    interpolates every frame instead of extrapolating the end.
    """
    steps = math.ceil(round((times[-1] - times[0]) * model_fps, 9))
    return times[0] + np.arange(steps + 1) / model_fps


def _interpolation(times: np.ndarray, new_times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``new_times``: the indices of the two ``times`` it is drawn
    between and the weight of the second (see :func:`resample`)."""
    hi = np.clip(np.searchsorted(times, new_times, side="right"), 1, len(times) - 1)
    lo = hi - 1
    return lo, hi, (new_times - times[lo]) / (times[hi] - times[lo])


def resample(values: np.ndarray, times: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Linear interpolation of (F, ...) ``values`` sampled at ascending
    ``times`` to ``new_times`` (K,), for any trailing shape at once.

    Times just outside the samples continue the first or last segment's line:
    the 50 fps grid ends up to one step past the last frame, and holding the
    last value there would drag the last frame towards a standstill on the
    way back. A single sample is simply repeated.
    """
    values = np.asarray(values)
    if len(times) == 1:
        return np.repeat(values, len(new_times), axis=0)
    lo, hi, weight = _interpolation(times, new_times)
    weight = weight.reshape(-1, *([1] * (values.ndim - 1)))
    return (values[lo] * (1 - weight) + values[hi] * weight).astype(values.dtype)


def samples_used(times: np.ndarray, new_times: np.ndarray, tolerance: float = 1e-6) -> np.ndarray:
    """The ascending indices of the ``times`` whose values ``resample(values,
    times, new_times)`` weighs by more than ``tolerance``: the only ones it
    needs. Lifting computes just these: at 25 fps every frame falls on the
    50 fps grid, so half of the grid's poses are never used."""
    if len(times) == 1:
        return np.zeros(1, np.int64)
    lo, hi, weight = _interpolation(times, new_times)
    return np.unique(np.concatenate([lo[weight < 1 - tolerance], hi[weight > tolerance]]))

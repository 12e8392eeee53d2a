"""Resampling tracks to the lifter's 50 fps and back."""

from __future__ import annotations

import numpy as np
import pytest

from glagcn_video.pipeline.timebase import MODEL_FPS, model_times, resample, samples_used


def test_grid_is_50fps_and_covers_the_last_frame():
    times = np.arange(25) / 24.0
    grid = model_times(times)
    np.testing.assert_allclose(np.diff(grid), 1 / MODEL_FPS)
    assert grid[0] == times[0] and grid[-1] >= times[-1] > grid[-2]


def test_grid_of_an_exact_50fps_track_is_the_track():
    times = 3.0 + np.arange(40) / 50.0
    np.testing.assert_allclose(model_times(times), times)


@pytest.mark.parametrize("fps", [23.976, 30.0, 60.0])
def test_round_trip_recovers_a_smooth_signal(fps):
    """A 1 Hz sine in (F, 17, 3) goes to 50 fps and back with only linear-interpolation error."""
    times = np.arange(int(4 * fps)) / fps
    phases = np.linspace(0, 1, 17 * 3).reshape(17, 3)
    signal = np.sin(2 * np.pi * (times[:, None, None] + phases))
    grid = model_times(times)
    at_50 = resample(signal, times, grid)
    inside = grid <= times[-1]  # the grid's last point may lie just past the last frame
    np.testing.assert_allclose(at_50[inside], np.sin(2 * np.pi * (grid[inside, None, None] + phases)),
                               atol=0.01)
    back = resample(at_50, grid, times)
    np.testing.assert_allclose(back, signal, atol=0.02)
    assert back.shape == signal.shape


def test_linear_signals_are_exact_also_just_past_the_ends():
    times = np.array([0.0, 0.1, 0.3])
    values = np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 40.0]])
    out = resample(values, times, np.array([-0.01, 0.0, 0.05, 0.2, 0.3, 0.31]))
    np.testing.assert_allclose(out, [[0.9, 9], [1, 10], [1.5, 15], [3, 30], [4, 40], [4.1, 41]])


def test_one_frame_track():
    times = np.array([2.5])
    grid = model_times(times)
    assert grid.tolist() == [2.5]
    value = np.ones((1, 17, 2))
    np.testing.assert_array_equal(resample(value, times, grid), value)


@pytest.mark.parametrize("fps, share", [(25.0, 0.5), (50.0, 1.0), (30.0, 1.0), (23.976, 0.96)])
def test_resampling_back_reads_only_the_grid_frames_it_needs(fps, share):
    """At 25 fps every frame sits on the 50 fps grid: half the grid is never read."""
    times = 1.0 + np.arange(int(3 * fps)) / fps
    grid = model_times(times)
    used = samples_used(grid, times)
    assert len(used) == pytest.approx(share * len(grid), abs=2)
    values = np.random.default_rng(0).normal(size=(len(grid), 17, 3))
    only_used = np.zeros_like(values)
    only_used[used] = values[used]
    np.testing.assert_allclose(resample(only_used, grid, times), resample(values, grid, times), atol=1e-5)
    assert samples_used(np.array([2.5]), np.array([2.5])).tolist() == [0]

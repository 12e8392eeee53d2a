"""Wiring of the stages: a track through lifting and placement, and the export rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from demo_support import moving_square_clip
from glagcn_video.pipeline.detect import Detections
from glagcn_video.lifter.inference import Lifter
from glagcn_video.pipeline.runner import DemoResult, Person, StageClock, detect_and_track, lift_track
from glagcn_video.pipeline.track import PersonTracker
from glagcn_video.tracks import Track
from glagcn_video.pipeline.video import VideoInfo, VideoReader

VIDEO = VideoInfo(Path("clip.mp4"), width=1280, height=720, fps=30.0, header_frames=30, is_image=False)


def standing_pose() -> np.ndarray:
    rng = np.random.default_rng(0)
    pose = rng.normal(scale=0.3, size=(17, 3)).astype(np.float32)
    return pose - pose[0]


class Oracle:
    """A 'lifter' that knows the answer: the person never moves, so it returns their pose.
    It records the windows it was given, to check what reaches the model."""

    def __init__(self, pose: np.ndarray):
        self.pose = torch.as_tensor(pose)
        self.inputs: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x)
        return self.pose.expand(len(x), 1, 17, 3)


def test_a_static_person_is_lifted_and_placed_where_they_stand():
    pose, translation, focal = standing_pose(), np.array([0.3, -0.1, 4.0], np.float32), 1000.0
    points = pose + translation
    pixels = points[:, :2] / points[:, 2:] * focal + np.array([640, 360])
    frames = np.arange(10, 40)
    track = Track(5, frames, np.repeat(pixels[None], 30, 0).astype(np.float32), np.ones((30, 17), np.float32))
    oracle = Oracle(pose + 0.05)  # a model whose pelvis is not exactly at 0
    person = lift_track(track, Lifter(oracle, receptive_field=9, tta=False), VIDEO, focal)

    windows = torch.cat(oracle.inputs)
    assert windows.shape == (math.ceil(29 / 30 * 50) + 1, 9, 17, 2)  # the track resampled to 50 fps
    np.testing.assert_allclose(windows[0, 0, 0].numpy(), pixels[0] / 1280 * 2 - [1, 720 / 1280], atol=1e-5)
    assert person.person_id == 5 and person.frames.tolist() == frames.tolist()
    np.testing.assert_allclose(person.poses_3d, np.repeat(pose[None], 30, 0), atol=1e-5)
    np.testing.assert_allclose(person.root, np.repeat(translation[None], 30, 0), atol=1e-3)
    np.testing.assert_allclose(person.joints_3d[7], points, atol=1e-3)


class Recorded(torch.nn.Module):
    """A random linear map from a 9-frame window to 3D that counts the windows it lifts."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(9 * 17 * 2, 17 * 3)
        self.windows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.windows += len(x)
        return self.linear(x.flatten(1)).view(len(x), 1, 17, 3)


class EveryGridFrame(Lifter):
    """Lifts every frame of the 50 fps grid, then hands back the ones asked for."""

    def __call__(self, keypoints: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        return super().__call__(keypoints)[frames]


def test_at_25_fps_only_the_grid_frames_on_video_frames_are_lifted():
    rng = np.random.default_rng(3)
    pixels = (np.array([640, 360]) + rng.normal(scale=40, size=(50, 17, 2))).astype(np.float32)
    track = Track(1, np.arange(50), pixels, np.ones((50, 17), np.float32))
    video = VideoInfo(Path("pal.mp4"), width=1280, height=720, fps=25.0, header_frames=50, is_image=False)
    model, baseline = Recorded(), Recorded()
    person = lift_track(track, Lifter(model, receptive_field=9), video, 1000.0)
    everything = lift_track(track, EveryGridFrame(baseline, receptive_field=9), video, 1000.0)
    assert baseline.windows == 2 * 99 and model.windows == 2 * 50  # with TTA: 99 grid frames, 50 on frames
    np.testing.assert_allclose(person.poses_3d, everything.poses_3d, atol=1e-6)
    np.testing.assert_allclose(person.root, everything.root, atol=1e-5)


def person(person_id: int, frames: list[int]) -> Person:
    n = len(frames)
    return Person(person_id, np.array(frames), np.full((n, 17, 2), person_id, np.float32),
                  np.ones((n, 17), np.float32), np.zeros((n, 17, 3), np.float32),
                  np.tile(np.array([[person_id, 0, 3]], np.float32), (n, 1)))


def test_rows_are_sorted_by_frame_then_person_and_carry_camera_space_joints():
    result = DemoResult(VIDEO, 10, 1000.0, [person(9, [2, 3, 4]), person(4, [3, 4, 5])], raw_tracks=[])
    rows = result.rows()
    assert list(zip(rows.frame.tolist(), rows.person_id.tolist())) == [
        (2, 9), (3, 4), (3, 9), (4, 4), (4, 9), (5, 4)]
    np.testing.assert_allclose(rows.time_s, rows.frame / 30.0)
    np.testing.assert_array_equal(rows.joints_3d[:, 0, 0], rows.person_id)  # root x was set to the ID
    np.testing.assert_array_equal(rows.joints_2d[:, 0, 0], rows.person_id)
    assert result.person_ids == [4, 9]
    assert len(DemoResult(VIDEO, 10, 1000.0, [], []).rows().frame) == 0


def square_left_edge(frame: np.ndarray) -> float:
    """Where the moving square of ``moving_square_clip`` starts, in pixels from the left."""
    return float(np.argmax(frame[20, :, 0] < 50))


class ScriptedDetector:
    """Stands in for the YOLO detector: finds one 'person' at the moving square
    of each frame; records how many frames each call got."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        self.calls.append(len(frames))
        found = []
        for frame in frames:
            x = square_left_edge(frame)
            keypoints = np.stack([np.linspace(x, x + 20, 17), np.linspace(5, 55, 17)], axis=1)
            found.append(Detections(np.array([[x, 5, x + 20, 55]], np.float32), np.array([0.9], np.float32),
                                    keypoints[None].astype(np.float32), np.full((1, 17), 0.8, np.float32)))
        return found


def test_frames_are_detected_in_batches_and_tracked_in_order(tmp_path):
    clip = moving_square_clip(tmp_path / "clip.mp4", num_frames=7)
    results = {}
    for batch in (1, 3):
        detector = ScriptedDetector()
        tracks, frames, cuts = detect_and_track(VideoReader(clip), detector, PersonTracker(fps=25.0),
                                          StageClock({}), progress=False, batch=batch)
        assert frames == 7 and cuts == []
        assert detector.calls == ([1] * 7 if batch == 1 else [3, 3, 1])
        results[batch] = tracks
    (one,), (batched,) = results[1], results[3]
    assert one.frames.tolist() == batched.frames.tolist() and len(one.frames) >= 6
    np.testing.assert_array_equal(one.keypoints, batched.keypoints)
    # each frame index carries the detection made on that frame
    edges = [square_left_edge(frame) for frame in VideoReader(clip)]
    assert len(set(edges)) == 7
    np.testing.assert_array_equal(batched.keypoints[:, 0, 0], np.array(edges)[batched.frames])

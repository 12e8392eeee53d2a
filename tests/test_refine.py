"""Top-down refinement: crops map back exactly, large people's keypoints stay where they were."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from demo_support import real_detector_or_skip, shared_video
from glagcn_video.pipeline.detect import PoseDetector
from glagcn_video.pipeline.refine import (CropTransform, Refiner, crop_transform, cut, merge_keypoints)
from glagcn_video.pipeline.video import VideoReader


def coordinate_image(height: int, width: int) -> np.ndarray:
    """A float image whose two channels hold each pixel centre's continuous x and y."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    return np.dstack([x, y, np.zeros_like(x)])


@pytest.mark.parametrize("box", [(100.0, 50.0, 160.0, 250.0), (10.5, 20.25, 300.0, 90.0), (0.0, 0.0, 17.0, 40.0)])
def test_a_crop_is_the_transform_it_claims(box):
    image = coordinate_image(360, 640)
    transform = crop_transform(np.array(box), size=(96, 128), enlarge=1.25)
    crop = cut(image, transform, size=(96, 128))
    v, u = np.mgrid[0:128, 0:96].astype(np.float64) + 0.5
    expected = transform.to_frame(np.stack([u, v], axis=-1))
    inside = ((expected >= 1) & (expected <= [[[639, 359]]])).all(axis=-1)  # bilinear needs both neighbours
    assert inside.mean() > 0.3
    np.testing.assert_allclose(crop[..., :2][inside], expected[inside], atol=1e-3)
    # and the box fills the crop as asked: 1.25x in its longer direction (relative to the crop's shape)
    corners = transform.to_crop(np.array(box).reshape(2, 2))
    size = corners[1] - corners[0]
    assert max(size[0] / 96, size[1] / 128) == pytest.approx(1 / 1.25)
    np.testing.assert_allclose(corners.mean(axis=0), [48, 64])


def test_to_crop_and_to_frame_are_inverse():
    transform = CropTransform(2.5, (-3.0, 7.25))
    points = np.array([[0.0, 0.0], [10.0, -4.5], [100.25, 3.0]])
    np.testing.assert_allclose(transform.to_frame(transform.to_crop(points)), points)
    np.testing.assert_allclose(transform.to_crop(points)[1], [(10 + 3) * 2.5, (-4.5 - 7.25) * 2.5])


def test_each_keypoint_keeps_the_more_confident_estimate():
    frame_kpt, crop_kpt = np.zeros((17, 2)), np.ones((17, 2))
    frame_scores = np.linspace(0, 1, 17)
    crop_scores = np.full(17, 0.5)
    keypoints, scores = merge_keypoints(frame_kpt, frame_scores, crop_kpt, crop_scores)
    np.testing.assert_array_equal(keypoints[:, 0], frame_scores <= 0.5)
    np.testing.assert_array_equal(scores, np.maximum(frame_scores, crop_scores))


def test_refining_large_people_on_real_frames_keeps_their_keypoints():
    detector = PoseDetector(real_detector_or_skip(), 640, 0.1, torch.device("cpu"), "auto")
    refiner = Refiner(detector)
    for clip in ("taichi_1person", "boxing_1person"):
        frames = list(itertools.islice(VideoReader(shared_video(f"{clip}.mp4")), 0, 120, 40))
        found = detector.detect(frames)
        everyone = [np.flatnonzero(d.box_scores >= 0.5) for d in found]
        assert all(len(e) == 1 for e in everyone), clip
        refined = refiner.refine(frames, found, everyone)
        for before, after, chosen in zip(found, refined, everyone):
            i = chosen[0]
            height = before.boxes[i, 3] - before.boxes[i, 1]
            assert height > 250  # a large person, whom the frame detector already sees well
            np.testing.assert_array_equal(after.boxes, before.boxes)
            sure = (before.keypoint_scores[i] > 0.7) & (after.keypoint_scores[i] > 0.7)
            assert sure.sum() >= 8
            moved = np.linalg.norm(after.keypoints[i] - before.keypoints[i], axis=-1)[sure]
            assert np.median(moved) < 3 and moved.max() < 0.03 * height, (clip, moved)
    # people not selected are not touched, and selecting nobody costs no model call
    untouched = refiner.refine(frames, found, [np.zeros(0, np.int64)] * len(frames))
    for a, b in zip(untouched, found):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)

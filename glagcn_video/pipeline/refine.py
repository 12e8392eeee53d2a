"""Top-down refinement: the pose model again on an enlarged crop around each small person.

A bottom-up detector sees a 100-px person in a 1280-px frame at 50 px when
the frame is shrunk to its 640-px input, and places keypoints to a few of
those pixels. Cutting a box 1.25x the person's out of the full-resolution
frame and resizing it to the crop size (192x256: the person about 200 px
tall) gives the same model four times the pixels per limb. All
crops have one size, so the crops of a batch of frames go through the model
in one call.

The crop is an exact similarity transform of the frame (scale and offset,
:class:`CropTransform`), so keypoints found in it map back without error.
In the crop, the detection that overlaps the person's own box most is theirs
(another person may stand in the crop); each keypoint keeps whichever of the
two estimates, frame or crop, the model is more confident of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .detect import Detections, PoseDetector

# The demo's --refine / --no-refine. Off: on the six clips and their shrunk
# copies (benchmarks/bench_2d.py, BENCHMARKS.md) it cut the keypoint error of
# people under 150 px by 27-34% at a fixed 640-px input, but only by 14-16%
# with the default --imgsz auto, which already looks at small people at a
# larger size, for 1.16-1.17x the detector's time; it made the skating rink's
# crowd, half hidden behind the boards, slightly worse.
DEFAULT_REFINE = False
# Crop size in network pixels (width, height): multiples of 32, so the
# detector's letterbox neither resizes nor pads them; 3:4 fits an upright
# person with room for raised arms, and wider poses get a taller crop. On tai
# chi shrunk to 1/4 (people about 125 px, 63 in the 640-px frame input) the
# keypoint error was 3.0% of the height unrefined, 1.9% with 192x256 crops,
# 3.2% with 128x160 and 2.1% with 256x320 (1.7x the cost).
CROP_SIZE = (192, 256)
CROP_ENLARGE = 1.25  # crop side / the person's box side, so limbs outside the box are kept
# A person is refined when their box, as the full-frame detector saw it, was
# shorter than this (network pixels): taller people gain nothing from a crop
# (walk_jump's people, about 137 input pixels: 3.2% unrefined, 3.6% refined).
REFINE_BELOW = 128
# At most this many people per frame are refined, the most confident first:
# each crop costs about a fifth of a 640-px frame, and a crowd of small
# spectators would otherwise cost more than the frame itself.
MAX_PER_FRAME = 4
MATCH_IOU = 0.3  # the crop's detection must overlap the person's box at least this much to be theirs
PAD_VALUE = 114  # grey outside the frame, as Ultralytics pads its letterbox


@dataclass(frozen=True)
class CropTransform:
    """frame = crop / scale + offset, in continuous pixel coordinates (0 at
    an image's left or top edge, pixel i covering [i, i + 1)), the coordinates
    the detector reports."""

    scale: float
    offset: tuple[float, float]

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, np.float64) / self.scale + np.asarray(self.offset)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, np.float64) - np.asarray(self.offset)) * self.scale

    def matrix(self) -> np.ndarray:
        """The 2x3 matrix for ``cv2.warpAffine`` (which maps pixel centres) that
        realises this transform in continuous coordinates."""
        s, (ox, oy) = self.scale, self.offset
        return np.array([[s, 0.0, s * (0.5 - ox) - 0.5], [0.0, s, s * (0.5 - oy) - 0.5]])


def crop_transform(box: np.ndarray, size: tuple[int, int] = CROP_SIZE,
                   enlarge: float = CROP_ENLARGE) -> CropTransform:
    """The crop of ``size`` (width, height) centred on the xyxy ``box``, covering
    ``enlarge`` times the box in both directions (more in one, to keep the
    crop's aspect ratio)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    width, height = size
    span = max(y1 - y0, (x1 - x0) * height / width, 1.0) * enlarge  # crop height in frame pixels
    scale = height / span
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    return CropTransform(scale, (centre_x - width / scale / 2, centre_y - height / scale / 2))


def cut(frame: np.ndarray, transform: CropTransform, size: tuple[int, int] = CROP_SIZE) -> np.ndarray:
    """The crop itself: bilinear resampling, grey beyond the frame's edges."""
    return cv2.warpAffine(frame, transform.matrix(), size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(PAD_VALUE,) * 3)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with each of (N, 4) boxes."""
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=-1)
    union = np.prod(box[2:] - box[:2]) + np.prod(boxes[:, 2:] - boxes[:, :2], axis=-1) - inter
    return inter / np.maximum(union, 1e-9)


def merge_keypoints(keypoints: np.ndarray, scores: np.ndarray, crop_keypoints: np.ndarray,
                    crop_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per keypoint, the estimate (frame or crop) with the higher confidence."""
    take = crop_scores >= scores
    return np.where(take[:, None], crop_keypoints, keypoints), np.where(take, crop_scores, scores)


class Refiner:
    """Refines the keypoints of small people with a second, cropped look.

    ``detector`` is the demo's :class:`PoseDetector` (the same model: no
    second set of weights).
    """

    def __init__(self, detector: PoseDetector, size: tuple[int, int] = CROP_SIZE,
                 enlarge: float = CROP_ENLARGE, below: float = REFINE_BELOW):
        self.detector, self.size, self.enlarge, self.below = detector, size, enlarge, below

    def select(self, detections: Detections, frame_shape: tuple[int, ...],
               chosen: np.ndarray | None = None) -> np.ndarray:
        """Indices of the people to refine in a frame of ``frame_shape``: among
        ``chosen`` (a boolean mask, e.g. the tracked; default all), those the
        frame's detector saw shorter than ``below`` network pixels (it shrinks
        the frame's longer side to its input size), at most MAX_PER_FRAME of
        them, the most confident."""
        scale = self.detector.imgsz / max(frame_shape[:2])
        heights = (detections.boxes[:, 3] - detections.boxes[:, 1]) * scale
        mask = heights < self.below
        if chosen is not None:
            mask &= chosen
        candidates = np.flatnonzero(mask)
        best = np.argsort(-detections.box_scores[candidates], kind="stable")[:MAX_PER_FRAME]
        return np.sort(candidates[best])

    def refine(self, frames: Sequence[np.ndarray], detections: Sequence[Detections],
               selected: Sequence[np.ndarray]) -> list[Detections]:
        """``detections`` of each frame with the keypoints of the people in
        ``selected`` (indices, per frame) refined; all crops go through the model
        in one call. Boxes and box scores stay the frame detector's."""
        jobs = [(f, int(i), crop_transform(detections[f].boxes[i], self.size, self.enlarge))
                for f, chosen in enumerate(selected) for i in chosen]
        refined = [Detections(d.boxes, d.box_scores, d.keypoints.copy(), d.keypoint_scores.copy())
                   for d in detections]
        if not jobs:
            return refined
        crops = [cut(frames[f], transform, self.size) for f, _, transform in jobs]
        found = self.detector.detect(crops, imgsz=max(self.size))
        for (f, i, transform), in_crop in zip(jobs, found):
            if not len(in_crop):
                continue
            own_box = transform.to_crop(detections[f].boxes[i].reshape(2, 2)).ravel()
            overlap = box_iou(own_box, in_crop.boxes)
            best = int(np.argmax(overlap))
            if overlap[best] < MATCH_IOU:
                continue
            target = refined[f]
            target.keypoints[i], target.keypoint_scores[i] = merge_keypoints(
                target.keypoints[i], target.keypoint_scores[i],
                transform.to_frame(in_crop.keypoints[best]).astype(np.float32), in_crop.keypoint_scores[best])
        return refined

"""A person's 2D keypoints over time: the plain data that tracking makes and
every later stage (cleaning, lifting, exports, other tools' keypoint files) reads.

It lives at the top of the package because the stages that make it
(``pipeline``) and the files that store it (``exports``) must not import
each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Track:
    """One person over time: frames (F,) ascending video frame indices,
    keypoints (F, J, 2) pixels, scores (F, J) confidences, for J joints of
    whichever layout (COCO-17 from the tracker, Human3.6M after conversion).

    Straight from the tracker a track also has its boxes (F, 4) xyxy pixels
    and an appearance descriptor per frame (F, D) (``pipeline.stitch.appearance``), which
    re-linking a person after a break needs; later stages drop them.
    """

    person_id: int
    frames: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray | None = None
    appearance: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def take(self, rows: np.ndarray | slice, person_id: int | None = None) -> Track:
        """The track's ``rows`` (an index array, mask or slice), optionally under another ID."""
        def part(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[rows]

        return Track(self.person_id if person_id is None else person_id, self.frames[rows],
                     self.keypoints[rows], self.scores[rows], part(self.boxes), part(self.appearance))

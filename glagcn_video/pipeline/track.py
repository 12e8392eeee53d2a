"""Stable person IDs over a whole video, as a stage of its own on detections.

Ultralytics' ByteTrack (or BoT-SORT) runs standalone on the detector's boxes;
each tracked box carries the index of its detection, which links the ID back
to that person's keypoints. Every tracked person is kept, not just the first.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..files import DemoError, first_line
from ..tracks import Track
from .detect import Detections, import_ultralytics

DEFAULT_TRACKER = "bytetrack"
TRACKER_REFERENCE_FPS = 30.0  # Ultralytics' track_buffer (frames to keep a lost track) assumes 30 fps


def _tracker_config(tracker: str):
    from ultralytics.utils import YAML, IterableSimpleNamespace
    from ultralytics.utils.checks import check_yaml

    name = tracker if tracker.endswith((".yaml", ".yml")) else f"{tracker}.yaml"
    try:
        return IterableSimpleNamespace(**YAML.load(check_yaml(name)))
    except Exception as exc:  # a bad name or file; the user needs one line
        raise DemoError(Path(tracker), f"unknown tracker or bad tracker config ({first_line(exc)})") from None


class PersonTracker:
    """Assigns a stable ID to each detection, frame by frame.

    ``tracker`` is "bytetrack", "botsort" or the path of an Ultralytics
    tracker YAML. BoT-SORT also uses the frame (camera-motion compensation).
    """

    def __init__(self, tracker: str | os.PathLike = DEFAULT_TRACKER, fps: float = TRACKER_REFERENCE_FPS):
        import_ultralytics()
        from ultralytics.trackers.track import TRACKER_MAP

        args = _tracker_config(str(tracker))
        if args.tracker_type not in TRACKER_MAP:
            raise DemoError(Path(tracker), f"unsupported tracker type {args.tracker_type!r}; "
                                           f"use one of {', '.join(sorted(TRACKER_MAP))}")
        args.track_buffer = max(1, round(args.track_buffer * fps / TRACKER_REFERENCE_FPS))
        self._tracker = TRACKER_MAP[args.tracker_type](args=args)

    def update(self, detections: Detections, frame_bgr: np.ndarray | None = None) -> np.ndarray:
        """Track IDs (P,) for this frame's detections, -1 for the untracked
        (low scores that matched no track, or a new person's first frame)."""
        from ultralytics.engine.results import Boxes

        ids = np.full(len(detections), -1, dtype=np.int64)
        height, width = frame_bgr.shape[:2] if frame_bgr is not None else (1, 1)
        data = np.concatenate([detections.boxes, detections.box_scores[:, None],
                               np.zeros((len(detections), 1), np.float32)], axis=1)
        rows = self._tracker.update(Boxes(data, (height, width)), frame_bgr)
        if len(rows):
            ids[rows[:, -1].astype(np.int64)] = rows[:, 4].astype(np.int64)
        return ids


class TrackAccumulator:
    """Collects each ID's keypoints, box and appearance frame by frame (a few
    hundred numbers per person, so memory grows with people x frames, never
    with pixels)."""

    def __init__(self) -> None:
        self._rows: dict[int, list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}

    def add(self, frame_index: int, ids: np.ndarray, detections: Detections,
            appearance: np.ndarray | None = None) -> None:
        """This frame's tracked detections (``ids`` >= 0); ``appearance`` (P, D)
        per detection, or none (an empty descriptor)."""
        for i in np.flatnonzero(ids >= 0):
            self._rows.setdefault(int(ids[i]), []).append(
                (frame_index, detections.keypoints[i], detections.keypoint_scores[i], detections.boxes[i],
                 appearance[i] if appearance is not None else np.zeros(0, np.float32)))

    def tracks(self) -> list[Track]:
        """All tracks, by ID."""
        tracks = []
        for pid, rows in sorted(self._rows.items()):
            frames, keypoints, scores, boxes, appearance = zip(*rows)
            tracks.append(Track(pid, np.asarray(frames, dtype=np.int64), np.stack(keypoints), np.stack(scores),
                                np.stack(boxes), np.stack(appearance)))
        return tracks

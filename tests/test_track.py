"""Tracking: stable IDs on the detector's boxes, accumulated into per-person tracks."""

from __future__ import annotations

import numpy as np
import pytest

from glagcn_video.pipeline.detect import Detections
from glagcn_video.files import DemoError
from glagcn_video.pipeline.track import PersonTracker, TrackAccumulator


def detections(boxes: list[tuple[float, float, float, float]], scores: list[float]) -> Detections:
    boxes = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    keypoints = np.repeat(centres[:, None], 17, axis=1)  # marks which box a keypoint came from
    return Detections(boxes, np.array(scores, np.float32), keypoints, np.full((len(boxes), 17), 0.8, np.float32))


def two_walkers(frame: int) -> list[tuple[float, float, float, float]]:
    """Two people walking towards each other, 4 px per frame."""
    a = 50 + 4 * frame
    b = 500 - 4 * frame
    return [(a, 100, a + 60, 300), (b, 110, b + 60, 310)]


@pytest.mark.parametrize("tracker", ["bytetrack", "botsort"])
def test_ids_stay_with_people_whatever_the_detection_order(tracker):
    frame_image = np.zeros((480, 640, 3), np.uint8)
    people = PersonTracker(tracker, fps=30.0)
    accumulator = TrackAccumulator()
    first_ids = None
    for frame in range(20):
        boxes = two_walkers(frame)
        order = [1, 0] if frame % 2 else [0, 1]  # detectors list people in any order
        dets = detections([boxes[i] for i in order], [0.9, 0.85])
        ids = people.update(dets, frame_image)
        by_person = dict(zip(order, ids.tolist()))
        if first_ids is None:
            first_ids = by_person
        assert by_person == first_ids, f"frame {frame}"
        accumulator.add(frame, ids, dets)
    assert len(set(first_ids.values())) == 2 and -1 not in first_ids.values()
    tracks = accumulator.tracks()
    assert [t.person_id for t in tracks] == sorted(first_ids.values())
    for person, track_id in first_ids.items():
        track = next(t for t in tracks if t.person_id == track_id)
        assert track.frames.tolist() == list(range(20))
        expected = np.array([np.add(two_walkers(f)[person][:2], two_walkers(f)[person][2:]) / 2 for f in range(20)])
        np.testing.assert_allclose(track.keypoints[:, 0], expected)


def test_low_scores_extend_tracks_but_never_start_them():
    people = PersonTracker("bytetrack", fps=30.0)
    for frame in range(5):
        ids = people.update(detections(two_walkers(frame)[:1], [0.9]))
    known = ids[0]
    blurred = people.update(detections(two_walkers(5)[:1] + [(300, 300, 340, 400)], [0.15, 0.15]))
    assert blurred[0] == known and blurred[1] == -1


def test_no_detections_and_empty_tracks():
    people = PersonTracker("bytetrack", fps=30.0)
    assert people.update(Detections.empty()).shape == (0,)
    assert TrackAccumulator().tracks() == []


def test_unknown_tracker_is_a_clear_error(tmp_path):
    with pytest.raises(DemoError, match="nosuchtracker"):
        PersonTracker("nosuchtracker")
    config = tmp_path / "mine.yaml"
    config.write_text("tracker_type: telepathy\ntrack_buffer: 30\n")
    with pytest.raises(DemoError, match="unsupported tracker type 'telepathy'"):
        PersonTracker(str(config))

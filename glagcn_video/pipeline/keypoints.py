"""From tracked COCO-17 detections to clean Human3.6M-layout 2D tracks.

The lifter was trained on Human3.6M's 17 joints and on complete, gap-free
sequences, so each track is converted to that layout, its unreliable joints
and short missed stretches are filled in by linear interpolation, long
absences split it into separate segments (same person ID), and segments too
short to trust are dropped. Thresholds are in seconds so that they mean the
same at any frame rate; see docs/demo.md for the rationale of each value.
"""

from __future__ import annotations

import math

import numpy as np

from ..tracks import Track

# A keypoint below this confidence is treated as missing and interpolated
# from its neighbours in time when the stretch is short. YOLO pose scores
# visible joints mostly above 0.5 and occluded or off-screen ones below 0.3.
MIN_JOINT_SCORE = 0.3
# Longest stretch (seconds) bridged by linear interpolation, for a joint below
# MIN_JOINT_SCORE or a whole person the detector or tracker missed. Longer
# absences split the track: a straight line over them would invent motion.
MAX_GAP_S = 0.5
# Segments shorter than this (seconds) are dropped: they are mostly false
# detections or people crossing the frame edge. A video shorter than this
# (down to a single image) keeps segments that span all of it.
MIN_TRACK_S = 0.5
# The head joint is the skull centre (eyes and ears) moved this fraction of the
# thorax-to-skull-centre distance further along the neck, towards the top of
# the head where Human3.6M puts it; along the neck, so it works in profile and
# with the head bent as well as upright.
HEAD_RAISE = 0.5
# COCO's hip keypoints sit lower on the body than Human3.6M's hip joints (the
# femoral heads): with plain COCO hips, thigh / torso in 2D was 0.72-0.76 on
# our test clips against 0.90 in Human3.6M's ground truth (S9/S11), and the
# lifter answered with 0.28-0.30 m thighs. Both hips (and so the pelvis) are
# moved this fraction of the hip-to-shoulder midpoint vector towards the
# shoulders, which brings the ratio to about 0.9.
HIP_RAISE = 0.1

# Human3.6M joint <- COCO-17 joint, for the joints both layouts have.
_DIRECT = {1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15, 9: 0, 11: 5, 12: 7, 13: 9, 14: 6, 15: 8, 16: 10}
_FACE = [1, 2, 3, 4]  # COCO eyes and ears


def coco_to_h36m(keypoints: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 (..., 17, 2) pixels and (..., 17) scores to Human3.6M-17.

    hips raised by :data:`HIP_RAISE` of the torso towards the shoulders,
    pelvis = their midpoint, thorax = shoulder midpoint, spine = their midpoint,
    neck = nose, head = score-weighted centre of eyes and ears raised by
    :data:`HEAD_RAISE` along the neck. A derived joint is only as reliable as
    its weakest input, so it takes the minimum score of what it is built
    from; the face centre's score is its score-weighted mean (the confident
    face points dominate both the position and the score).
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    out = np.empty_like(keypoints)
    out_scores = np.empty_like(scores)
    h36m, coco = zip(*_DIRECT.items())
    out[..., h36m, :] = keypoints[..., coco, :]
    out_scores[..., h36m] = scores[..., coco]

    def midpoint(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        return (keypoints[..., a, :] + keypoints[..., b, :]) / 2, np.minimum(scores[..., a], scores[..., b])

    pelvis, pelvis_score = midpoint(11, 12)
    thorax, thorax_score = midpoint(5, 6)
    raise_hips = HIP_RAISE * (thorax - pelvis)
    pelvis = pelvis + raise_hips
    for joint in (1, 4):  # right and left hip
        out[..., joint, :] += raise_hips
    out[..., 0, :], out_scores[..., 0] = pelvis, pelvis_score
    out[..., 8, :], out_scores[..., 8] = thorax, thorax_score
    out[..., 7, :], out_scores[..., 7] = (pelvis + thorax) / 2, np.minimum(pelvis_score, thorax_score)

    weights = scores[..., _FACE] + 1e-6  # all-zero scores fall back to the plain mean
    total = weights.sum(axis=-1)
    face = (keypoints[..., _FACE, :] * weights[..., None]).sum(axis=-2) / total[..., None]
    face_score = (scores[..., _FACE] * weights).sum(axis=-1) / total
    out[..., 10, :] = face + HEAD_RAISE * (face - thorax)
    out_scores[..., 10] = np.minimum(face_score, thorax_score)
    return out, out_scores


def interpolate_gaps(values: np.ndarray, valid: np.ndarray, max_gap: float) -> np.ndarray:
    """Fill invalid samples of (F, J, C) ``values`` along time, per joint.

    A run of invalid samples of at most ``max_gap`` frames is replaced by the
    straight line between the valid samples around it, or held at the one
    valid neighbour when the run touches either end. Longer runs, and joints
    never valid, are left as they are. Vectorised: for every sample the
    nearest valid sample before and after it come from running max/min.
    """
    num = len(values)
    index = np.arange(num)[:, None]
    prev = np.maximum.accumulate(np.where(valid, index, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, index, num)[::-1], axis=0)[::-1]
    has_prev, has_next = prev >= 0, nxt < num
    fill = ~valid & (has_prev | has_next) & (nxt - prev - 1 <= max_gap)
    lo = np.clip(np.where(has_prev, prev, nxt), 0, num - 1)
    hi = np.clip(np.where(has_next, nxt, prev), 0, num - 1)
    span = np.maximum(hi - lo, 1)
    weight = ((index - lo) / span)[..., None]
    joints = np.arange(values.shape[1])
    interpolated = values[lo, joints] * (1 - weight) + values[hi, joints] * weight
    return np.where(fill[..., None], interpolated, values).astype(values.dtype)


def split_track(track: Track, max_gap: int) -> list[Track]:
    """Split where the person is missing for more than ``max_gap`` frames."""
    breaks = np.flatnonzero(np.diff(track.frames) - 1 > max_gap) + 1
    return [Track(track.person_id, f, k, s) for f, k, s in
            zip(*(np.split(a, breaks) for a in (track.frames, track.keypoints, track.scores)))]


def densify(track: Track, max_gap: int) -> Track:
    """One frame per video frame from the first to the last detection.

    Missed frames get the detections interpolated across them and score 0 (no
    detector saw them); then joints below :data:`MIN_JOINT_SCORE` for at most
    ``max_gap`` frames are interpolated from confident neighbours. Scores
    stay the detector's, so a consumer can tell guessed joints from seen ones.
    """
    frames = np.arange(track.frames[0], track.frames[-1] + 1)
    seen = np.zeros(len(frames), dtype=bool)
    seen[track.frames - frames[0]] = True
    keypoints = np.zeros((len(frames), *track.keypoints.shape[1:]), np.float32)
    scores = np.zeros((len(frames), track.scores.shape[1]), np.float32)
    keypoints[seen], scores[seen] = track.keypoints, track.scores
    keypoints = interpolate_gaps(keypoints, np.broadcast_to(seen[:, None], scores.shape), math.inf)
    keypoints = interpolate_gaps(keypoints, scores >= MIN_JOINT_SCORE, max_gap)
    return Track(track.person_id, frames, keypoints, scores)


def clean_tracks(tracks: list[Track], fps: float, num_frames: int) -> list[Track]:
    """COCO-17 tracker output to gap-free Human3.6M segments worth lifting."""
    max_gap = round(MAX_GAP_S * fps)
    min_length = min(math.ceil(MIN_TRACK_S * fps), num_frames)
    segments = []
    for track in tracks:
        keypoints, scores = coco_to_h36m(track.keypoints, track.scores)
        h36m = Track(track.person_id, track.frames, keypoints, scores)
        for part in split_track(h36m, max_gap):
            if part.frames[-1] - part.frames[0] + 1 >= min_length:
                segments.append(densify(part, max_gap))
    return segments

"""One ID per person: tracklets re-linked after a break, and ended at shot cuts.

The tracker keeps a lost person's ID for one second, re-found only where its
constant-velocity guess of the box still overlaps them. Longer occlusions,
runs of missed detections, or a person that stopped while hidden start a new
ID. After the whole video has been tracked, this stage links such pieces by
where the person was going, their size and the colours of their clothes,
and splits every track at the shot cuts (:mod:`.shots`), so that no track
spans two shots.

Links are one-to-one and only from a piece that has ended to one that starts
later, so an ID is never on two people in one frame. A link is made only
when it is unambiguous: no other piece alive at the same time fits nearly as
well. Across a cut, where position says nothing, only clothes that match
much more closely than any other candidate's keep an ID.

The appearance descriptor of a detection (:func:`appearance`) is an HSV
histogram of its torso and of its thighs, placed by its keypoints, taken
from the frame while it is decoded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import cv2
import numpy as np

from ..tracks import Track
from .shots import shot_index

HIST_BINS = (8, 3, 3)  # hue, saturation, value per body region
SURE = 0.5  # keypoint confidence needed to place a body region
# The body regions the colours are taken from, between COCO keypoints: the
# torso (shoulders 5, 6 to hips 11, 12) and the thighs (hips to knees 13, 14),
# each narrowed by INSET of its width on both sides so the background beside
# a slim person stays out. Boxes would not do: spread arms or a bent back put
# the background in the box's middle.
REGIONS = (((5, 6), (11, 12)), ((11, 12), (13, 14)))
INSET = 0.15
DESCRIPTOR_SIZE = len(REGIONS) * int(np.prod(HIST_BINS))
ENDS_S = 1.0  # seconds at a piece's end (start) that describe how it leaves (arrives)
VELOCITY_S = 0.5  # seconds of box centres fitted for a piece's velocity at its ends
# Longest break (seconds) bridged within a shot. Beyond it a person may have
# left and someone else come back.
MAX_LINK_GAP_S = 3.0
# Where the piece that starts may be, in heights of the person, from where the
# one that ended was going: this much at once, plus SPEED_ALLOWANCE per second
# of break (a walker covers about one body height per second).
MAX_POSITION_ERROR = 0.75
SPEED_ALLOWANCE = 1.0
# Clothes tell people apart only roughly on real video: between the first
# and the last second of one person's track the appearance distance (Hellinger,
# 0 same colours, 1 none in common) was 0.10-0.23 on the single-person clips,
# 0.21 and 0.45 for the basketball players (low resolution, a pan) and 0.54
# for walk_jump's woman (from backlight into shade), against 0.55-0.76 between
# two people of one clip. So within a break of up to SHORT_GAP_S position
# alone decides (the person cannot have gone far; a jump, a flip or a crouch
# changes their box and the colours a descriptor sees: walk_jump's jumper's
# box was 1.8-2.3x taller or shorter across breaks of 2-14 frames), over
# longer breaks clothes must agree within MAX_APPEARANCE, and across a cut,
# where position says nothing, within MAX_APPEARANCE_ACROSS_CUT.
SHORT_GAP_S = 0.5
MAX_SIZE_RATIO = {True: 2.5, False: 1.6}  # ratio of the heights, by "short break"
MAX_APPEARANCE = 0.5
MAX_APPEARANCE_ACROSS_CUT = 0.35
# A link is unambiguous when every rival (another piece that could be the
# person instead) costs more than this many times as much.
AMBIGUITY_RATIO = 1.5


def appearance(frame: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
               which: np.ndarray | None = None) -> np.ndarray:
    """(P, DESCRIPTOR_SIZE) colour descriptors of P people from their COCO-17
    ``keypoints`` (P, 17, 2) and ``scores`` (P, 17) (only those in the
    boolean mask ``which``, if given): per body region a normalised HSV
    histogram; NaN where the region's keypoints are unsure, where it is empty
    or where it was not asked for."""
    height, width = frame.shape[:2]
    out = np.full((len(keypoints), DESCRIPTOR_SIZE), np.nan, np.float32)
    per_region = int(np.prod(HIST_BINS))
    for p in range(len(keypoints)) if which is None else np.flatnonzero(which):
        for r, (top, bottom) in enumerate(REGIONS):
            corners = list(top + bottom)
            if (scores[p, corners] < SURE).any():
                continue
            xs, ys = keypoints[p, corners, 0], keypoints[p, corners, 1]
            inset = INSET * (xs.max() - xs.min())
            left, right = int(np.clip(xs.min() + inset, 0, width)), int(np.clip(xs.max() - inset, 0, width))
            upper = int(np.clip(ys[:2].mean(), 0, height))
            lower = int(np.clip(ys[2:].mean(), 0, height))
            if right - left < 2 or lower - upper < 2:
                continue
            hsv = cv2.cvtColor(frame[upper:lower, left:right], cv2.COLOR_BGR2HSV)
            hist = cv2.calcHist([hsv], [0, 1, 2], None, list(HIST_BINS), [0, 180, 0, 256, 0, 256]).ravel()
            out[p, r * per_region:(r + 1) * per_region] = hist / hist.sum()
    return out


def mean_appearance(descriptors: np.ndarray) -> np.ndarray:
    """The mean of (N, DESCRIPTOR_SIZE) descriptors, per region over the rows
    that have it (NaN where none has)."""
    measured = np.isfinite(descriptors)
    counts = measured.sum(axis=0)
    total = np.where(measured, descriptors, 0).sum(axis=0)
    return np.where(counts > 0, total / np.maximum(counts, 1), np.nan).astype(np.float32)


def appearance_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Hellinger distance of the regions both descriptors have; 1 if none."""
    per_region = int(np.prod(HIST_BINS))
    distances = []
    for r in range(len(REGIONS)):
        p, q = a[r * per_region:(r + 1) * per_region], b[r * per_region:(r + 1) * per_region]
        if np.isfinite(p).all() and np.isfinite(q).all():
            distances.append(np.sqrt(max(0.0, 1.0 - float(np.sqrt(p * q).sum()))))
    return float(np.mean(distances)) if distances else 1.0


def split_at_cuts(tracks: list[Track], cuts: list[int]) -> list[Track]:
    """Every track cut into its parts in each shot (same ID)."""
    pieces = []
    for track in tracks:
        shots = shot_index(track.frames, cuts)
        for shot in np.unique(shots):
            pieces.append(track.take(shots == shot))
    return pieces


@dataclass
class _End:
    """How a piece leaves (or arrives): frame, box centre and height, velocity
    (pixels per frame, pointing forward in time), appearance."""

    frame: int
    centre: np.ndarray
    height: float
    velocity: np.ndarray
    colours: np.ndarray


def _end(track: Track, fps: float, last: bool) -> _End:
    order = slice(None, None, -1) if last else slice(None)
    frames, boxes = track.frames[order], track.boxes[order]
    near = np.abs(frames - frames[0]) <= VELOCITY_S * fps
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    if near.sum() >= 3:
        velocity = np.polyfit(frames[near].astype(np.float64), centres[near], 1)[0]
    else:
        velocity = np.zeros(2)
    colours = mean_appearance(track.appearance[order][np.abs(frames - frames[0]) <= ENDS_S * fps])
    heights = boxes[near, 3] - boxes[near, 1]
    return _End(int(frames[0]), centres[0], float(np.median(heights)), velocity, colours)


def _link_cost(leaving: _End, arriving: _End, same_shot: bool, fps: float) -> float | None:
    """How well a piece arriving after one that left continues it (lower is
    better, 0-2), or None if it cannot be the same person."""
    colours = appearance_distance(leaving.colours, arriving.colours)
    if not same_shot:
        return 1.0 + colours / MAX_APPEARANCE_ACROSS_CUT if colours <= MAX_APPEARANCE_ACROSS_CUT else None
    gap = arriving.frame - leaving.frame
    short = gap <= SHORT_GAP_S * fps
    if gap <= 0 or gap > MAX_LINK_GAP_S * fps or (not short and colours > MAX_APPEARANCE):
        return None
    height = max(leaving.height, arriving.height)
    if height > MAX_SIZE_RATIO[short] * min(leaving.height, arriving.height):
        return None
    guesses = (leaving.centre + leaving.velocity * gap, leaving.centre)  # kept going, or stopped while unseen
    backward = arriving.centre - arriving.velocity * gap
    error = min(min(np.linalg.norm(arriving.centre - g) for g in guesses),
                np.linalg.norm(backward - leaving.centre)) / height
    allowed = MAX_POSITION_ERROR + SPEED_ALLOWANCE * gap / fps
    if error > allowed:
        return None
    return error / allowed + (0.0 if short else colours / MAX_APPEARANCE)


def _state_at(track: Track, frame: int, fps: float) -> _End | None:
    """A piece as it is at ``frame``, which it spans (its detection closest in
    time, within SHORT_GAP_S), as if it arrived there; None if it is not there
    then."""
    nearest = int(np.argmin(np.abs(track.frames - frame)))
    if not track.frames[0] <= frame <= track.frames[-1] or abs(int(track.frames[nearest]) - frame) > SHORT_GAP_S * fps:
        return None
    box = track.boxes[nearest]
    colours = mean_appearance(track.appearance[np.abs(track.frames - frame) <= ENDS_S * fps])
    return _End(frame, (box[:2] + box[2:]) / 2, float(box[3] - box[1]), np.zeros(2), colours)


def stitch(tracks: list[Track], cuts: list[int], fps: float) -> list[Track]:
    """The tracker's ``tracks`` (with boxes and appearance) as people: split at
    ``cuts``, pieces of one person linked under one ID, each person's pieces
    within a shot joined into one track (their frames never overlap); a
    person seen in several shots has one track per shot. Sorted by ID, then
    first frame. A piece's ID is that of the tracker's first piece it is
    linked to; a tracker track split at a cut and not re-linked gets new
    IDs after the largest the tracker gave."""
    pieces = split_at_cuts(tracks, cuts)
    shots = [int(shot_index(p.frames[:1], cuts)[0]) for p in pieces]
    ends = [_end(p, fps, last=True) for p in pieces]
    starts = [_end(p, fps, last=False) for p in pieces]
    candidates: dict[tuple[int, int], float] = {}
    for a, b in ((a, b) for a in range(len(pieces)) for b in range(len(pieces))):
        if pieces[b].frames[0] > pieces[a].frames[-1]:
            cost = _link_cost(ends[a], starts[b], shots[a] == shots[b], fps)
            if cost is not None:
                candidates[a, b] = cost

    def overlap(x: Track, y: Track) -> bool:
        return x.frames[0] <= y.frames[-1] and y.frames[0] <= x.frames[-1]

    successor: dict[int, int] = {}
    predecessor: dict[int, int] = {}
    for (a, b), cost in sorted(candidates.items(), key=lambda item: item[1]):
        if a in successor or b in predecessor:
            continue
        rivals = [c for (x, y), c in candidates.items()
                  if (x == a and y != b and overlap(pieces[y], pieces[b]))
                  or (y == b and x != a and overlap(pieces[x], pieces[a]))]
        if shots[a] == shots[b]:  # someone already there where the person reappears
            for c, piece in enumerate(pieces):
                state = None if c in (a, b) or shots[c] != shots[b] else _state_at(piece, starts[b].frame, fps)
                rival = None if state is None else _link_cost(ends[a], state, True, fps)
                if rival is not None:
                    rivals.append(rival)
        if any(c <= cost * AMBIGUITY_RATIO for c in rivals):
            continue
        successor[a], predecessor[b] = b, a

    next_id = max((t.person_id for t in tracks), default=0) + 1
    used: set[int] = set()
    people = []
    for first in sorted((i for i in range(len(pieces)) if i not in predecessor),
                        key=lambda i: (pieces[i].frames[0], pieces[i].person_id)):
        chain = [first]
        while chain[-1] in successor:
            chain.append(successor[chain[-1]])
        person_id = pieces[first].person_id
        if person_id in used:
            person_id, next_id = next_id, next_id + 1
        used.add(person_id)
        by_shot: dict[int, list[Track]] = defaultdict(list)
        for i in chain:
            by_shot[shots[i]].append(pieces[i])
        for parts in by_shot.values():
            people.append(_join(parts, person_id))
    return sorted(people, key=lambda t: (t.person_id, t.frames[0]))


def _join(parts: list[Track], person_id: int) -> Track:
    """Pieces of one person in time order, frames disjoint, as one track."""
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return Track(person_id, cat("frames"), cat("keypoints"), cat("scores"), cat("boxes"), cat("appearance"))

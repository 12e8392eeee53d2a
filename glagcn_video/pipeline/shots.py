"""Shot cuts: where the video jumps to another camera or scene.

A lifting window or a track that spans a cut would mix two shots: the 3D
root would jump and the lifter would see a person teleport. Each frame gets a
small signature while it is decoded (a colour histogram and a brightness-
normalised grey thumbnail of a 64x36 copy, about 0.1 ms); after the pass,
:func:`find_cuts` compares consecutive signatures.

A cut needs both the colours and the picture's layout to change, and the
change to last: on the development clips (none of which has a cut) the
largest colour change between consecutive frames was 0.41 (boxing's
keyframe flicker, layout correlation 0.98) and 0.33 (walk_jump's camera
exposure jump, 0.93), the lowest layout correlation 0.64 (boxing, colour
0.06) and 0.87 (basketball's pan); between the last and first frames of any
two of those clips the colour change was 0.57-0.96 and the layout
correlation -0.40-0.27. A change that the next frame undoes (a flash, a
corrupt frame) is no cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB = (64, 36)  # width, height of the copy the signature is computed from
LAYOUT = (32, 18)  # grey thumbnail for the layout test
HIST_BINS = (8, 4, 4)  # hue, saturation, value
# A cut: colour histograms at least this far apart (half the L1 distance of the
# normalised histograms, 0 = same colours, 1 = no colour in common) ...
MIN_COLOUR_CHANGE = 0.35
# ... and grey thumbnails correlated less than this (1 = the same picture up to
# brightness and contrast; a pan or zoom keeps most of the layout).
MAX_LAYOUT_CORRELATION = 0.5


@dataclass
class Signature:
    """What :func:`find_cuts` compares: a normalised HSV histogram and a
    zero-mean, unit-variance grey thumbnail (flattened)."""

    colour: np.ndarray
    layout: np.ndarray


def frame_signature(frame_bgr: np.ndarray) -> Signature:
    """The signature of one BGR frame, from a 64x36 copy (averaged from every
    few pixels of the frame: area-averaging all of a large frame would cost
    more than everything else done with it)."""
    step = max(1, frame_bgr.shape[0] // (4 * THUMB[1]))
    small = cv2.resize(frame_bgr[::step, ::step], THUMB, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(HIST_BINS), [0, 180, 0, 256, 0, 256]).ravel()
    grey = cv2.resize(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), LAYOUT, interpolation=cv2.INTER_AREA)
    grey = grey.astype(np.float32).ravel()
    return Signature(hist / max(float(hist.sum()), 1.0), (grey - grey.mean()) / (grey.std() + 1e-6))


def colour_change(a: Signature, b: Signature) -> float:
    """0 for the same colour distribution, 1 for none in common."""
    return 0.5 * float(np.abs(a.colour - b.colour).sum())


def layout_correlation(a: Signature, b: Signature) -> float:
    """Correlation of the grey thumbnails: 1 for the same picture up to brightness and contrast."""
    return float(np.dot(a.layout, b.layout) / len(a.layout))


def is_shot_change(a: Signature, b: Signature) -> bool:
    """Whether ``b`` shows another shot than ``a`` (see the module docstring)."""
    return colour_change(a, b) >= MIN_COLOUR_CHANGE and layout_correlation(a, b) <= MAX_LAYOUT_CORRELATION


def find_cuts(signatures: list[Signature]) -> list[int]:
    """The frames that start a new shot (ascending; never 0).

    Frame i starts a shot when frames i and i+1 both differ from frames i-1
    and i-2 (those of them the video has), so the change lasts and is not
    undone by the next frame (a flash) or made by one odd frame before it.
    """
    cuts = []
    for i in range(1, len(signatures)):
        before = signatures[max(0, i - 2):i]
        after = signatures[i:i + 2]
        if all(is_shot_change(a, b) for a in before for b in after):
            cuts.append(i)
    return cuts


def shot_index(frames: np.ndarray, cuts: list[int]) -> np.ndarray:
    """The shot (0, 1, ...) each of ``frames`` belongs to."""
    return np.searchsorted(np.asarray(cuts, dtype=np.int64), frames, side="right")

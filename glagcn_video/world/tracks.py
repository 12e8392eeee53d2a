"""A person's 3D joints over time in the world frame: what placement makes
and the 3D views, the viewer and the exports draw or write."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

STAND_PCT = 90  # percentile of a person's top-joint height taken as their standing height


@dataclass(frozen=True)
class WorldTrack:
    """One person's track in world axes: consecutive video ``frames`` (F,),
    ``joints`` (F, J, 3) metres (Y up, ground at y = 0), and ``weight``, the
    evidence for them (the sum of their joint scores), and ``contacts`` (F, 2)
    the planted feet (contacts.FEET order), if known."""

    person_id: int
    frames: np.ndarray
    joints: np.ndarray
    weight: float
    contacts: np.ndarray | None = None

    @cached_property
    def roots(self) -> np.ndarray:
        """(F, 3) the pelvis (joint 0) per frame."""
        return self.joints[:, 0]

    @cached_property
    def height_range(self) -> tuple[float, float]:
        """(low, top): how high this person's lowest joint usually is (about the
        ground, or the top of whatever they stand on) and their usual standing
        height, robust to jumps and handstands."""
        finite = self.joints[np.isfinite(self.joints).all(axis=(1, 2))]
        if not len(finite):
            return 0.0, 1.8
        low = float(np.percentile(finite[..., 1].min(axis=1), 100 - STAND_PCT))
        top = float(np.percentile(finite[..., 1].max(axis=1), STAND_PCT))
        return low, max(top, low + 1.0)

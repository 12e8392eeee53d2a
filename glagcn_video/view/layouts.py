"""The 3D panel's layouts: which virtual camera looks at whom, frame by frame.

Everything is in the Y-up world frame of ``world/frame.py``, so the ground is the
plane fitted under the people (world y = 0), not the lowest ankle: a person
upside down or in the air is drawn above the ground they touch.

Layouts (``--view``):

- ``scene`` (the default): everyone where they stand relative to each other,
  seen by a virtual camera that follows the people present *now*. When the
  video ever shows several people at once, a row of small per-person views
  (each centred on one person's pelvis, at a fixed scale, like MMPose's
  panels) runs along the bottom, so each person stays readable however far
  apart they are.
- ``people``: only per-person views, one tile each, in a grid (MMPose's
  layout); with one person the tile is the whole panel.
- ``orbit``: the ``scene`` view with the camera circling the people slowly
  (:data:`ORBIT_DEG_PER_S`), which shows depth better than a fixed viewpoint.

The following camera is planned for the whole video before the first frame
is drawn (the pipeline has every pose by then):

1. Per frame, the people to frame: the present person with the most evidence
   (weighted medoid of the present people's pelvis positions on the ground,
   weights = summed joint scores of their track) and everyone present within
   :data:`GROUP_M` of them. A far-off false detection is not framed, so it
   cannot shrink everyone (it still gets its own tile).
2. The tightest target and radius that show those people's joints (and the
   ground under them, up to their usual standing height) in the panel.
3. A running median over :data:`MEDIAN_S` (a mis-lifted frame or a detection
   that lasts a few frames is dropped), the radius widened to its running
   maximum over :data:`SMOOTH_S` either side (smoothing must not cut anyone
   off), then exponential smoothing forwards
   and backwards (time constant :data:`SMOOTH_S`, no lag), then a pass that
   bounds every frame-to-frame change: the target moves at most
   :data:`MAX_PAN` of the view radius and the radius (the scale) changes at
   most by a factor of 1 +- :data:`MAX_ZOOM` per frame.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..skeleton import H36M, Layout
from ..world.tracks import WorldTrack
from .render import (BGR, DISTANCE, Viewpoint, VirtualCamera, blank_panel, draw_axes, draw_ground,
                     draw_shadows, draw_skeletons_3d, view_rotation)

VIEWS = ("scene", "people", "orbit")
DEFAULT_VIEW = "scene"

MAX_PAN = 0.05  # the target moves at most this share of the view radius per frame
MAX_ZOOM = 0.02  # the radius (scale) changes at most this share per frame
MEDIAN_S = 0.3  # running median window, seconds
SMOOTH_S = 0.5  # exponential smoothing time constant, seconds
GROUP_M = 4.0  # people farther than this (on the ground) from the main person are not framed
MIN_RADIUS = 1.0  # metres: the scene view never zooms in closer than one person needs
ORBIT_DEG_PER_S = 12.0  # one turn in 30 s
AZIMUTH_DEG, ELEVATION_DEG = 30.0, 18.0
STRIP_TILES = 4  # per-person views in the scene view's bottom row
MAX_PEOPLE_TILES = 9  # per-person views in the people layout (3 x 3)
_BORDER: BGR = (70, 70, 70)
_FIT_MARGIN = 0.04  # beyond the camera's own margin, so limbs do not touch the edge


def tile_radius(track: WorldTrack) -> float:
    """The fixed radius of a person's own view: their usual height, with room for a jump."""
    low, top = track.height_range
    return max(1.0, 0.62 * (top - low))


def present_people(tracks: list[WorldTrack], num_frames: int) -> list[list[tuple[int, int]]]:
    """Per video frame, the (track index, row in that track) of everyone present."""
    present: list[list[tuple[int, int]]] = [[] for _ in range(num_frames)]
    for index, track in enumerate(tracks):
        for row, frame in enumerate(track.frames.tolist()):
            if 0 <= frame < num_frames:
                present[frame].append((index, row))
    return present


def framed_people(roots_xz: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Indices of the people to frame: the weighted medoid of the (P, 2) ground
    positions and everyone within :data:`GROUP_M` of it."""
    distance = np.linalg.norm(roots_xz[:, None] - roots_xz[None], axis=-1)
    main = int(np.argmin(distance @ weights))
    return np.flatnonzero(distance[main] <= GROUP_M)


def fit_view(points: np.ndarray, rotation: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
    """The target and radius of the tightest :class:`Viewpoint` with this
    ``rotation`` that shows every (N, 3) point in a ``width`` x ``height``
    image (perspective included), radius at least :data:`MIN_RADIUS`."""
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    local = (points - centre) @ rotation.T  # right, down, forward
    shift = (local[:, :2].min(axis=0) + local[:, :2].max(axis=0)) / 2
    target = centre + shift @ rotation[:2]
    offsets = np.abs(local[:, :2] - shift)
    # A point at forward offset z is seen at depth DISTANCE * r + z, where a
    # half-side of a * tan(half angle) is visible per unit depth.
    half = np.array([width, height]) / min(width, height) / np.sqrt(DISTANCE ** 2 - 1)
    needed = (offsets / half - local[:, 2:3]) / DISTANCE
    return target, max(MIN_RADIUS, float(needed.max()) / (1 - _FIT_MARGIN))


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    """Rows that are NaN take the nearest valid row (earlier one first)."""
    valid = np.isfinite(values).all(axis=1)
    index = np.arange(len(values))
    before = np.maximum.accumulate(np.where(valid, index, -1))
    after = np.minimum.accumulate(np.where(valid, index, len(values))[::-1])[::-1]
    nearest = np.where(before >= 0, before, after)
    return values[nearest]


def _running(statistic, values: np.ndarray, window: int) -> np.ndarray:
    """``statistic`` (np.median, np.max) over a centred window of ``window`` rows, edges repeated."""
    if window < 3:
        return values
    pad = window // 2
    padded = np.pad(values, ((pad, pad), (0, 0)), mode="edge")
    return statistic(sliding_window_view(padded, window, axis=0), axis=-1)


def _exponential(values: np.ndarray, alpha: float) -> np.ndarray:
    out = values.copy()
    for i in range(1, len(out)):
        out[i] = out[i - 1] + alpha * (values[i] - out[i - 1])
    return out


def follow(targets: np.ndarray, radii: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The smooth camera path (targets (N, 3), radii (N,)) through per-frame
    framings (NaN where nobody is framed: the nearest framing is held); see
    step 3 of the module docstring. Every step obeys :data:`MAX_PAN` and
    :data:`MAX_ZOOM`."""
    values = np.column_stack([targets, np.log(radii)])
    if not np.isfinite(values).all(axis=1).any():
        return np.tile([0.0, 0.9, 0.0], (len(radii), 1)), np.full(len(radii), 1.2)
    values = _fill_gaps(values)
    values = _running(np.median, values, 2 * round(MEDIAN_S * fps / 2) + 1)
    # The widest framing within the smoothing time, so that smoothing does not cut
    # off someone who arrives or moves out: the view widens before, narrows after.
    values[:, 3:] = _running(np.max, values[:, 3:], 2 * round(SMOOTH_S * fps) + 1)
    alpha = 1 - np.exp(-1 / max(SMOOTH_S * fps, 1e-9))
    values = (_exponential(values, alpha) + _exponential(values[::-1], alpha)[::-1]) / 2
    max_log_zoom = np.log1p(MAX_ZOOM)
    for i in range(1, len(values)):
        previous = values[i - 1]
        log_radius = previous[3] + np.clip(values[i, 3] - previous[3], -max_log_zoom, max_log_zoom)
        step = values[i, :3] - previous[:3]
        limit = MAX_PAN * np.exp(previous[3])
        length = np.linalg.norm(step)
        values[i, :3] = previous[:3] + (step * (limit / length) if length > limit else step)
        values[i, 3] = log_radius
    return values[:, :3], np.exp(values[:, 3])


def assign_slots(tracks: list[WorldTrack], slots: int) -> list[int | None]:
    """A tile for each track that keeps it for the whole track: tracks with the most
    evidence first, each into the lowest slot free over its frames (None: no slot left)."""
    taken: list[list[tuple[int, int]]] = [[] for _ in range(slots)]
    assigned: list[int | None] = [None] * len(tracks)
    for index in sorted(range(len(tracks)), key=lambda i: -tracks[i].weight):
        start, end = int(tracks[index].frames[0]), int(tracks[index].frames[-1])
        for slot, spans in enumerate(taken):
            if all(end < s or start > e for s, e in spans):
                spans.append((start, end))
                assigned[index] = slot
                break
    return assigned


def _grid(count: int) -> tuple[int, int]:
    """(columns, rows) of the people layout's tiles."""
    columns = int(np.ceil(np.sqrt(count)))
    return columns, int(np.ceil(count / columns))


class Panel3D:
    """The 3D panel of every frame of a video, ``width`` x ``height`` pixels, in one of :data:`VIEWS`."""

    def __init__(self, width: int, height: int, tracks: list[WorldTrack], num_frames: int, fps: float,
                 view: str = DEFAULT_VIEW, layout: Layout = H36M) -> None:
        if view not in VIEWS:
            raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
        if int(width) <= 0 or int(height) <= 0:
            raise ValueError(f"panel size must be positive, got {width}x{height}")
        self.width, self.height, self.view, self.layout = int(width), int(height), view, layout
        self.tracks, self.fps = tracks, float(fps)
        self.present = present_people(tracks, num_frames)
        most = max((len(p) for p in self.present), default=0)
        if view == "people":
            self.slot_count = min(max(most, 1), MAX_PEOPLE_TILES)
            columns, rows = _grid(self.slot_count)
            self.tile = min(self.width // columns, self.height // rows)
            self.scene_height = 0
        else:
            self.slot_count = min(most, STRIP_TILES) if most >= 2 else 0
            self.tile = self.width // STRIP_TILES if self.slot_count else 0
            self.scene_height = self.height - self.tile
        self.slots = assign_slots(tracks, self.slot_count)
        if self.scene_height:
            self.azimuth = AZIMUTH_DEG + (ORBIT_DEG_PER_S * np.arange(num_frames) / self.fps
                                          if view == "orbit" else np.zeros(num_frames))
            self.targets, self.radii = follow(*self._framings(), self.fps)

    def _framings(self) -> tuple[np.ndarray, np.ndarray]:
        """Per frame, the raw (unsmoothed) target and radius framing the main group (NaN: nobody)."""
        targets = np.full((len(self.present), 3), np.nan)
        radii = np.full(len(self.present), np.nan)
        for frame, present in enumerate(self.present):
            if not present:
                continue
            tracks = [self.tracks[i] for i, _ in present]
            roots = np.array([t.roots[row] for t, (_, row) in zip(tracks, present)])
            sound = np.isfinite(roots).all(axis=1)
            if not sound.any():
                continue
            weights = np.array([t.weight for t in tracks])[sound]
            chosen = np.flatnonzero(sound)[framed_people(roots[sound][:, [0, 2]], weights)]
            points = []
            for k in chosen.tolist():
                low, top = tracks[k].height_range
                joints = tracks[k].joints[present[k][1]]
                points += [joints[np.isfinite(joints).all(axis=1)],
                           [[roots[k, 0], low, roots[k, 2]], [roots[k, 0], top, roots[k, 2]]]]
            rotation = view_rotation(self.azimuth[frame], ELEVATION_DEG)
            targets[frame], radii[frame] = fit_view(np.concatenate(points), rotation, self.width,
                                                    self.scene_height)
        return targets, radii

    def scene_viewpoint(self, frame: int) -> Viewpoint:
        """The following camera's viewpoint at ``frame`` (scene and orbit layouts)."""
        return Viewpoint(self.targets[frame], float(self.radii[frame]), float(self.azimuth[frame]),
                         ELEVATION_DEG)

    def person_viewpoint(self, track: WorldTrack, row: int) -> Viewpoint:
        """A per-person view: centred on the pelvis on the ground, at the person's own fixed scale."""
        low, top = track.height_range
        root = track.roots[row]
        return Viewpoint(np.array([root[0], (low + top) / 2, root[2]]), tile_radius(track),
                         AZIMUTH_DEG, ELEVATION_DEG)

    def render(self, frame: int) -> np.ndarray:
        """The panel at video frame ``frame``, a (height, width, 3) uint8 BGR image."""
        panel = blank_panel(self.width, self.height)
        present = self.present[frame] if 0 <= frame < len(self.present) else []
        if self.scene_height:
            scene = panel[:self.scene_height]  # whole rows: contiguous, OpenCV draws on it in place
            camera = VirtualCamera(self.scene_viewpoint(frame), self.width, self.scene_height)
            draw_ground(scene, camera, reach=2.5 * camera.viewpoint.radius)
            poses = [self.tracks[i].joints[row] for i, row in present]
            ids = [self.tracks[i].person_id for i, _ in present]
            draw_shadows(scene, camera, poses, ids)
            planted = [self.tracks[i].contacts[row] if self.tracks[i].contacts is not None else None
                       for i, row in present]
            draw_skeletons_3d(scene, camera, poses, ids, self.layout, planted)
            draw_axes(scene, camera)
        for index, row in present:
            slot = self.slots[index]
            if slot is not None:
                self._draw_tile(panel, slot, self.tracks[index], row)
        if not self.scene_height:
            draw_axes(panel, VirtualCamera(Viewpoint(np.zeros(3), 1.0, AZIMUTH_DEG, ELEVATION_DEG),
                                           self.width, self.height))
        return panel

    def _tile_origin(self, slot: int) -> tuple[int, int]:
        """(x, y) of a slot's top-left corner in the panel."""
        if self.scene_height:
            used = self.slot_count * self.tile
            return (self.width - used) // 2 + slot * self.tile, self.scene_height
        columns, rows = _grid(self.slot_count)
        x0 = (self.width - columns * self.tile) // 2
        y0 = (self.height - rows * self.tile) // 2
        return x0 + (slot % columns) * self.tile, y0 + (slot // columns) * self.tile

    def _draw_tile(self, panel: np.ndarray, slot: int, track: WorldTrack, row: int) -> None:
        tile = blank_panel(self.tile, self.tile)
        camera = VirtualCamera(self.person_viewpoint(track, row), self.tile, self.tile)
        draw_ground(tile, camera, reach=1.5 * tile_radius(track), label=self.slot_count == 1)
        draw_shadows(tile, camera, [track.joints[row]], [track.person_id])
        draw_skeletons_3d(tile, camera, [track.joints[row]], [track.person_id], self.layout,
                          [track.contacts[row] if track.contacts is not None else None])
        tile[[0, -1]] = _BORDER
        tile[:, [0, -1]] = _BORDER
        x, y = self._tile_origin(slot)
        panel[y:y + self.tile, x:x + self.tile] = tile

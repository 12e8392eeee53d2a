"""Drawing the result: 2D skeletons on the frame, an animated 3D view beside it.

Everything is OpenCV primitives on NumPy projections, because the renderer
runs once per video frame and must not dominate the pipeline: a 1280x720
side-by-side frame draws in a few milliseconds, where the usual demo approach
(a reused matplotlib mplot3d figure) takes tens (``benchmarks/bench_render.py``
measures both).

Colours, identical in 2D and 3D: each person ID gets a hue from a fixed
palette (indexed by ``id % len(palette)``, so a track keeps its colour for the
whole video); the person's LEFT side is a light shade of that hue, the RIGHT
side a dark, saturated shade, and the centre (pelvis, spine, neck, head) a
greyish middle shade. Light/dark rather than blue/red keeps the hue free to say
*who*, while the shade says *which side*.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..skeleton import H36M, Layout

BGR = tuple[int, int, int]

# Hues (degrees) picked to be far apart in order, so IDs 0..3 (the common
# case) are orange, sky blue, green and magenta.
_HUES_DEG = (30, 205, 120, 320, 55, 265, 175, 0, 90, 235)
_LEFT, _RIGHT, _CENTRE = 0, 1, 2

# Points are passed to OpenCV in fixed point (``shift`` fractional bits) so
# that anti-aliased lines land at sub-pixel positions instead of jittering by
# a pixel from frame to frame.
_SHIFT = 4
_ONE = 1 << _SHIFT
# Keeps absurd coordinates (a lifter glitch) inside OpenCV's int32 range.
_MAX_PIXEL = 1 << 20

_TEXT_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _hsv_to_bgr(hue_deg: float, saturation: float, value: float) -> BGR:
    r, g, b = colorsys.hsv_to_rgb(hue_deg / 360.0, saturation, value)
    return round(b * 255), round(g * 255), round(r * 255)


_PALETTE: tuple[tuple[BGR, BGR, BGR], ...] = tuple(
    (
        _hsv_to_bgr(hue, 0.35, 1.0),  # left: light
        _hsv_to_bgr(hue, 1.0, 0.62),  # right: dark
        _hsv_to_bgr(hue, 0.3, 0.72),  # centre: greyish
    )
    for hue in _HUES_DEG
)


def _shades(person_id: int) -> tuple[BGR, BGR, BGR]:
    """(left, right, centre) BGR colours for a person ID."""
    return _PALETTE[int(person_id) % len(_PALETTE)]


def person_color(person_id: int) -> tuple[BGR, BGR]:
    """BGR (left side, right side) colours of a person ID: light and dark shades of its hue."""
    left, right, _ = _shades(person_id)
    return left, right


@dataclass(frozen=True)
class _Bones:
    """A layout's bones as index arrays, with the side (left/right/centre) that colours each."""

    child: np.ndarray  # (B,) joint index
    parent: np.ndarray  # (B,) joint index
    bone_side: tuple[int, ...]  # (B,) side of the child joint
    joint_side: tuple[int, ...]  # (J,)


@lru_cache(maxsize=None)
def _bones(layout: Layout) -> _Bones:
    left, right = set(layout.joints_left), set(layout.joints_right)
    joint_side = tuple(
        _LEFT if j in left else _RIGHT if j in right else _CENTRE for j in range(layout.num_joints)
    )
    pairs = [(child, parent) for child, parent in enumerate(layout.parents) if parent >= 0]
    child = np.array([c for c, _ in pairs], dtype=np.intp)
    parent = np.array([p for _, p in pairs], dtype=np.intp)
    return _Bones(child, parent, tuple(joint_side[c] for c in child), joint_side)


def _check_image(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{name} must be a uint8 (H, W, 3) BGR image, got {got}")


def _to_fixed(points_px: np.ndarray) -> list[list[int]]:
    """Pixel coordinates (..., 2) to the fixed-point integer lists OpenCV wants with ``shift``."""
    clipped = np.clip(np.nan_to_num(points_px), -_MAX_PIXEL, _MAX_PIXEL)
    return np.rint(clipped * _ONE).astype(np.int64).tolist()


def _line_thickness(image_shape: tuple[int, ...]) -> int:
    """Bone thickness in pixels: 3 px on a 1280-pixel-wide image, 2 px on a 640-pixel one, never below 1."""
    return max(1, round(max(image_shape[:2]) / 400))


def _label_joint(layout: Layout, shown: list[int], fixed: list[list[int]]) -> int:
    """Where a person's ID goes: their head if it is drawn, else their top-most drawn joint."""
    head = layout.joint_names.index("head") if "head" in layout.joint_names else -1
    return head if head in shown else min(shown, key=lambda j: fixed[j][1])


def _draw_label(image: np.ndarray, text: str, top_xy: list[int], color: BGR) -> None:
    """Writes ``text`` centred just above ``top_xy`` (fixed point), outlined to read on any background."""
    scale = max(0.45, max(image.shape[:2]) / 1800)
    thickness = max(1, round(scale * 2))
    (width, _), _ = cv2.getTextSize(text, _TEXT_FONT, scale, thickness)
    gap = 2 * _line_thickness(image.shape) + 2
    origin = (top_xy[0] // _ONE - width // 2, top_xy[1] // _ONE - gap)
    cv2.putText(image, text, origin, _TEXT_FONT, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(image, text, origin, _TEXT_FONT, scale, color, thickness, cv2.LINE_AA)


def draw_pose_2d(
    frame_bgr: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    person_id: int,
    layout: Layout = H36M,
    min_score: float = 0.3,
) -> None:
    """Draws one person's 2D skeleton on ``frame_bgr`` in place.

    ``keypoints`` (J, 2) are pixel (x, y); joints scoring below ``min_score``
    (or not finite) are not drawn, nor any bone touching them, so a guessed
    occluded limb does not look as certain as a seen one. The ID is written
    above the head (or the top-most drawn joint) so the 2D person can be
    matched with the 3D one.
    """
    _check_image(frame_bgr, "frame_bgr")
    joints = layout.num_joints
    points = np.asarray(keypoints, dtype=np.float64)
    confidences = np.asarray(scores, dtype=np.float64)
    if points.shape != (joints, 2):
        raise ValueError(
            f"keypoints must have shape ({joints}, 2) for layout {layout.name!r}, got {points.shape}"
        )
    if confidences.shape != (joints,):
        raise ValueError(
            f"scores must have shape ({joints},) for layout {layout.name!r}, got {confidences.shape}"
        )

    visible = (confidences >= min_score) & np.isfinite(points).all(axis=1)
    if not visible.any():
        return
    bones = _bones(layout)
    shades = _shades(person_id)
    fixed = _to_fixed(points)
    thickness = _line_thickness(frame_bgr.shape)
    drawn = [
        (child, parent, side)
        for child, parent, side in zip(bones.child.tolist(), bones.parent.tolist(), bones.bone_side)
        if visible[child] and visible[parent]
    ]
    # A black outline under every bone keeps the light and the dark shade
    # readable on any video background.
    for child, parent, _ in drawn:
        cv2.line(frame_bgr, fixed[child], fixed[parent], (0, 0, 0), thickness + 2, cv2.LINE_AA, _SHIFT)
    for child, parent, side in drawn:
        cv2.line(frame_bgr, fixed[child], fixed[parent], shades[side], thickness, cv2.LINE_AA, _SHIFT)
    radius = (thickness + 1) * _ONE
    shown = np.flatnonzero(visible).tolist()
    for j in shown:
        cv2.circle(frame_bgr, fixed[j], radius, shades[bones.joint_side[j]], -1, cv2.LINE_AA, _SHIFT)
    _draw_label(frame_bgr, str(person_id), fixed[_label_joint(layout, shown, fixed)], shades[_CENTRE])


def _as_poses(poses: np.ndarray, joints: int, name: str) -> np.ndarray:
    array = np.asarray(poses, dtype=np.float64)
    if array.ndim != 3 or array.shape[1:] != (joints, 3):
        raise ValueError(f"{name} must have shape (N, {joints}, 3) in metres, got {array.shape}")
    return array


def _nice_step(extent: float) -> float:
    """Grid spacing giving roughly ten lines over ``extent`` metres, from a 1-2-5 series."""
    for step in (0.25, 0.5, 1.0, 2.0, 5.0, 10.0):
        if extent / step <= 12:
            return step
    return 20.0


class Skeleton3DView:
    """An animated 3D view of skeletons standing on a ground grid, drawn with OpenCV.

    Input poses are in the input camera's frame, metres: x right, y down,
    z forward. The camera is assumed level, so world up is -y and the ground
    is a plane y = const, at the lowest ankle of the whole video (bar the
    0.5 % lowest samples, so one mis-lifted frame cannot float everyone).

    Viewpoint (fixed for the whole video, so only the people move): a virtual
    perspective camera on the input camera's side of the scene, turned
    ``AZIMUTH_DEG`` to the input camera's left and raised ``ELEVATION_DEG``,
    looking at the centre of the scene. Because it looks from the same side
    as the input camera, nothing is mirrored: whatever is at image-left in the
    video is at the left of the 3D view, and people facing the camera face the
    viewer. The grid fades with distance from the virtual camera and bones are
    drawn far to near, so nearer limbs cover farther ones.

    Before ``set_scene`` the view frames one root-relative person (pelvis at
    the origin, feet 0.9 m below it), the lifter's own output convention.
    """

    AZIMUTH_DEG = 30.0
    ELEVATION_DEG = 18.0
    BACKGROUND: BGR = (34, 30, 28)
    # Grid grey at the nearest and the farthest grid point.
    _GRID_NEAR = 165
    _GRID_FAR = 45
    # Pieces each grid line is cut into so its shade can follow its depth.
    _GRID_PIECES = 24
    # Fraction of the panel left empty around the scene, on each side.
    _FIT_MARGIN = 0.06
    # Percentiles that bound the scene: a single mis-lifted frame must not
    # shrink the view or float everyone above the grid.
    _LOW_PCT, _HIGH_PCT = 0.5, 99.5
    # Virtual camera distance in radii of the scene's bounding sphere: far
    # enough that the nearest person is not stretched by perspective.
    _DISTANCE = 4.0

    def __init__(self, width: int, height: int, layout: Layout = H36M) -> None:
        if int(width) <= 0 or int(height) <= 0:
            raise ValueError(f"panel size must be positive, got {width}x{height}")
        self.width, self.height = int(width), int(height)
        self.layout = layout
        self._bones = _bones(layout)
        self._ankles = [i for i, name in enumerate(layout.joint_names) if "ankle" in name]
        self._thickness = _line_thickness((self.height, self.width))
        self._fit(x_range=(-0.8, 0.8), z_range=(-0.8, 0.8), ground=0.9, top=-0.9)

    def set_scene(self, all_poses: np.ndarray) -> None:
        """Fixes ground height and view bounds from every pose of the video, (K, J, 3) metres.

        Called once before rendering so that the viewpoint and the grid stay
        still while people move. Non-finite joints are ignored; with no
        finite joint at all the default bounds are kept.
        """
        poses = _as_poses(all_poses, self.layout.num_joints, "all_poses")
        joints = poses.reshape(-1, 3)
        joints = joints[np.isfinite(joints).all(axis=1)]
        if len(joints) == 0:
            return
        feet = poses[:, self._ankles, 1].ravel()
        feet = feet[np.isfinite(feet)]
        if len(feet) == 0:  # no ankle in the layout or ever seen: stand on the lowest joint
            feet = joints[:, 1]
        low = np.percentile(joints, self._LOW_PCT, axis=0)
        high = np.percentile(joints, self._HIGH_PCT, axis=0)
        ground = float(np.percentile(feet, self._HIGH_PCT))
        self._fit(x_range=(low[0], high[0]), z_range=(low[2], high[2]), ground=ground, top=float(low[1]))

    def _fit(
        self, x_range: tuple[float, float], z_range: tuple[float, float], ground: float, top: float
    ) -> None:
        """Places the virtual camera, scales it to fill the panel, and pre-renders the grid."""
        extent = max(x_range[1] - x_range[0], z_range[1] - z_range[0], 1.0)
        step = _nice_step(extent + 1.0)
        xs = np.arange(np.floor(x_range[0] / step - 1), np.ceil(x_range[1] / step + 1) + 0.5) * step
        zs = np.arange(np.floor(z_range[0] / step - 1), np.ceil(z_range[1] / step + 1) + 0.5) * step
        top = min(top, ground - 0.5)

        azimuth, elevation = np.radians(self.AZIMUTH_DEG), np.radians(self.ELEVATION_DEG)
        # Forward axis of the virtual camera, in input-camera coordinates:
        # turned toward +x (so the camera stands at the left) and down (+y).
        forward = np.array(
            [np.sin(azimuth) * np.cos(elevation), np.sin(elevation), np.cos(azimuth) * np.cos(elevation)]
        )
        right = np.cross([0.0, 1.0, 0.0], forward)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        self._rotation = np.stack([right, down, forward])

        box = np.array([[x, y, z] for x in (xs[0], xs[-1]) for y in (ground, top) for z in (zs[0], zs[-1])])
        centre = box.mean(axis=0)
        radius = np.linalg.norm(box - centre, axis=1).max()
        self._eye = centre - self._DISTANCE * radius * forward

        # Focal length and principal point that make the box fill the panel.
        normalised = self._normalised(box)[0]
        lo, hi = normalised.min(axis=0), normalised.max(axis=0)
        usable = np.array([self.width, self.height]) * (1 - 2 * self._FIT_MARGIN)
        self._focal = float(np.min(usable / np.maximum(hi - lo, 1e-9)))
        self._principal = np.array([self.width, self.height]) / 2 - self._focal * (lo + hi) / 2

        self._background = self._draw_grid(xs, zs, ground)

    def _normalised(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) input-camera points to virtual-camera (x/z, y/z) and depth, one matrix product."""
        camera = (points - self._eye) @ self._rotation.T
        depth = camera[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            return camera[:, :2] / depth[:, None], depth

    def _project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) input-camera points to panel pixels (N, 2) and depth (N,)."""
        normalised, depth = self._normalised(points)
        return normalised * self._focal + self._principal, depth

    def _draw_grid(self, xs: np.ndarray, zs: np.ndarray, ground: float) -> np.ndarray:
        """The empty panel: grid lines on the ground, each piece shaded by its depth."""
        image = np.empty((self.height, self.width, 3), dtype=np.uint8)
        image[:] = self.BACKGROUND
        t = np.linspace(0.0, 1.0, self._GRID_PIECES + 1)[:, None]
        lines = [(np.array([x, ground, zs[0]]), np.array([x, ground, zs[-1]])) for x in xs]
        lines += [(np.array([xs[0], ground, z]), np.array([xs[-1], ground, z])) for z in zs]
        points = np.concatenate([start + t * (end - start) for start, end in lines])
        pixels, depth = self._project(points)
        near, far = depth.min(), depth.max()
        shade = self._GRID_NEAR + (self._GRID_FAR - self._GRID_NEAR) * (depth - near) / max(far - near, 1e-9)
        fixed = _to_fixed(pixels)
        per_line = self._GRID_PIECES + 1
        for line in range(len(lines)):
            for k in range(line * per_line, (line + 1) * per_line - 1):
                grey = round((shade[k] + shade[k + 1]) / 2)
                cv2.line(image, fixed[k], fixed[k + 1], (grey, grey, grey), 1, cv2.LINE_AA, _SHIFT)
        return image

    def render(self, poses: list[np.ndarray], person_ids: list[int]) -> np.ndarray:
        """Draws this frame's skeletons, each (J, 3) metres, as a (height, width, 3) uint8 BGR panel."""
        if len(poses) != len(person_ids):
            raise ValueError(f"got {len(poses)} poses but {len(person_ids)} person_ids")
        image = self._background.copy()
        if len(poses) == 0:
            return image
        joints = self.layout.num_joints
        for pose in poses:
            if np.shape(pose) != (joints, 3):
                raise ValueError(f"each pose must have shape ({joints}, 3) in metres, got {np.shape(pose)}")
        stacked = np.asarray(poses, dtype=np.float64)
        pixels, depth = self._project(stacked.reshape(-1, 3))
        depth = depth.reshape(len(poses), joints)
        usable = (depth > 1e-6) & np.isfinite(pixels).all(axis=1).reshape(len(poses), joints)
        fixed = _to_fixed(pixels.reshape(len(poses), joints, 2))

        child, parent = self._bones.child, self._bones.parent
        bone_depth = depth[:, child] + depth[:, parent]
        drawable = usable[:, child] & usable[:, parent]
        people, bones = np.nonzero(drawable)
        order = np.argsort(-bone_depth[people, bones], kind="stable")
        shades = [_shades(person_id) for person_id in person_ids]
        for person, bone in zip(people[order].tolist(), bones[order].tolist()):
            cv2.line(
                image,
                fixed[person][child[bone]],
                fixed[person][parent[bone]],
                shades[person][self._bones.bone_side[bone]],
                self._thickness,
                cv2.LINE_AA,
                _SHIFT,
            )
        for person, person_id in enumerate(person_ids):
            shown = np.flatnonzero(usable[person]).tolist()
            if shown:
                anchor = fixed[person][_label_joint(self.layout, shown, fixed[person])]
                _draw_label(image, str(person_id), anchor, shades[person][_CENTRE])
        return image


def side_by_side(frame_bgr: np.ndarray, panel_bgr: np.ndarray) -> np.ndarray:
    """The frame with the 3D panel on its right, padded with black to even width and height for H.264."""
    _check_image(frame_bgr, "frame_bgr")
    _check_image(panel_bgr, "panel_bgr")
    height, frame_width = frame_bgr.shape[:2]
    if panel_bgr.shape[0] != height:
        raise ValueError(f"panel height {panel_bgr.shape[0]} must equal frame height {height}")
    width = frame_width + panel_bgr.shape[1]
    out = np.zeros((height + height % 2, width + width % 2, 3), dtype=np.uint8)
    out[:height, :frame_width] = frame_bgr
    out[:height, frame_width:width] = panel_bgr
    return out

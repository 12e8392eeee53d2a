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
from ..world.contacts import ankle_indices

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
_CONTACT = (255, 255, 255)  # planted feet, in 2D and 3D
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


def person_shades(person_id: int) -> tuple[BGR, BGR, BGR]:
    """(left, right, centre) BGR colours of a person ID; the 2D, 3D and HTML views all use these."""
    return _PALETTE[int(person_id) % len(_PALETTE)]


def person_color(person_id: int) -> tuple[BGR, BGR]:
    """BGR (left side, right side) colours of a person ID: light and dark shades of its hue."""
    left, right, _ = person_shades(person_id)
    return left, right


@dataclass(frozen=True)
class Bones:
    """A layout's bones as index arrays, with the side (left/right/centre) that colours each."""

    child: np.ndarray  # (B,) joint index
    parent: np.ndarray  # (B,) joint index
    bone_side: tuple[int, ...]  # (B,) side of the child joint
    joint_side: tuple[int, ...]  # (J,)


@lru_cache(maxsize=None)
def skeleton_bones(layout: Layout) -> Bones:
    """A layout's bones, with the side that colours each (the views share this)."""
    left, right = set(layout.joints_left), set(layout.joints_right)
    joint_side = tuple(
        _LEFT if j in left else _RIGHT if j in right else _CENTRE for j in range(layout.num_joints)
    )
    pairs = [(child, parent) for child, parent in enumerate(layout.parents) if parent >= 0]
    child = np.array([c for c, _ in pairs], dtype=np.intp)
    parent = np.array([p for _, p in pairs], dtype=np.intp)
    return Bones(child, parent, tuple(joint_side[c] for c in child), joint_side)


def _check_image(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{name} must be a uint8 (H, W, 3) BGR image, got {got}")


def _to_fixed(points_px: np.ndarray) -> list[list[int]]:
    """Pixel coordinates (..., 2) to the fixed-point integer lists OpenCV wants with ``shift``."""
    clipped = np.clip(points_px, -_MAX_PIXEL, _MAX_PIXEL)
    clipped[np.isnan(clipped)] = 0.0  # never drawn (callers skip non-finite points); keeps the cast defined
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
    contacts: np.ndarray | None = None,
) -> None:
    """Draws one person's 2D skeleton on ``frame_bgr`` in place.

    ``keypoints`` (J, 2) are pixel (x, y); joints scoring below ``min_score``
    (or not finite) are not drawn, nor any bone touching them, so a guessed
    occluded limb does not look as certain as a seen one. The ID is written
    above the head (or the top-most drawn joint) so the 2D person can be
    matched with the 3D one. ``contacts`` (2,) bools ring each planted foot
    (world.contacts.FEET order) in white.
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
    bones = skeleton_bones(layout)
    shades = person_shades(person_id)
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
    if contacts is not None:
        for planted, joint in zip(contacts, ankle_indices(layout)):
            if planted and visible[joint]:
                cv2.circle(frame_bgr, fixed[joint], 3 * radius, _CONTACT, max(1, thickness // 2), cv2.LINE_AA,
                           _SHIFT)


def _as_poses(poses: np.ndarray, joints: int, name: str) -> np.ndarray:
    array = np.asarray(poses, dtype=np.float64)
    if array.ndim != 3 or array.shape[1:] != (joints, 3):
        raise ValueError(f"{name} must have shape (N, {joints}, 3) in metres, got {array.shape}")
    return array


@dataclass(frozen=True)
class Viewpoint:
    """Where a virtual camera stands, in the Y-up world frame of ``world/frame.py`` (metres).

    It looks at ``target`` from ``DISTANCE * radius`` away, turned
    ``azimuth_deg`` from the input camera's side (world +Z) towards the input
    camera's left (-X) and raised ``elevation_deg``; its focal length makes a
    sphere of ``radius`` about the target fill the smaller side of the image
    (less a margin). Seen from the input camera's side, nothing is mirrored:
    what is at image-left in the video is at the left of the 3D view.
    """

    target: np.ndarray  # (3,) world point at the image centre
    radius: float  # metres
    azimuth_deg: float = 30.0
    elevation_deg: float = 18.0


# Camera distance in radii: far enough that the nearest person is not
# stretched by perspective, near enough to feel three-dimensional.
DISTANCE = 4.0
_MARGIN = 0.05  # of the image's half size, left free around the fitted sphere


@lru_cache(maxsize=1024)
def view_rotation(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """(3, 3) rows: the virtual camera's right, down and forward axes in world axes (read-only, cached)."""
    azimuth, elevation = np.radians(azimuth_deg), np.radians(elevation_deg)
    back = np.array([-np.sin(azimuth) * np.cos(elevation), np.sin(elevation),
                     np.cos(azimuth) * np.cos(elevation)])
    right = np.cross(-back, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    rotation = np.stack([right, np.cross(-back, right), -back])
    rotation.flags.writeable = False
    return rotation


class VirtualCamera:
    """A pinhole camera at a :class:`Viewpoint`, for an image of ``width`` x ``height`` pixels."""

    def __init__(self, viewpoint: Viewpoint, width: int, height: int) -> None:
        self.viewpoint = viewpoint
        self.width, self.height = int(width), int(height)
        self.rotation = view_rotation(viewpoint.azimuth_deg, viewpoint.elevation_deg)
        self.eye = np.asarray(viewpoint.target, np.float64) - DISTANCE * viewpoint.radius * self.rotation[2]
        half_angle = np.arcsin(1.0 / DISTANCE)
        self.focal = min(self.width, self.height) / 2 * (1 - _MARGIN) / np.tan(half_angle)
        self.principal = np.array([self.width, self.height]) / 2

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points to pixels (N, 2) and depth (N,); points behind the camera get NaN pixels."""
        camera = (np.asarray(points, np.float64) - self.eye) @ self.rotation.T
        depth = camera[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            pixels = camera[:, :2] / np.where(depth > 1e-6, depth, np.nan)[:, None]
        return pixels * self.focal + self.principal, depth


BACKGROUND: BGR = (34, 30, 28)
_GRID_BRIGHT = 150  # grey of the grid at the target; it fades into the background with distance
_GRID_LEVELS = 6  # grey levels the fade is quantised to (one polyline call each)
_GRID_PIECE_M = 0.5  # grid lines are cut into pieces this long so their shade can follow the fade
GRID_STEP_M = 1.0  # the ground grid's squares, metres


def draw_ground(image: np.ndarray, camera: VirtualCamera, reach: float, label: bool = True) -> None:
    """The ground (world y = 0) as a grid of 1 m squares within ``reach`` metres of the
    camera's target, fading with distance from it, and (``label``) a ``1 m`` label on
    the near edge of the square under the target."""
    target = camera.viewpoint.target
    low = np.floor((target[[0, 2]] - reach) / GRID_STEP_M) * GRID_STEP_M
    high = np.ceil((target[[0, 2]] + reach) / GRID_STEP_M) * GRID_STEP_M
    pieces = max(1, int(np.ceil((high - low).max() / _GRID_PIECE_M)))
    t = np.linspace(0.0, 1.0, pieces + 1)
    xs, zs = (np.arange(low[k], high[k] + GRID_STEP_M / 2, GRID_STEP_M) for k in (0, 1))
    along_x, along_z = low[0] + t * (high[0] - low[0]), low[1] + t * (high[1] - low[1])
    xz = np.concatenate([  # (lines, pieces + 1, 2): lines of constant x, then of constant z
        np.stack(np.broadcast_arrays(xs[:, None], along_z[None]), axis=-1),
        np.stack(np.broadcast_arrays(along_x[None], zs[:, None]), axis=-1)])
    lines = len(xz)
    points = np.stack([xz[..., 0], np.zeros(xz.shape[:2]), xz[..., 1]], axis=-1).reshape(-1, 3)
    pixels, _ = camera.project(points)
    fixed = np.asarray(_to_fixed(pixels), np.int32).reshape(lines, pieces + 1, 2)
    finite = np.isfinite(pixels).all(axis=1).reshape(lines, pieces + 1)
    middle = (xz[:, 1:] + xz[:, :-1]) / 2
    fade = 1 - (np.linalg.norm(middle - target[[0, 2]], axis=-1) / reach) ** 2
    level = np.floor(np.clip(fade, 0, 1) * _GRID_LEVELS).astype(int)  # (L, pieces); 0: not drawn
    level[~(finite[:, 1:] & finite[:, :-1])] = 0
    segments = np.stack([fixed[:, :-1], fixed[:, 1:]], axis=2)  # (L, pieces, 2 ends, 2)
    background = np.array(BACKGROUND, float)
    for shade in np.unique(level[level > 0]).tolist():
        grey = background + (_GRID_BRIGHT - background) * shade / _GRID_LEVELS
        cv2.polylines(image, list(segments[level == shade]), False, tuple(round(g) for g in grey), 1,
                      cv2.LINE_AA, _SHIFT)
    if label:
        _label_square(image, camera)


def _label_square(image: np.ndarray, camera: VirtualCamera) -> None:
    """Writes ``1 m`` under the midpoint of a grid edge: of those in view at least 1 m
    from the target (clear of the feet of a person there), the nearest to it (nearer
    the viewer on a tie), so the label sits where the grid is bright."""
    scale = max(0.4, min(image.shape[:2]) / 1600)
    (width, height), _ = cv2.getTextSize("1 m", _TEXT_FONT, scale, 1)
    target = camera.viewpoint.target[[0, 2]]
    corner = np.floor(target / GRID_STEP_M) * GRID_STEP_M
    steps = np.arange(-2, 4) * GRID_STEP_M
    a, b = np.meshgrid(steps, steps + GRID_STEP_M / 2)
    middles = np.concatenate([np.stack([a.ravel(), b.ravel()], 1), np.stack([b.ravel(), a.ravel()], 1)])
    middles = middles + corner
    pixels, depth = camera.project(np.stack([middles[:, 0], np.zeros(len(middles)), middles[:, 1]], 1))
    inside = (np.isfinite(pixels).all(axis=1) & (pixels[:, 0] > width) & (pixels[:, 0] < image.shape[1] - width)
              & (pixels[:, 1] > height) & (pixels[:, 1] < image.shape[0] - 2 * height - 4))
    if not inside.any():
        return
    distance = np.round(np.linalg.norm(middles - target, axis=1), 1)
    best = min(np.flatnonzero(inside), key=lambda i: (distance[i] < 1.0, distance[i], depth[i]))
    x, y = np.rint(pixels[best] + [-width / 2, height + 4]).astype(int)
    cv2.putText(image, "1 m", (int(x), int(y)), _TEXT_FONT, scale, (_GRID_BRIGHT,) * 3, 1, cv2.LINE_AA)


def draw_axes(image: np.ndarray, camera: VirtualCamera) -> None:
    """The world axes X, Y (up), Z as a small labelled tripod in the bottom-left corner."""
    size = max(12, min(image.shape[:2]) // 16)
    scale = max(0.35, size / 60)
    origin = np.array([size * 1.4, image.shape[0] - size * 1.4])
    grey = (200, 200, 200)
    for axis, name in enumerate(("X", "Y", "Z")):
        direction = camera.rotation[:2, axis]  # the world axis in image (right, down) terms
        tip = origin + size * direction
        cv2.line(image, tuple(np.rint(origin).astype(int)), tuple(np.rint(tip).astype(int)), grey, 1,
                 cv2.LINE_AA)
        (width, height), _ = cv2.getTextSize(name, _TEXT_FONT, scale, 1)
        text = origin + (size + 6) * direction + [-width / 2, height / 2]
        cv2.putText(image, name, tuple(np.rint(text).astype(int)), _TEXT_FONT, scale, grey, 1, cv2.LINE_AA)


_SHADOW_RADIUS_M = 0.3
_SHADOW_POINTS = 16


def draw_shadows(image: np.ndarray, camera: VirtualCamera, poses: list[np.ndarray],
                 person_ids: list[int]) -> None:
    """A ring on the ground under each person's pelvis (joint 0), in a dim shade of their
    colour: shows where they stand, and how high above the ground they are when they jump."""
    angles = np.linspace(0.0, 2 * np.pi, _SHADOW_POINTS, endpoint=False)
    ring = _SHADOW_RADIUS_M * np.stack([np.cos(angles), np.zeros_like(angles), np.sin(angles)], axis=1)
    for pose, person_id in zip(poses, person_ids):
        root = np.asarray(pose, np.float64)[0]
        if not np.isfinite(root).all():
            continue
        pixels, _ = camera.project(ring + [root[0], 0.0, root[2]])
        if np.isfinite(pixels).all():
            dim = tuple(c // 2 for c in person_shades(person_id)[_CENTRE])
            cv2.polylines(image, [np.asarray(_to_fixed(pixels), np.int32)], True, dim, 1, cv2.LINE_AA, _SHIFT)


def draw_skeletons_3d(image: np.ndarray, camera: VirtualCamera, poses: list[np.ndarray],
                      person_ids: list[int], layout: Layout = H36M,
                      contacts: list[np.ndarray | None] | None = None) -> None:
    """Each person's (J, 3) world pose, bones drawn far to near so nearer limbs cover
    farther ones, and their ID above the head. Non-finite joints are skipped.
    ``contacts``, per person (2,) bools or None: a white dot on the ground
    under each planted foot."""
    if len(poses) != len(person_ids):
        raise ValueError(f"got {len(poses)} poses but {len(person_ids)} person_ids")
    if not poses:
        return
    joints = layout.num_joints
    for pose in poses:
        if np.shape(pose) != (joints, 3):
            raise ValueError(f"each pose must have shape ({joints}, 3) in metres, got {np.shape(pose)}")
    pixels, depth = camera.project(np.asarray(poses, np.float64).reshape(-1, 3))
    depth = depth.reshape(len(poses), joints)
    usable = np.isfinite(pixels).all(axis=1).reshape(len(poses), joints)
    fixed = _to_fixed(pixels.reshape(len(poses), joints, 2))
    bones = skeleton_bones(layout)
    child, parent = bones.child, bones.parent
    people, drawn = np.nonzero(usable[:, child] & usable[:, parent])
    order = np.argsort(-(depth[people, child[drawn]] + depth[people, parent[drawn]]), kind="stable")
    shades = [person_shades(person_id) for person_id in person_ids]
    thickness = _line_thickness(image.shape)
    for person, bone in zip(people[order].tolist(), drawn[order].tolist()):
        cv2.line(image, fixed[person][child[bone]], fixed[person][parent[bone]],
                 shades[person][bones.bone_side[bone]], thickness, cv2.LINE_AA, _SHIFT)
    for pose, planted in zip(poses, contacts or []):
        if planted is None:
            continue
        for on, joint in zip(planted, ankle_indices(layout)):
            foot = np.asarray(pose, np.float64)[joint]
            if on and np.isfinite(foot).all():
                spot, _ = camera.project(np.array([[foot[0], 0.0, foot[2]]]))
                if np.isfinite(spot).all():
                    cv2.circle(image, _to_fixed(spot)[0], (thickness + 2) * _ONE, _CONTACT, -1, cv2.LINE_AA,
                               _SHIFT)
    for person, person_id in enumerate(person_ids):
        shown = np.flatnonzero(usable[person]).tolist()
        if shown:
            anchor = fixed[person][_label_joint(layout, shown, fixed[person])]
            _draw_label(image, str(person_id), anchor, shades[person][_CENTRE])


@lru_cache(maxsize=8)
def _blank(width: int, height: int) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND  # slow (a broadcast per pixel), hence done once per size
    image.flags.writeable = False
    return image


def blank_panel(width: int, height: int) -> np.ndarray:
    """An empty 3D view: the background colour (a copy of a cached one)."""
    return _blank(int(width), int(height)).copy()

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

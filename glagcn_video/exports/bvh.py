"""BVH motion files: the Human3.6M 17-joint hierarchy animated from 3D joints.

A BVH file stores a skeleton (each joint's constant offset from its parent)
and, per frame, the root's position and every joint's rotation as Euler
angles. The lifter gives positions, so rotations are derived here:

*Rest pose.* Every joint's frame is the world's at rest (Y up, the person
facing +Z, their left towards +X): legs hang along -Y, the spine, neck and
head point along +Y and the arms are held out sideways along +-X (a T-pose).
Bone lengths are the person's median over the video. The two joints with
several children (pelvis: both hips and the spine; thorax: neck and both
shoulders) keep the person's own median layout of those children, measured in
the frame their left-right line and their upward child span, so that the
rigid BVH pelvis and chest fit the lifted ones as well as any rigid shape can.

*Rotations, from the root down each chain* (``G`` is a joint's orientation
in the world, the rotation that carries its rest frame to its frame now):

- pelvis and thorax: the rotation that best maps their children's rest
  offsets onto the observed ones (least squares, Kabsch), each child weighted
  by the number of joints hanging on it, since a child's error moves all of
  them. Twist here is decided by the children themselves: the hip-to-hip and
  shoulder-to-shoulder lines.
- a joint with one child: the smallest rotation that turns its bone from
  where the parent's orientation carries it (``G_parent`` times the rest
  direction) onto the direction from the joint, where the file's chain has
  put it, to the lifted child ("swing", composed along the chain; aiming
  from the placed joint keeps a rigid pelvis's or a bone length's error from
  being passed on down the limb), then a twist about the bone that
  positions alone cannot fix, chosen from a second reference:

  - hips: the knee's hinge axis, thigh x shin, is put on the thigh's local
    +X, so the knee bends about its own X axis only;
  - shoulders: the elbow's hinge axis, upper arm x forearm, on the upper
    arm's local -Y (left) or +Y (right), so the elbow bends about its own Y;
  - spine: the shoulder line (right to left shoulder) on the spine's +X;
  - knees, elbows and the neck: no twist beyond the swing (the knee's and
    elbow's frame already carries the hinge from the hip or shoulder; the
    head's facing is not in the 17 joints).

  A hinge axis is only defined when the limb is bent, so the twist (the angle
  about the bone on top of the swing) follows the hinge in full from
  :data:`FULL_TWIST_DEG` of bend; below it, it moves only that fraction of
  the way from the previous frame's twist towards the hinge's, and a
  straight limb keeps the previous frame's twist (the first frames start
  from none). A limb that straightens therefore keeps its twist instead of
  spinning back to the bare swing.
- the leaves (ankles, head, wrists) carry no child, so no rotation (zeros).

The joint positions a BVH reader computes are then the lifted ones up to the
constant bone lengths and the rigid pelvis and chest; the pelvis's and
chest's children are fitted from where the chain has put those joints too.

*Euler angles.* Each joint uses the order whose middle axis is its own bone
(the twist, the smallest rotation): ``ZYX`` for the legs, spine, neck and
head (bones along Y), ``ZXY`` for the arms (bones along X), ``YXZ`` for the
root (heading first). Of the two angle triples that give each rotation, the
one nearest the previous frame is kept, with every angle moved by whole turns
towards the previous frame's, so curves are continuous (no 360 degree
flips); near the gimbal lock (middle angle within 0.5 degrees of +-90) the
third angle keeps its previous value and the first takes the rest.

Frames where the person was not tracked (before they appear, in gaps, after
they leave) hold the nearest tracked pose, so every person's file spans the
whole video and the files line up with it and with each other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np

from ..files import atomic_write
from ..skeleton import H36M

FULL_TWIST_DEG = 30.0  # bend (degrees) from which a limb's hinge sets its twist in full
GIMBAL_DEG = 0.5  # middle Euler angle this close to +-90 degrees: the third angle is held
_NAMES = H36M.joint_names
_J = {name: index for index, name in enumerate(_NAMES)}
_PARENTS = H36M.parents
_CHILDREN = [[c for c, p in enumerate(_PARENTS) if p == j] for j in range(len(_NAMES))]

_X, _Y = np.eye(3)[0], np.eye(3)[1]
# Rest direction of each single-child joint's bone (towards its child), unit.
_REST_DIRECTION = {
    "right_hip": -_Y, "right_knee": -_Y, "left_hip": -_Y, "left_knee": -_Y,
    "spine": _Y, "neck": _Y,
    "left_shoulder": _X, "left_elbow": _X, "right_shoulder": -_X, "right_elbow": -_X,
}
# Joints with several children: (the child on the right, the child on the left, the upward child).
_BRANCHES = {"pelvis": ("right_hip", "left_hip", "spine"),
             "thorax": ("right_shoulder", "left_shoulder", "neck")}
# Twist references: joint -> (the rest axis to align, the hinge's two bones or the
# line's two joints, "hinge" or "line").
_TWIST = {
    "right_hip": (_X, ("right_hip", "right_knee", "right_ankle"), "hinge"),
    "left_hip": (_X, ("left_hip", "left_knee", "left_ankle"), "hinge"),
    "left_shoulder": (-_Y, ("left_shoulder", "left_elbow", "left_wrist"), "hinge"),
    "right_shoulder": (_Y, ("right_shoulder", "right_elbow", "right_wrist"), "hinge"),
    "spine": (_X, ("right_shoulder", "left_shoulder"), "line"),
}
# The leaves' End Sites (metres, in the leaf's frame): feet forward, hands and the
# top of the head continuing their bone.
END_SITES = {"right_ankle": (0.0, 0.0, 0.12), "left_ankle": (0.0, 0.0, 0.12), "head": (0.0, 0.08, 0.0),
             "left_wrist": (0.08, 0.0, 0.0), "right_wrist": (-0.08, 0.0, 0.0)}
_ARM_ORDER, _BODY_ORDER = "ZXY", "ZYX"
EULER_ORDERS = tuple(
    "YXZ" if name == "pelvis" else _ARM_ORDER if ("shoulder" in name or "elbow" in name or "wrist" in name)
    else _BODY_ORDER for name in _NAMES)
_SUBTREE = [1] * len(_NAMES)
for _joint in reversed(range(1, len(_NAMES))):
    _SUBTREE[_PARENTS[_joint]] += _SUBTREE[_joint]


@dataclass(frozen=True)
class Motion:
    """One person's BVH: ``offsets`` (17, 3) each joint's rest offset from its
    parent (the root's is zero), ``root`` (F, 3) the pelvis per frame,
    ``angles`` (F, 17, 3) degrees, each joint's in its :data:`EULER_ORDERS`
    order, all in the units and axes of the joints given."""

    offsets: np.ndarray
    root: np.ndarray
    angles: np.ndarray
    fps: float


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm > 1e-12, norm, 1.0)


def _axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations by ``angle`` (...,) radians about unit ``axis`` (..., 3) (Rodrigues)."""
    x, y, z = np.moveaxis(axis, -1, 0)
    zero = np.zeros_like(x)
    k = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3): the smallest rotation turning unit vectors ``a`` onto ``b``
    (about a ⊥ b; opposite vectors turn half a turn about an axis ⊥ a)."""
    cross = np.cross(a, b)
    sin, cos = np.linalg.norm(cross, axis=-1), np.einsum("...d,...d->...", a, b)
    fallback = np.cross(a, np.where(np.abs(a[..., :1]) < 0.9, _X, _Y))
    axis = _unit(np.where((sin > 1e-9)[..., None], cross, fallback))
    return _axis_angle(axis, np.arctan2(sin, cos))


def kabsch(rest: np.ndarray, observed: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations R minimising sum_i w_i |R rest_i - observed_f,i|^2;
    rest (K, 3), observed (F, K, 3), weights (K,)."""
    cov = np.einsum("k,fki,kj->fij", weights, observed, rest)
    u, _, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.ones((len(cov), 3))
    fix[:, 2] = d
    return (u * fix[:, None, :]) @ vt


def _branch_frame(joints: np.ndarray, joint: str) -> np.ndarray:
    """(F, 3, 3) orthonormal frames, columns X (right-to-left child line), Y
    (towards the upward child, made perpendicular), Z = X x Y (forward)."""
    right, left, up = (joints[:, _J[n]] for n in _BRANCHES[joint])
    x = _unit(left - right)
    y = up - joints[:, _J[joint]]
    y = _unit(y - np.einsum("fd,fd->f", y, x)[:, None] * x)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def rest_offsets(joints: np.ndarray) -> np.ndarray:
    """(17, 3) rest offsets from (F, 17, 3) joints: median bone lengths along
    the rest directions, and the median layout of the pelvis's and thorax's
    children in their own frame (see the module docstring)."""
    bones = np.linalg.norm(joints[:, 1:] - joints[:, list(_PARENTS[1:])], axis=-1)
    lengths = np.concatenate([[0.0], np.median(bones, axis=0)])
    offsets = np.zeros((len(_NAMES), 3))
    for name, direction in _REST_DIRECTION.items():
        for child in _CHILDREN[_J[name]]:
            offsets[child] = direction * lengths[child]
    for joint in _BRANCHES:
        frame = _branch_frame(joints, joint)
        for child in _CHILDREN[_J[joint]]:
            local = np.einsum("fdi,fd->fi", frame, joints[:, child] - joints[:, _J[joint]])
            offsets[child] = _unit(np.median(local, axis=0)) * lengths[child]
    return offsets + 0.0  # no "-0.000000" in the file


def _twist(g: np.ndarray, bone: np.ndarray, joints: np.ndarray, name: str) -> np.ndarray:
    """``g`` (F, 3, 3) turned about its ``bone`` (F, 3) so its rest axis meets
    the joint's twist reference, taken from the lifted ``joints``."""
    rest_axis, names, kind = _TWIST[name]
    points = [joints[:, _J[n]] for n in names]
    if kind == "hinge":
        reference = np.cross(_unit(points[1] - points[0]), _unit(points[2] - points[1]))
        weight = np.clip(np.linalg.norm(reference, axis=-1) / np.sin(np.radians(FULL_TWIST_DEG)), 0, 1)
    else:
        reference = points[1] - points[0]
        weight = np.ones(len(g))
    reference = reference - np.einsum("fd,fd->f", reference, bone)[:, None] * bone
    weight = np.where(np.linalg.norm(reference, axis=-1) > 1e-9, weight, 0.0)
    current = g @ rest_axis
    wanted = np.arctan2(np.einsum("fd,fd->f", np.cross(current, reference), bone),
                        np.einsum("fd,fd->f", current, _unit(reference)))
    angle = np.zeros(len(g))
    held = 0.0
    for f in range(len(g)):  # towards the reference as far as it is trusted, else kept
        held += weight[f] * ((wanted[f] - held + np.pi) % (2 * np.pi) - np.pi)
        angle[f] = held
    return _axis_angle(bone, angle) @ g


def global_rotations(joints: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(F, 17, 3, 3) each joint's orientation in the world (module docstring).

    Bones aim at the lifted child from where the file's own chain has put
    the joint (its forward kinematics so far), not from the lifted joint, so
    a rigid pelvis's or a bone length's error is not passed on down the chain.
    """
    frames = len(joints)
    g = np.zeros((frames, len(_NAMES), 3, 3))
    placed = np.zeros_like(joints)  # where the BVH puts each joint
    placed[:, 0] = joints[:, 0]
    for j, name in enumerate(_NAMES):
        parent = g[:, _PARENTS[j]] if j else np.broadcast_to(np.eye(3), (frames, 3, 3))
        children = _CHILDREN[j]
        if name in _BRANCHES:
            weights = np.array([_SUBTREE[c] for c in children], np.float64)
            g[:, j] = kabsch(offsets[children], joints[:, children] - placed[:, j:j + 1], weights)
        elif children:
            bone = _unit(joints[:, children[0]] - placed[:, j])
            g[:, j] = swing(parent @ _REST_DIRECTION[name], bone) @ parent
            if name in _TWIST:
                g[:, j] = _twist(g[:, j], bone, joints, name)
        else:
            g[:, j] = parent
        for child in children:
            placed[:, child] = placed[:, j] + g[:, j] @ offsets[child]
    return g


def _euler_axes(order: str) -> tuple[int, int, int, float]:
    i, j, k = ("XYZ".index(a) for a in order)
    return i, j, k, 1.0 if (j - i) % 3 == 1 else -1.0


def _elementary(axis: int, angle: np.ndarray) -> np.ndarray:
    return _axis_angle(np.broadcast_to(np.eye(3)[axis], (*np.shape(angle), 3)), angle)


def euler_to_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) = R_a(first) R_b(second) R_c(third) for ``order`` "abc" and
    (..., 3) angles in radians: BVH's reading of its channels, left to right."""
    i, j, k, _ = _euler_axes(order)
    return _elementary(i, angles[..., 0]) @ _elementary(j, angles[..., 1]) @ _elementary(k, angles[..., 2])


def continuous_euler(matrices: np.ndarray, order: str) -> np.ndarray:
    """(F, 3) radians for (F, 3, 3) rotations, continuous over frames (module docstring)."""
    i, j, k, s = _euler_axes(order)
    m = matrices
    middle = np.arcsin(np.clip(s * m[:, i, k], -1.0, 1.0))
    first = np.arctan2(-s * m[:, j, k], m[:, k, k])
    third = np.arctan2(-s * m[:, i, j], m[:, i, i])
    near_lock = np.abs(np.cos(middle)) < np.sin(np.radians(GIMBAL_DEG))
    out = np.zeros((len(m), 3))
    previous: np.ndarray | None = None
    for f in range(len(m)):
        if near_lock[f]:
            held = previous[2] if previous is not None else 0.0
            rest = m[f] @ _elementary(k, np.array(-held))  # = R_i(first) R_j(middle)
            solved = np.arctan2(s * rest[k, j], rest[j, j])
            candidates = [np.array([solved, middle[f], held])]
        else:
            one = np.array([first[f], middle[f], third[f]])
            candidates = [one, np.array([one[0] + np.pi, np.pi - one[1], one[2] + np.pi])]
        if previous is not None:
            candidates = [c + 2 * np.pi * np.round((previous - c) / (2 * np.pi)) for c in candidates]
            best = min(candidates, key=lambda c: float(np.abs(c - previous).sum()))
        else:
            best = (candidates[0] + np.pi) % (2 * np.pi) - np.pi
        out[f] = previous = best
    return out


def hold_untracked(joints: np.ndarray) -> np.ndarray:
    """(N, 17, 3) with NaN rows (untracked frames) filled with the nearest
    earlier tracked frame, or the first tracked frame before it."""
    tracked = np.isfinite(joints).all(axis=(1, 2))
    if not tracked.any():
        raise ValueError("no tracked frame to hold")
    index = np.where(tracked, np.arange(len(joints)), -1)
    index = np.maximum.accumulate(index)
    index[index < 0] = np.flatnonzero(tracked)[0]
    return joints[index]


def motion_from_joints(joints: np.ndarray, fps: float) -> Motion:
    """A person's :class:`Motion` from their (N, 17, 3) joints on the video's
    frames, NaN where untracked (held, see the module docstring)."""
    filled = hold_untracked(np.asarray(joints, np.float64))
    offsets = rest_offsets(filled[np.isfinite(joints).all(axis=(1, 2))])
    g = global_rotations(filled, offsets)
    parents = np.concatenate([np.broadcast_to(np.eye(3), (len(g), 1, 3, 3)), g[:, list(_PARENTS[1:])]], axis=1)
    local = np.swapaxes(parents, -1, -2) @ g
    angles = np.stack([continuous_euler(local[:, j], EULER_ORDERS[j]) for j in range(len(_NAMES))], axis=1)
    return Motion(offsets, filled[:, 0], np.degrees(angles), fps)


def _channels(j: int) -> str:
    rotations = " ".join(f"{axis}rotation" for axis in EULER_ORDERS[j])
    return f"CHANNELS 6 Xposition Yposition Zposition {rotations}" if j == 0 else f"CHANNELS 3 {rotations}"


def _hierarchy(offsets: np.ndarray) -> list[str]:
    lines: list[str] = []

    def joint(j: int, depth: int) -> None:
        pad = "\t" * depth
        lines.extend([f"{pad}{'ROOT' if j == 0 else 'JOINT'} {_NAMES[j]}", f"{pad}{{",
                      f"{pad}\tOFFSET " + " ".join(f"{v:.6f}" for v in offsets[j]), f"{pad}\t{_channels(j)}"])
        for child in _CHILDREN[j]:
            joint(child, depth + 1)
        if not _CHILDREN[j]:
            end = " ".join(f"{v:.6f}" for v in END_SITES[_NAMES[j]])
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {end}", f"{pad}\t}}"])
        lines.append(f"{pad}}}")

    joint(0, 0)
    return lines


def write_bvh(path: str | os.PathLike, motion: Motion) -> None:
    """``motion`` as a BVH file (joints in depth-first order, which is the
    Human3.6M layout order), written to a temporary file and renamed."""
    frames = len(motion.root)
    table = np.concatenate([motion.root, motion.angles.reshape(frames, -1)], axis=1)

    def write(f: IO[str]) -> None:
        f.write("HIERARCHY\n" + "\n".join(_hierarchy(motion.offsets)) + "\n")
        f.write(f"MOTION\nFrames: {frames}\nFrame Time: {1.0 / motion.fps:.8f}\n")
        np.savetxt(f, table, fmt="%.6f", delimiter=" ")

    atomic_write(path, write, binary=False)


def person_paths(path: str | os.PathLike, person_ids: Sequence[int]) -> dict[int, str]:
    """``out.bvh`` -> ``{id: "out_<id>.bvh"}``: one file per person (also for TRC and C3D)."""
    root, suffix = os.path.splitext(os.fspath(path))
    return {pid: f"{root}_{pid}{suffix}" for pid in person_ids}

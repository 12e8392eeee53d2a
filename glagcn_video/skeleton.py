"""Joint layouts: names, parent trees, left/right lists and GCN edge lists.

Everything the model, the data code and the demo need to agree on about
joints lives here, so a joint index means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Layout:
    """A joint layout.

    ``edges`` are the (child, parent) pairs, 0-based, that the GCN's
    adjacency is built from; for Human3.6M they are exactly the parent tree,
    for HumanEva-I they are the authors' released edge list.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps every left joint with its right twin."""
        perm = np.arange(self.num_joints)
        perm[list(self.joints_left)] = self.joints_right
        perm[list(self.joints_right)] = self.joints_left
        return perm


def _tree_edges(parents: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    return tuple((child, parent) for child, parent in enumerate(parents) if parent >= 0)


def _one_based(pairs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    return tuple((child - 1, parent - 1) for child, parent in pairs)


H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

H36M = Layout(
    name="h36m",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "spine", "thorax", "neck", "head", "left_shoulder", "left_elbow",
        "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),
    parents=H36M_PARENTS,
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
    edges=_tree_edges(H36M_PARENTS),
)

# The 32-joint Human3.6M mocap skeleton and the indices dropped to get H36M.
H36M32_PARENTS = (
    -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22,
    12, 24, 25, 26, 27, 28, 27, 30,
)
H36M32_DROPPED = (4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31)
H36M32_KEPT = tuple(i for i in range(32) if i not in H36M32_DROPPED)

_HUMANEVA_EDGES_1BASED = [
    (15, 2), (2, 3), (3, 4), (4, 5), (2, 6), (6, 7), (7, 8), (2, 1), (1, 12), (12, 13),
    (13, 14), (1, 9), (9, 10), (10, 11),
]

_HUMANEVA_JOINTS = (
    "pelvis", "thorax", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
    "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip",
    "right_knee", "right_ankle", "head",
)
_HUMANEVA_PARENTS = (-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1)

HUMANEVA15 = Layout(
    name="humaneva15",
    joint_names=_HUMANEVA_JOINTS,
    parents=_HUMANEVA_PARENTS,
    joints_left=(2, 3, 4, 8, 9, 10),
    joints_right=(5, 6, 7, 11, 12, 13),
    edges=_one_based(_HUMANEVA_EDGES_1BASED),
)

# The released Mask R-CNN HumanEva model: same 15 joints, 12 edges (no (2,6), (1,9)).
HUMANEVA15_FROM_COCO17 = replace(
    HUMANEVA15,
    name="humaneva15-from-coco17",
    edges=_one_based([e for e in _HUMANEVA_EDGES_1BASED if e not in ((2, 6), (1, 9))]),
)

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO17_LEFT = (1, 3, 5, 7, 9, 11, 13, 15)
COCO17_RIGHT = (2, 4, 6, 8, 10, 12, 14, 16)

LAYOUTS: dict[str, Layout] = {
    layout.name: layout for layout in (H36M, HUMANEVA15, HUMANEVA15_FROM_COCO17)
}


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown joint layout {name!r}; known: {', '.join(LAYOUTS)}") from None

"""BVH export: files read back by an independent parser (pybvh, with its own
forward kinematics) give the joints they were made from; rotations are
continuous and the knee and elbow bend about their own hinge axis."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pybvh
import pytest
from pybvh.rotations import axisangle_to_rotmat, euler_to_rotmat, quat_to_rotmat

from demo_support import DEMO, real_detector_or_skip, shared_video
from glagcn_video.exports.bvh import (EULER_ORDERS, continuous_euler, euler_to_matrix, hold_untracked,
                                       motion_from_joints, person_paths, write_bvh)
from glagcn_video.skeleton import H36M, H36M32_KEPT

FPS = 50.0


def y_up(world_z_up: np.ndarray) -> np.ndarray:
    """Human3.6M's world (Z up) turned to Y up, right-handed: (x, y, z) -> (x, z, -y)."""
    return np.stack([world_z_up[..., 0], world_z_up[..., 2], -world_z_up[..., 1]], axis=-1).astype(np.float64)


def read_back(path) -> tuple[pybvh.Bvh, np.ndarray]:
    """The file parsed by pybvh and its forward kinematics, (F, 17, 3) in the Human3.6M joint order."""
    bvh = pybvh.read_bvh_file(path)
    order = [bvh.joint_names.index(name) for name in H36M.joint_names]
    return bvh, bvh.joint_positions()[:, order]


@pytest.fixture(scope="module")
def h36m_y_up(h36m_positions_32) -> dict[tuple[str, str], np.ndarray]:
    return {(subject, action): y_up(poses[:, list(H36M32_KEPT)])
            for subject, actions in h36m_positions_32.items()
            for action, poses in actions.items() if action in ("Walking 1", "Directions 1")}


def test_human36m_motion_read_back_by_pybvh_lands_on_the_joints(h36m_y_up, tmp_path):
    for (subject, action), joints in h36m_y_up.items():
        path = tmp_path / f"{subject}_{action.replace(' ', '_')}.bvh"
        write_bvh(path, motion_from_joints(joints, FPS))
        bvh, fk = read_back(path)
        assert bvh.frame_count == len(joints) and bvh.frame_time == pytest.approx(1 / FPS)
        assert [bvh.joint_names.index(n) for n in H36M.joint_names] == list(range(17))
        parents = {j.name: j.parent.name for j in bvh.nodes if not j.is_end_site() and j.parent is not None}
        assert parents == {H36M.joint_names[c]: H36M.joint_names[p] for c, p in enumerate(H36M.parents) if p >= 0}
        error = np.linalg.norm(fk - joints, axis=-1)
        assert error.mean() < 0.015, (subject, action, error.mean(0))
        assert error[:, :9].mean() < 0.006  # legs and spine: single-child chains, exact up to bone lengths
        # Constant bones of the median length.
        bones = np.linalg.norm(fk[:, 1:] - fk[:, list(H36M.parents[1:])], axis=-1)
        median = np.median(np.linalg.norm(joints[:, 1:] - joints[:, list(H36M.parents[1:])], axis=-1), axis=0)
        np.testing.assert_allclose(bones, np.broadcast_to(median, bones.shape), atol=2e-5)


def test_euler_angles_follow_the_bvh_convention_and_round_trip():
    """BVH reads "Zrotation Yrotation Xrotation" as Rz @ Ry @ Rx (intrinsic);
    pybvh, independently, agrees, and extraction gives the matrices back."""
    rng = np.random.default_rng(1)
    matrices = quat_to_rotmat(rng.normal(size=(300, 4)))
    for order in sorted(set(EULER_ORDERS)) + ["XYZ", "YZX"]:
        angles = rng.uniform(-3, 3, size=(50, 3)) * [1, 0.5, 1]
        np.testing.assert_allclose(euler_to_matrix(angles, order), euler_to_rotmat(angles, order), atol=1e-12)
        back = continuous_euler(matrices, order)
        np.testing.assert_allclose(euler_to_matrix(back, order), matrices, atol=1e-9)


def test_a_spinning_dancer_and_a_deep_knee_bend_stay_continuous(h36m_y_up):
    """Two full turns about world up (the root's heading passes +-180 twice)
    and a knee bending to 150 degrees (past the 90 of a gimbal lock in some
    orders): every angle curve moves in small steps and keeps counting."""
    pose = h36m_y_up["S1", "Directions 1"][0]
    frames = 200
    turn = np.linspace(0, 4 * np.pi, frames)
    spin = axisangle_to_rotmat(turn[:, None] * [0.0, 1.0, 0.0])
    joints = np.einsum("fij,kj->fki", spin, pose - pose[0]) + pose[0]
    knee, ankle = H36M.joint_names.index("left_knee"), H36M.joint_names.index("left_ankle")
    hip = H36M.joint_names.index("left_hip")
    bend = np.radians(np.linspace(0, 150, frames))
    shank = np.linalg.norm(pose[ankle] - pose[knee])
    thigh = pose[knee] - pose[hip]
    down = thigh / np.linalg.norm(thigh)
    forward = np.cross(pose[hip] - pose[H36M.joint_names.index("right_hip")], [0.0, 1.0, 0.0])
    hinge = np.cross(down, -forward)
    hinge /= np.linalg.norm(hinge)  # across the body: the shank swings backwards about it
    for f in range(frames):  # bend the knee, then spin with the body
        back = axisangle_to_rotmat(hinge * bend[f]) @ down
        joints[f, ankle] = spin[f] @ (pose[knee] + back * shank - pose[0]) + pose[0]
    motion = motion_from_joints(joints, FPS)
    steps = np.abs(np.diff(motion.angles, axis=0))
    assert steps.max() < 8.0
    heading = motion.angles[:, 0, 0]  # the root's first channel (Y: heading)
    assert abs(heading[-1] - heading[0]) == pytest.approx(720.0, abs=1.0)
    knee_angles = motion.angles[:, knee]  # ZYX: the hinge (X) is the last channel, the others stay small
    assert abs(knee_angles[-1, 2]) == pytest.approx(150.0, abs=2.0)
    assert np.abs(knee_angles[:, :2]).max() < 2.0


def test_untracked_frames_hold_the_nearest_tracked_pose():
    joints = np.full((6, 17, 3), np.nan)
    joints[2] = 1.0
    joints[4] = 2.0
    held = hold_untracked(joints)
    assert held[:, 0, 0].tolist() == [1.0, 1.0, 1.0, 1.0, 2.0, 2.0]
    with pytest.raises(ValueError):
        hold_untracked(np.full((3, 17, 3), np.nan))


def test_one_file_name_per_person():
    assert person_paths("out/anim.bvh", [1, 12]) == {1: "out/anim_1.bvh", 12: "out/anim_12.bvh"}


# --- Real clip, real detector and lifter (slow) --------------------------------------------------------

BLENDER_IMPORT = """
import builtins, json, sys
import bpy
_open = builtins.open
def _open_without_u(file, mode="r", *args, **kwargs):  # Blender 3.4's importer opens with 'rU'
    return _open(file, mode.replace("U", ""), *args, **kwargs)
builtins.open = _open_without_u
path, frame = sys.argv[-2], int(sys.argv[-1])
bpy.ops.import_anim.bvh(filepath=path, axis_forward="-Z", axis_up="Y", global_scale=1.0, frame_start=1,
                        use_fps_scale=False, rotate_mode="NATIVE")
armature = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"][0]
bpy.context.scene.frame_set(frame)
heads = {b.name: list(armature.matrix_world @ b.head) for b in armature.pose.bones}
print("RESULT" + json.dumps({"bones": len(armature.data.bones), "heads": heads}))
"""


@pytest.fixture(scope="module")
def real_clip_run(tmp_path_factory) -> Path:
    """The first 2.5 s of the tai chi clip through demo.py with the real
    detector and the shipped lifter: world-frame NPZ, BVH and angles."""
    source = shared_video("taichi_1person.mp4")
    detector = real_detector_or_skip()
    folder = tmp_path_factory.mktemp("real_bvh")
    clip = folder / "taichi.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(source), "-frames:v", "60",
                    "-c:v", "libx264", "-an", str(clip)], check=True)
    done = subprocess.run([sys.executable, str(DEMO), str(clip), "--out", str(folder / "taichi_out.mp4"),
                           "--npz", "--bvh", "--angles", "--frame", "world", "--detector", detector],
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.mark.slow
def test_real_clip_bvh_read_back_lands_within_2_cm_of_the_lifted_joints(real_clip_run):
    """The BVH's constant bones cannot follow a lifter whose bone lengths vary
    from frame to frame: here they vary by 0.1-1.3 cm and the file lands 0.3
    cm from the lifted joints; on the 240p basketball clip (players 100 px
    tall) thighs and shins vary by 5-7 cm and it lands 2.6-2.9 cm away."""
    with np.load(real_clip_run / "taichi_out.npz") as npz:
        assert str(npz["axes"]) == "world"
        frame, person, joints = npz["frame"], npz["person_id"], npz["joints_3d"]
    people = sorted(set(person.tolist()))
    assert sorted(p.name for p in real_clip_run.glob("*.bvh")) == [f"taichi_out_{i}.bvh" for i in people]
    for pid in people:
        bvh, fk = read_back(real_clip_run / f"taichi_out_{pid}.bvh")
        assert bvh.frame_count == 60 and bvh.frame_time == pytest.approx(1001 / 24000, rel=1e-4)
        mine = person == pid
        error = np.linalg.norm(fk[frame[mine]] - joints[mine], axis=-1)
        assert error.mean() < 0.02, (pid, error.mean(0))
    angles = (real_clip_run / "taichi_out_angles.csv").read_text().splitlines()
    assert len(angles) == 1 + len(frame)


@pytest.mark.slow
def test_blender_imports_the_bvh_with_17_bones_on_the_joints(real_clip_run):
    """Blender 3.4's own BVH importer (File > Import > Motion Capture, Forward
    -Z, Up Y, scale 1): 17 bones, and each bone's head at frame 41 where the
    file puts that joint, in Blender's Z-up axes (x, -z, y)."""
    if shutil.which("blender") is None:
        pytest.skip("Blender is not installed")
    path = sorted(real_clip_run.glob("*.bvh"))[0]
    script = real_clip_run / "import_bvh.py"
    script.write_text(BLENDER_IMPORT)
    done = subprocess.run(["blender", "-b", "--factory-startup", "--python", str(script), "--", str(path), "41"],
                          capture_output=True, text=True, timeout=600)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
    assert line is not None, done.stdout[-2000:] + done.stderr[-2000:]
    imported = json.loads(line[len("RESULT"):])
    assert imported["bones"] == 17
    _, fk = read_back(path)
    expected = fk[40]  # Blender's frame 41 is the file's 41st frame (frame_start=1)
    blender = np.array([imported["heads"][name] for name in H36M.joint_names])
    np.testing.assert_allclose(blender, np.stack([expected[:, 0], -expected[:, 2], expected[:, 1]], axis=1),
                               atol=1e-3)

"""Every export of a run through ``exports.formats.write_exports``: which axes each
is in, the camera's pose beside them, names per person, all-or-nothing.
People are Human3.6M ground truth seen through a real Human3.6M camera, so
the world frame must put them upright on the floor."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pybvh
import pytest

from glagcn_video.camera import world_to_camera
from glagcn_video.datasets.load import camera_for, load_cameras
from glagcn_video.files import DemoError
from glagcn_video.exports import formats
from glagcn_video.exports.formats import Exports, write_exports
from glagcn_video.pipeline.runner import DemoResult, Person, first_appearance_order
from glagcn_video.pipeline.video import VideoInfo
from glagcn_video.world.frame import estimate_world_frame
from glagcn_video.skeleton import H36M, H36M32_KEPT

FPS = 50.0
VIDEO = VideoInfo(Path("clip.mp4"), width=1000, height=1002, fps=FPS, header_frames=120, is_image=False)


@pytest.fixture(scope="module")
def result(h36m_positions_32, cameras_json) -> DemoResult:
    """Two people in camera space: S9 walking on frames 0-99 and S1 walking on
    frames 30-119 with a gap at 60-69."""
    cam = camera_for(load_cameras(cameras_json), "S9")[0]
    people = []
    for pid, subject, frames in ((4, "S9", np.arange(0, 100)),
                                 (7, "S1", np.r_[np.arange(30, 60), np.arange(70, 120)])):
        world = h36m_positions_32[subject]["Walking 1"][:len(frames), list(H36M32_KEPT)]
        joints = world_to_camera(world, cam.orientation, cam.translation).astype(np.float32)
        for part in np.split(np.arange(len(frames)), np.flatnonzero(np.diff(frames) > 1) + 1):
            poses = joints[part] - joints[part, :1]
            people.append(Person(pid, frames[part], np.zeros((len(part), 17, 2), np.float32),
                                 np.ones((len(part), 17), np.float32), poses, joints[part, 0]))
    world = estimate_world_frame([p.joints_3d for p in first_appearance_order(people)])
    return DemoResult(VIDEO, 120, 1145.0, people, raw_tracks=[], world=world)


def write(result: DemoResult, folder: Path, exports: Exports) -> list[Path]:
    return write_exports(exports, folder / "clip.mp4", result.rows(), result.people, [], result.num_frames,
                         FPS, result.focal, (VIDEO.width, VIDEO.height), result.world)


def read_csv_joints(path: Path) -> np.ndarray:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([[[float(r[f"{j}_{a}"]) for a in "xyz"] for j in H36M.joint_names] for r in rows])


def test_defaults_camera_csv_world_animation_files_and_the_camera_pose(result, tmp_path):
    exports = Exports.named_after(tmp_path / "clip", ["csv", "npz", "bvh", "trc", "c3d", "angles"])
    written = write(result, tmp_path, exports)
    names = sorted(p.name for p in written)
    assert names == sorted(["clip.csv", "clip.npz", "clip_4.bvh", "clip_7.bvh", "clip_4.trc", "clip_7.trc",
                            "clip_4.c3d", "clip_7.c3d", "clip_angles.csv", "clip.camera.json"])
    rows = result.rows()
    np.testing.assert_allclose(read_csv_joints(tmp_path / "clip.csv"), rows.joints_3d, atol=1e-4)  # camera
    world = result.world
    with np.load(tmp_path / "clip.npz") as npz:
        assert str(npz["axes"]) == "camera"
        np.testing.assert_allclose(npz["camera_position"], world.camera_position, atol=1e-6)
        np.testing.assert_allclose(npz["camera_rotation"] @ rows.joints_3d[0, 0] + npz["camera_position"],
                                   world.to_world(rows.joints_3d[0, 0]), atol=1e-5)
    pose = json.loads((tmp_path / "clip.camera.json").read_text())
    np.testing.assert_allclose(pose["camera_position"], world.camera_position, atol=1e-5)
    assert pose["image_size"] == [1000, 1002] and pose["focal_px"] == 1145.0
    assert pose["world_axes"]["y"].startswith("up")
    # The BVH of person 7 spans the video; its joints are the world joints where tracked.
    bvh = pybvh.read_bvh_file(tmp_path / "clip_7.bvh")
    fk = bvh.joint_positions()[:, [bvh.joint_names.index(n) for n in H36M.joint_names]]
    assert bvh.frame_count == 120
    seven = rows.person_id == 7
    truth = world.to_world(rows.joints_3d[seven])
    assert np.linalg.norm(fk[rows.frame[seven]] - truth, axis=-1).mean() < 0.015
    np.testing.assert_allclose(fk[60:70], np.repeat(fk[59:60], 10, axis=0), atol=1e-5)  # the gap holds
    # Upright on the floor: ankles ~5 cm above y = 0, heads ~1.6 m up.
    assert np.median(truth[:, [3, 6], 1].min(axis=1)) == pytest.approx(0.05, abs=0.03)
    assert 1.4 < np.median(truth[:, 10, 1]) < 1.9
    # The TRC of person 7 covers frames 30-119 in world millimetres, the gap empty.
    lines = (tmp_path / "clip_7.trc").read_text().splitlines()
    data = [line.split("\t") for line in lines[6:]]
    assert len(data) == 90 and data[0][0] == "31" and all(v == "NaN" for v in data[35][2:])
    np.testing.assert_allclose([float(v) for v in data[0][2:5]], truth[0, 0] * 1000, atol=0.01)


def test_frame_world_and_frame_camera_apply_to_every_format(result, tmp_path):
    world_dir, camera_dir = tmp_path / "w", tmp_path / "c"
    world_dir.mkdir()
    camera_dir.mkdir()
    write(result, world_dir, Exports.named_after(world_dir / "clip", ["csv", "bvh"], frame="world"))
    np.testing.assert_allclose(read_csv_joints(world_dir / "clip.csv"),
                               result.world.to_world(result.rows().joints_3d), atol=1e-4)
    written = write(result, camera_dir, Exports.named_after(camera_dir / "clip", ["csv", "bvh"], frame="camera"))
    assert "clip.camera.json" not in [p.name for p in written]  # nothing in world axes
    bvh = pybvh.read_bvh_file(camera_dir / "clip_4.bvh")
    rows = result.rows()
    four = rows.person_id == 4
    fk = bvh.joint_positions()[:, [bvh.joint_names.index(n) for n in H36M.joint_names]]
    assert np.linalg.norm(fk[rows.frame[four]] - rows.joints_3d[four], axis=-1).mean() < 0.015


def test_a_failing_export_removes_the_ones_already_written(result, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(formats, "write_c3d", disk_full)
    with pytest.raises(OSError, match="No space"):
        write(result, tmp_path, Exports.named_after(tmp_path / "clip", ["csv", "bvh", "trc", "c3d"]))
    assert list(tmp_path.iterdir()) == []


def test_output_checks_name_the_file(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"")
    with pytest.raises(DemoError, match="unsupported output extension"):
        Exports(bvh=tmp_path / "anim.fbx").check(video, tmp_path / "out.mp4")
    with pytest.raises(DemoError, match="would overwrite"):
        Exports(csv=tmp_path / "a.csv", angles=tmp_path / "a.csv").check(video, tmp_path / "out.mp4")
    with pytest.raises(DemoError, match="--frame sideways: must be camera or world"):
        Exports(frame="sideways")
    assert Exports.from_options({"csv": True, "angles": Path("x.csv"), "bvh": None}, tmp_path / "run") == Exports(
        csv=tmp_path / "run.csv", angles=Path("x.csv"))

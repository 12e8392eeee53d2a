"""Data preparation (3D npz, ground-truth 2D) and loading (targets, inputs, windows)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import (ROOT, SMALL_ACTIONS, SMALL_FRAMES, SMALL_SUBJECTS, camera_params,
                      save_npz_dict, shared_path)
from glagcn_video.datasets.load import (H36M_CAMERAS, DataError, Sequence, load_cameras, load_dataset,
                                        load_npz_dict, load_positions_3d)
from glagcn_video.datasets.prepare_h36m import prepare
from glagcn_video.datasets.windows import WindowSampler, flip_poses
from glagcn_video.skeleton import H36M, H36M32_KEPT, HUMANEVA15

PREPARE = ROOT / "data" / "prepare_data_h36m.py"


# ---------------------------------------------------------------- helpers independent of the code

def rotation_matrix(q: np.ndarray) -> np.ndarray:
    """The rotation of unit quaternion (w, x, y, z), as a 3x3 matrix."""
    w, x, y, z = np.asarray(q, np.float64)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def to_camera(world: np.ndarray, cam: dict) -> np.ndarray:
    """World metres -> camera metres: R^T (X - t), t given in mm."""
    return (world - np.asarray(cam["translation"]) / 1000) @ rotation_matrix(cam["orientation"])


def project(x_cam: np.ndarray, cam: dict) -> np.ndarray:
    """The spec's distortion model, written out once more."""
    u = np.clip(x_cam[..., 0] / x_cam[..., 2], -1, 1)
    v = np.clip(x_cam[..., 1] / x_cam[..., 2], -1, 1)
    k1, k2, k3 = cam["radial_distortion"]
    p1, p2 = cam["tangential_distortion"]
    r2 = u * u + v * v
    factor = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3 + p1 * u + p2 * v
    fx, fy = cam["focal_length"]
    cx, cy = cam["center"]
    return np.stack([fx * (u * factor + p1 * r2) + cx, fy * (v * factor + p2 * r2) + cy], axis=-1)


# ---------------------------------------------------------------- preparation

def test_prepare_writes_3d_2d_and_cameras(h36m_small, h36m_positions_32, cameras_json):
    assert (h36m_small / "cameras.json").read_text() == cameras_json.read_text()
    assert load_npz_dict(h36m_small / "data_3d_h36m.npz", "positions_3d").keys() == set(SMALL_SUBJECTS)

    with np.load(h36m_small / "data_2d_h36m_gt.npz", allow_pickle=True) as f:
        positions_2d = f["positions_2d"].item()
        metadata = f["metadata"].item()
    assert metadata == {"layout_name": "h36m", "num_joints": 17,
                        "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    assert set(positions_2d) == set(SMALL_SUBJECTS)
    for subject in SMALL_SUBJECTS:
        assert set(positions_2d[subject]) == set(SMALL_ACTIONS)
        for action in SMALL_ACTIONS:
            views = positions_2d[subject][action]
            assert len(views) == 4
            assert all(v.shape == (SMALL_FRAMES, 17, 2) and v.dtype == np.float32 for v in views)

    # The known value: S1 "Directions 1", camera 54138969, frame 0, pelvis.
    np.testing.assert_allclose(positions_2d["S1"]["Directions 1"][0][0, 0], [473.6835, 444.9425], atol=1e-3)

    # Every joint of a few frames, in every camera, against an independent projection.
    for subject, action in [("S1", "Directions 1"), ("S9", "Walking")]:
        world = h36m_positions_32[subject][action][::97, H36M32_KEPT].astype(np.float64)
        for index in range(4):
            cam = camera_params(cameras_json, subject, index)
            expected = project(to_camera(world, cam), cam)
            np.testing.assert_allclose(positions_2d[subject][action][index][::97], expected, atol=2e-3)


def test_prepare_cli(tmp_path, h36m_small, cameras_json):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(PREPARE), "--from-3d", str(h36m_small / "data_3d_h36m.npz"),
         "--cameras", str(cameras_json), "--output-dir", str(out)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in ("data_3d_h36m.npz", "data_2d_h36m_gt.npz", "cameras.json"):
        assert (out / name).is_file()
        assert f"wrote {out / name}" in result.stdout
    ours = load_npz_dict(out / "data_2d_h36m_gt.npz", "positions_2d")
    reference = load_npz_dict(h36m_small / "data_2d_h36m_gt.npz", "positions_2d")
    np.testing.assert_array_equal(ours["S9"]["Walking 1"][3], reference["S9"]["Walking 1"][3])


def test_prepare_cli_without_cameras_uses_the_shipped_calibration(tmp_path, h36m_small):
    """No --cameras: the package's Human3.6M constants give the same 2D as the share's file."""
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(PREPARE), "--from-3d", str(h36m_small / "data_3d_h36m.npz"),
         "--output-dir", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    ours = load_npz_dict(out / "data_2d_h36m_gt.npz", "positions_2d")
    reference = load_npz_dict(h36m_small / "data_2d_h36m_gt.npz", "positions_2d")
    for subject in ("S1", "S9"):
        for camera in range(4):
            np.testing.assert_array_equal(ours[subject]["Walking 1"][camera],
                                          reference[subject]["Walking 1"][camera])


def test_shipped_calibration_is_the_datasets(cameras_json):
    shipped, shared = load_cameras(H36M_CAMERAS), load_cameras(cameras_json)
    assert shipped.keys() == shared.keys() == {"S1", "S5", "S6", "S7", "S8", "S9", "S11"}
    for subject in shipped:
        for a, b in zip(shipped[subject], shared[subject], strict=True):
            assert vars(a).keys() == vars(b).keys()
            for key, value in vars(a).items():
                np.testing.assert_array_equal(np.asarray(value), np.asarray(vars(b)[key]), err_msg=key)


def test_training_data_without_cameras_json_uses_the_shipped_calibration(h36m_copy, h36m_small):
    (h36m_copy / "cameras.json").unlink()
    without = load_dataset("h36m", h36m_copy, subjects=["S9"]).sequences
    with_file = load_dataset("h36m", h36m_small, subjects=["S9"]).sequences
    assert len(without) == len(with_file) > 0
    for a, b in zip(without, with_file):
        np.testing.assert_array_equal(a.poses_3d, b.poses_3d)
        np.testing.assert_array_equal(a.poses_2d, b.poses_2d)


@pytest.fixture
def prepare_main(monkeypatch):
    """The CLI's main(), in this process (its own start-up is covered by test_prepare_cli)."""
    spec = importlib.util.spec_from_file_location("prepare_data_h36m", PREPARE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # main() replaces it
    return module.main


@pytest.mark.parametrize("missing", ["from-3d", "cameras", "from-archive"])
def test_prepare_cli_missing_file(tmp_path, h36m_small, cameras_json, missing, prepare_main, capsys):
    absent = tmp_path / "no_such_file.npz"
    args = {"from-3d": ["--from-3d", str(h36m_small / "data_3d_h36m.npz")],
            "cameras": ["--cameras", str(cameras_json)]}
    if missing == "from-archive":
        del args["from-3d"]
    args[missing] = [f"--{missing}", str(absent)]
    assert prepare_main([*sum(args.values(), []), "--output-dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {absent}: "), err


# A fake of the public 3d-pose-baseline release: h36m/S*/MyPoses/3D_positions/<action>.h5,
# dataset "3D_positions" of shape (96, frames) in mm, row = joint * 3 + coordinate.
ARCHIVE_SEQUENCES = {  # file action name -> (subject, source action in the shared 3D, canonical name)
    ("S1", "Directions 1"): ("S1", "Directions 1", "Directions 1"),
    ("S1", "TakingPhoto 1"): ("S1", "Directions", "Photo 1"),
    ("S1", "WalkingDog"): ("S1", "Walking 1", "WalkDog"),
    ("S9", "Walking"): ("S9", "Walking", "Walking"),
    ("S11", "Directions"): ("S9", "Directions", None),  # VideoPose3D drops it: corrupt video
}


def write_fake_release(folder: Path, positions: dict) -> Path:
    import h5py

    base = folder / "h36m"
    for (subject, file_action), (src_subject, src_action, _) in ARCHIVE_SEQUENCES.items():
        poses_mm = positions[src_subject][src_action][:60].astype(np.float64) * 1000  # (F, 32, 3)
        path = base / subject / "MyPoses" / "3D_positions" / f"{file_action}.h5"
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            f["3D_positions"] = poses_mm.transpose(1, 2, 0).reshape(96, -1)
    (base / "S1" / "MyPoses" / "3D_positions" / "Eating.h5").write_bytes(b"not an hdf5 file" * 10)
    (base / "S1" / "MyPoses" / "3D_positions" / "readme.txt").write_text("ignored")
    return base


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_prepare_from_archive(tmp_path, h36m_positions_32, cameras_json, kind):
    source = write_fake_release(tmp_path / "release", h36m_positions_32)
    if kind == "zip":
        archive = tmp_path / "h36m.zip"
        with zipfile.ZipFile(archive, "w") as z:
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    z.write(path, path.relative_to(source.parent).as_posix())
        source = archive

    out = tmp_path / "out"
    with pytest.warns(UserWarning) as caught:
        written = prepare(out, cameras_json, from_archive=source)
    messages = [str(w.message) for w in caught]
    assert any("S1/Eating.h5" in m for m in messages), messages  # the corrupt file, skipped
    assert any("no sequences for subject S5" in m for m in messages)
    assert [p.name for p in written] == ["data_3d_h36m.npz", "data_2d_h36m_gt.npz", "cameras.json"]

    positions = load_npz_dict(out / "data_3d_h36m.npz", "positions_3d")
    assert set(positions) == {"S1", "S9"}  # S11 had only "Directions", which is dropped
    assert set(positions["S1"]) == {"Directions 1", "Photo 1", "WalkDog"}
    for (subject, _), (src_subject, src_action, name) in ARCHIVE_SEQUENCES.items():
        if name is not None:
            assert positions[subject][name].shape == (60, 32, 3)
            assert positions[subject][name].dtype == np.float32
            np.testing.assert_allclose(positions[subject][name],
                                       h36m_positions_32[src_subject][src_action][:60], atol=1e-6)
    positions_2d = load_npz_dict(out / "data_2d_h36m_gt.npz", "positions_2d")
    np.testing.assert_allclose(positions_2d["S1"]["Directions 1"][0][0, 0], [473.6835, 444.9425], atol=1e-3)


def test_prepare_from_archive_without_h5_files(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "Directions 1.h5").write_bytes(b"")  # not under S*/MyPoses/3D_positions/
    with pytest.raises(DataError, match="no S\\*/MyPoses/3D_positions/\\*.h5 files found"):
        prepare(tmp_path / "out", tmp_path / "cameras.json", from_archive=tmp_path / "empty")
    with pytest.raises(DataError, match="neither a folder nor a zip archive"):
        prepare(tmp_path / "out", tmp_path / "cameras.json", from_archive=tmp_path / "empty" / "Directions 1.h5")


# ---------------------------------------------------------------- loading

def test_targets_are_camera_space_root_relative(h36m_small, h36m_positions_32, cameras_json):
    dataset = load_dataset("h36m", h36m_small, subjects=["S9"])
    assert len(dataset.sequences) == len(SMALL_ACTIONS) * 4
    seq = next(s for s in dataset.sequences if s.action == "Walking 1" and s.camera == 2)
    assert seq.subject == "S9" and seq.action_group == "Walking"
    assert seq.poses_3d.shape == (SMALL_FRAMES, 17, 3) and seq.poses_2d.shape == (SMALL_FRAMES, 17, 2)
    assert seq.poses_3d.dtype == np.float32 and seq.poses_2d.dtype == np.float32

    assert np.all(seq.poses_3d[:, 0] == 0)
    cam = camera_params(cameras_json, "S9", 2)
    cam_space = to_camera(h36m_positions_32["S9"]["Walking 1"][:, H36M32_KEPT].astype(np.float64), cam)
    np.testing.assert_allclose(seq.poses_3d, cam_space - cam_space[:, :1], atol=1e-5)
    # A camera-space pose, not a world one: depth is along the camera's z, not the world's.
    world_rel = h36m_positions_32["S9"]["Walking 1"][:, H36M32_KEPT] - h36m_positions_32["S9"]["Walking 1"][:, :1]
    assert np.abs(seq.poses_3d - world_rel).max() > 0.1

    # Normalised input, by hand: x / w * 2 - 1, y / w * 2 - h / w.
    pixels = load_npz_dict(h36m_small / "data_2d_h36m_gt.npz", "positions_2d")["S9"]["Walking 1"][2]
    w, h = cam["res_w"], cam["res_h"]
    x, y = pixels[123, 7]
    assert seq.poses_2d[123, 7, 0] == pytest.approx(x / w * 2 - 1, abs=1e-6)
    assert seq.poses_2d[123, 7, 1] == pytest.approx(y / w * 2 - h / w, abs=1e-6)


def test_select_pools_sub_actions(h36m_small):
    dataset = load_dataset("h36m", h36m_small, subjects=SMALL_SUBJECTS)
    assert {s.subject for s in dataset.sequences} == set(SMALL_SUBJECTS)
    walking = dataset.select(["S1"], ["Walking"])
    assert sorted({s.action for s in walking}) == ["Walking", "Walking 1"]
    assert len(walking) == 8
    assert len(dataset.select(["S1", "S9"])) == 32


def rewrite_2d(folder: Path, edit) -> Path:
    path = folder / "data_2d_h36m_gt.npz"
    with np.load(path, allow_pickle=True) as f:
        positions, metadata = f["positions_2d"].item(), f["metadata"].item()
    edit(positions)
    save_npz_dict(path, positions_2d=positions, metadata=metadata)
    return path


def test_longer_2d_is_trimmed_to_the_3d_length(h36m_copy, cameras_json):
    original = load_npz_dict(h36m_copy / "data_2d_h36m_gt.npz", "positions_2d")["S1"]["Directions"][1]

    def add_frames(p):
        p["S1"]["Directions"] = [np.concatenate([v, np.full((25, 17, 2), 1e4, np.float32)])
                                 for v in p["S1"]["Directions"]]
    rewrite_2d(h36m_copy, add_frames)
    seq = next(s for s in load_dataset("h36m", h36m_copy, subjects=["S1"]).sequences
               if s.action == "Directions" and s.camera == 1)
    assert seq.poses_2d.shape == (SMALL_FRAMES, 17, 2)
    cam = camera_params(cameras_json, "S1", 1)
    assert (cam["res_w"], cam["res_h"]) == (1000, 1000)
    np.testing.assert_allclose(seq.poses_2d, original / 1000 * 2 - 1, atol=1e-6)


def _drop_action(p):
    del p["S1"]["Walking"]


def _shorten(p):
    p["S1"]["Walking"] = [v[:-1] for v in p["S1"]["Walking"]]


def _sixteen_joints(p):
    p["S1"]["Walking"] = [v[:, :16] for v in p["S1"]["Walking"]]


def _nan(p):
    p["S1"]["Walking"][2][100, 3, 0] = np.nan


def _three_cameras(p):
    p["S1"]["Walking"] = p["S1"]["Walking"][:3]


def _drop_subject(p):
    del p["S1"]


@pytest.mark.parametrize("edit, message", [
    (_drop_subject, "no subject S1 \\(has S9\\)"),
    (_drop_action, "S1 has no action 'Walking'"),
    (_shorten, f"S1 Walking camera 0: 2D has {SMALL_FRAMES - 1} frames but 3D has {SMALL_FRAMES}"),
    (_sixteen_joints, "S1 Walking camera 0: 2D shape \\(400, 16, 2\\), expected \\(frames, 17, 2\\)"),
    (_nan, "S1 Walking camera 2: 2D keypoints contain NaN"),
    (_three_cameras, "S1 Walking has 3 cameras, expected 4"),
], ids=["subject", "action", "shorter", "joints", "nan", "cameras"])
def test_bad_2d_file(h36m_copy, edit, message):
    path = rewrite_2d(h36m_copy, edit)
    with pytest.raises(DataError, match=message) as info:
        load_dataset("h36m", h36m_copy, subjects=["S1"])
    assert str(info.value).startswith(f"{path}: ")


def test_bad_3d_file(h36m_copy, h36m_positions_32):
    path = h36m_copy / "data_3d_h36m.npz"
    with pytest.raises(DataError, match="no subject S5 \\(has S1, S9\\)") as info:
        load_dataset("h36m", h36m_copy, subjects=["S5"])
    assert str(info.value).startswith(f"{path}: ")

    broken = {s: dict(a) for s, a in h36m_positions_32.items()}
    broken["S9"]["Walking"] = broken["S9"]["Walking"].copy()
    broken["S9"]["Walking"][5, 0, 1] = np.nan
    save_npz_dict(path, positions_3d=broken)
    with pytest.raises(DataError, match=f"^{path}: S9 Walking contains NaN"):
        load_dataset("h36m", h36m_copy, subjects=["S1"])

    broken["S9"]["Walking"] = broken["S9"]["Walking"][:, :20]
    save_npz_dict(path, positions_3d=broken)
    with pytest.raises(DataError, match=f"^{path}: S9 Walking has shape \\(400, 20, 3\\)"):
        load_positions_3d(path, "h36m")


def test_missing_or_wrong_files(tmp_path, h36m_copy):
    (h36m_copy / "data_2d_h36m_gt.npz").unlink()
    with pytest.raises(DataError, match=f"^{h36m_copy / 'data_2d_h36m_gt.npz'}: file not found"):
        load_dataset("h36m", h36m_copy)
    np.savez(h36m_copy / "data_2d_h36m_gt.npz", something=np.zeros(3))
    with pytest.raises(DataError, match="no 'positions_2d' array"):
        load_dataset("h36m", h36m_copy)
    (h36m_copy / "cameras.json").write_text("{not json")
    with pytest.raises(DataError, match=f"^{h36m_copy / 'cameras.json'}: not a valid camera file"):
        load_dataset("h36m", h36m_copy)
    with pytest.raises(DataError, match="unknown dataset 'h37m'"):
        load_dataset("h37m", h36m_copy)


def test_humaneva_files_load():
    positions = load_positions_3d(shared_path("humaneva/data_3d_humaneva15.npz"), "humaneva15")
    assert set(positions) == {f"{split}/S{i}" for split in ("Train", "Validate") for i in (1, 2, 3)}
    shapes = [p.shape for actions in positions.values() for p in actions.values()]
    assert len(shapes) > 50 and all(s[1:] == (15, 3) and s[0] > 0 for s in shapes)
    keypoints = load_npz_dict(shared_path("humaneva/data_2d_humaneva15_gt.npz"), "positions_2d")
    for subject, actions in positions.items():
        for action, poses in actions.items():
            views = keypoints[subject][action]
            assert len(views) == 3 and all(v.shape == (len(poses), 15, 2) for v in views)
    # The H3.6M 32 -> 17 reduction does not touch 15-joint data; a 15-joint file is no H3.6M file.
    with pytest.raises(DataError, match="expected \\(frames, 17, 3\\)"):
        load_positions_3d(shared_path("humaneva/data_3d_humaneva15.npz"), "h36m")


# ---------------------------------------------------------------- windows and flipping

def ramp_sequence(frames: int, joints: int = 17, start: float = 0.0) -> Sequence:
    """2D whose every value is its frame number (+ start), 3D = frame * 10 + joint."""
    poses_2d = np.broadcast_to(np.arange(frames, dtype=np.float32)[:, None, None] + start,
                               (frames, joints, 2)).copy()
    poses_3d = np.broadcast_to(np.arange(frames, dtype=np.float32)[:, None, None] * 10
                               + np.arange(joints)[None, :, None], (frames, joints, 3)).copy()
    return Sequence("S0", "Test", 0, poses_2d, poses_3d)


def window_frames(sampler: WindowSampler, index: int) -> list[float]:
    x, _ = sampler.batch(np.array([index]))
    assert np.all(x[0] == x[0, :, :1, :1])  # every joint/coordinate of a frame is that frame
    return x[0, :, 0, 0].tolist()


def test_windows_are_centred_with_edge_frames_repeated():
    sampler = WindowSampler([ramp_sequence(6), ramp_sequence(4, start=100)], 5, H36M)
    assert len(sampler) == 10
    assert window_frames(sampler, 0) == [0, 0, 0, 1, 2]
    assert window_frames(sampler, 1) == [0, 0, 1, 2, 3]
    assert window_frames(sampler, 3) == [1, 2, 3, 4, 5]
    assert window_frames(sampler, 5) == [3, 4, 5, 5, 5]
    # The second sequence never sees the first one's frames.
    assert window_frames(sampler, 6) == [100, 100, 100, 101, 102]
    assert window_frames(sampler, 9) == [101, 102, 103, 103, 103]

    x, y = sampler.batch(np.arange(10))
    assert x.shape == (10, 5, 17, 2) and y.shape == (10, 1, 17, 3)
    np.testing.assert_array_equal(y[:, 0, 0, 0], [0, 10, 20, 30, 40, 50, 0, 10, 20, 30])  # centre frame's 3D
    np.testing.assert_array_equal(y[3, 0, :, 1], np.arange(17) + 30)


def test_one_frame_sequence_and_stride():
    sampler = WindowSampler([ramp_sequence(1, start=7)], 27, H36M)
    assert len(sampler) == 1 and window_frames(sampler, 0) == [7] * 27
    strided = WindowSampler([ramp_sequence(10)], 3, H36M, stride=4)
    assert len(strided) == 3
    assert [window_frames(strided, i) for i in range(3)] == [[0, 0, 1], [3, 4, 5], [7, 8, 9]]
    _, y = strided.batch(np.arange(3))
    np.testing.assert_array_equal(y[:, 0, 0, 0], [0, 40, 80])


def test_augmentation_adds_the_mirrored_copy(h36m_small):
    sequences = load_dataset("h36m", h36m_small, subjects=["S1"]).select(["S1"], ["Directions"])
    plain = WindowSampler(sequences, 9, H36M, stride=7)
    augmented = WindowSampler(sequences, 9, H36M, augment=True, stride=7)
    n = len(plain)
    assert len(augmented) == 2 * n
    index = np.array([0, 5, n // 2, n - 1])
    x, y = plain.batch(index)
    xa, ya = augmented.batch(index)
    xf, yf = augmented.batch(index + n)
    np.testing.assert_array_equal(xa, x)
    np.testing.assert_array_equal(ya, y)
    np.testing.assert_array_equal(xf, flip_poses(x, H36M))
    np.testing.assert_array_equal(yf, flip_poses(y, H36M))
    assert not np.allclose(xf, x)
    # Shuffled batches cover every sample exactly once.
    batches = list(augmented.batches(64, np.random.default_rng(0)))
    assert sum(len(b[0]) for b in batches) == 2 * n
    # A run resumed at batch 3 sees exactly the batches the whole pass had from there.
    tail = list(augmented.batches(64, np.random.default_rng(0), start=3))
    assert len(tail) == len(batches) - 3
    for (x, y), (xt, yt) in zip(batches[3:], tail):
        np.testing.assert_array_equal(xt, x)
        np.testing.assert_array_equal(yt, y)


def test_epoch_windows_draw_a_fresh_subset_every_epoch():
    """--epoch-windows: each epoch is N distinct samples of all those the stride
    gives, a different N every epoch, so that epochs of a fixed cost cover
    more frames than a fixed stride subset; a resumed epoch continues its draw."""
    sequences = [ramp_sequence(40, start=1), ramp_sequence(30, start=1000)]
    every = WindowSampler(sequences, 3, H36M, augment=True)
    drawn = WindowSampler(sequences, 3, H36M, augment=True, epoch_windows=20)
    assert (every.samples, len(every), drawn.samples, len(drawn)) == (140, 140, 140, 20)

    def epoch(seed: int, start: int = 0) -> list[float]:
        """The centre frame of every window of one shuffled epoch (negated when mirrored)."""
        return [float(c) for x, _ in drawn.batches(8, np.random.default_rng(seed), start=start)
                for c in x[:, 1, 0, 0]]
    first, second = epoch(0), epoch(1)
    assert len(first) == len(set(first)) == 20 and len(second) == 20  # no window twice in an epoch
    assert set(first) != set(second)
    assert len(set(first) | set(second)) > 20
    assert epoch(0, start=1) == first[8:]
    with pytest.raises(DataError, match="epochs of 141 windows asked for: there are 1 to 140"):
        WindowSampler(sequences, 3, H36M, augment=True, epoch_windows=141)


@pytest.mark.parametrize("layout", [H36M, HUMANEVA15], ids=lambda l: l.name)
def test_flip(layout):
    rng = np.random.default_rng(0)
    for dims in (2, 3):
        poses = rng.normal(size=(4, layout.num_joints, dims)).astype(np.float32)
        flipped = flip_poses(poses, layout)
        np.testing.assert_array_equal(flip_poses(flipped, layout), poses)
        left, right = list(layout.joints_left), list(layout.joints_right)
        np.testing.assert_array_equal(flipped[:, left, 0], -poses[:, right, 0])
        np.testing.assert_array_equal(flipped[:, right, 1:], poses[:, left, 1:])
        centre = [j for j in range(layout.num_joints) if j not in left + right]
        np.testing.assert_array_equal(flipped[:, centre, 0], -poses[:, centre, 0])
        np.testing.assert_array_equal(flipped[:, centre, 1:], poses[:, centre, 1:])
    assert flip_poses(poses, layout) is not poses
    poses_copy = poses.copy()
    flip_poses(poses, layout)
    np.testing.assert_array_equal(poses, poses_copy)  # the input is left alone


def test_no_sequences_is_an_error():
    with pytest.raises(DataError, match="no sequences selected"):
        WindowSampler([], 27, H36M)

"""CSV and NPZ exports: layout, values, atomic writes."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from glagcn_video.exports.joints import JointRows, csv_header, write_csv, write_npz
from glagcn_video.skeleton import COCO17_NAMES, H36M
from glagcn_video.tracks import Track


def sample_rows() -> JointRows:
    rng = np.random.default_rng(0)
    return JointRows(
        frame=np.array([0, 0, 1]), time_s=np.array([0.0, 0.0, 1 / 30]), person_id=np.array([1, 4, 1]),
        joints_3d=rng.normal(size=(3, 17, 3)).astype(np.float32),
        joints_2d=rng.uniform(0, 1000, size=(3, 17, 2)).astype(np.float32),
        scores=rng.uniform(size=(3, 17)).astype(np.float32),
        contacts=np.array([[True, False], [False, False], [True, True]]),
    )


def test_header_names_every_h36m_joint_in_order():
    header = csv_header()
    assert header[:3] == ["frame", "time_s", "person_id"]
    assert len(header) == 3 + 17 * 6 + 2
    for j, name in enumerate(H36M.joint_names):
        assert header[3 + 6 * j: 9 + 6 * j] == [f"{name}_{f}" for f in ("x", "y", "z", "u", "v", "score")]
    assert header[-2:] == ["right_foot_contact", "left_foot_contact"]


def test_csv_round_trip(tmp_path):
    rows = sample_rows()
    path = tmp_path / "joints.csv"
    write_csv(path, rows)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        table = list(reader)
    assert header == csv_header()
    assert len(table) == 3
    assert [(int(r[0]), int(r[2])) for r in table] == [(0, 1), (0, 4), (1, 1)]
    assert float(table[2][1]) == pytest.approx(1 / 30, abs=1e-4)
    record = dict(zip(header, table[1]))
    wrist = H36M.joint_names.index("left_wrist")
    for axis, value in zip("xyz", rows.joints_3d[1, wrist]):
        assert float(record[f"left_wrist_{axis}"]) == pytest.approx(value, abs=1e-4)
    assert float(record["left_wrist_u"]) == pytest.approx(rows.joints_2d[1, wrist, 0], abs=0.01)
    assert float(record["left_wrist_v"]) == pytest.approx(rows.joints_2d[1, wrist, 1], abs=0.01)
    assert float(record["left_wrist_score"]) == pytest.approx(rows.scores[1, wrist], abs=1e-4)
    assert [(r[-2], r[-1]) for r in table] == [("1", "0"), ("0", "0"), ("1", "1")]
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_csv_without_people_is_just_the_header(tmp_path):
    empty = JointRows(np.zeros(0, int), np.zeros(0), np.zeros(0, int), np.zeros((0, 17, 3)),
                      np.zeros((0, 17, 2)), np.zeros((0, 17)))
    path = tmp_path / "empty.csv"
    write_csv(path, empty)
    with open(path, newline="") as f:
        assert list(csv.reader(f)) == [csv_header()]


def test_npz_holds_the_rows_and_the_raw_tracks(tmp_path):
    rows = sample_rows()
    raw = [Track(1, np.array([0, 1]), np.ones((2, 17, 2), np.float32), np.full((2, 17), 0.5, np.float32)),
           Track(4, np.array([0]), np.zeros((1, 17, 2), np.float32), np.zeros((1, 17), np.float32))]
    path = tmp_path / "joints.npz"
    write_npz(path, rows, raw, fps=30.0, focal=1000.0)
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["joints_3d"], rows.joints_3d)
        np.testing.assert_array_equal(data["joints_2d"], rows.joints_2d)
        np.testing.assert_array_equal(data["person_id"], rows.person_id)
        np.testing.assert_array_equal(data["contacts"], rows.contacts)
        assert data["contact_names"].tolist() == ["right_foot_contact", "left_foot_contact"]
        assert data["joint_names"].tolist() == list(H36M.joint_names)
        assert data["raw_joint_names"].tolist() == list(COCO17_NAMES)
        assert data["raw_frame"].tolist() == [0, 1, 0] and data["raw_person_id"].tolist() == [1, 1, 4]
        assert data["raw_keypoints"].shape == (3, 17, 2) and data["raw_scores"].shape == (3, 17)
        assert float(data["fps"]) == 30.0 and float(data["focal"]) == 1000.0


def test_a_write_failing_half_way_leaves_nothing(tmp_path, monkeypatch):
    def disk_full(f, *args, **kwargs):
        f.write("0,0.0000,1,")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savetxt", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_csv(tmp_path / "joints.csv", sample_rows())
    assert list(tmp_path.iterdir()) == []

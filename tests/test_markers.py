"""TRC and C3D marker files, read back independently: the TRC by a parser
written here from OpenSim's description of the format and by OpenSim's own
reader, the C3D by the c3d package's reader."""

from __future__ import annotations

import c3d
import numpy as np
import pytest

from glagcn_video.exports.markers import write_c3d, write_trc
from glagcn_video.skeleton import H36M

FRAMES = np.array([4, 5, 7, 8])  # video frames tracked; 6 is a gap
FPS = 25.0


def joints() -> np.ndarray:
    return np.random.default_rng(3).uniform(-2, 2, size=(len(FRAMES), 17, 3))


def parse_trc(path) -> tuple[list[list[str]], np.ndarray]:
    """(the five header lines split at tabs, (rows, 2 + 3 * markers))."""
    lines = path.read_text().split("\n")
    header = [line.split("\t") for line in lines[:5]]
    assert lines[5] == ""  # a blank line before the data, as in OpenSim's example files
    rows = [[float(v) for v in line.split("\t")] for line in lines[6:] if line]
    return header, np.array(rows)


def test_trc_header_and_rows_follow_the_format(tmp_path):
    path = tmp_path / "markers_3.trc"
    write_trc(path, FRAMES, joints(), FPS)
    header, rows = parse_trc(path)
    assert header[0] == ["PathFileType", "4", "(X/Y/Z)", "markers_3.trc"]
    assert header[1] == ["DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units", "OrigDataRate",
                         "OrigDataStartFrame", "OrigNumFrames"]
    assert header[2] == ["25", "25", "5", "17", "mm", "25", "5", "5"]
    assert header[3][:2] == ["Frame#", "Time"]
    assert header[3][2::3] == list(H36M.joint_names) and set(header[3][3::3] + header[3][4::3]) == {""}
    assert header[4][:2] == ["", ""] and header[4][2:8] == ["X1", "Y1", "Z1", "X2", "Y2", "Z2"]
    assert len(header[4]) == 2 + 3 * 17
    assert rows.shape == (5, 2 + 3 * 17)
    assert rows[:, 0].tolist() == [5, 6, 7, 8, 9]  # Frame#: the video frame, from 1
    np.testing.assert_allclose(rows[:, 1], np.arange(4, 9) / FPS, atol=1e-6)
    markers = rows[:, 2:].reshape(5, 17, 3)
    assert np.isnan(markers[2]).all()  # the gap: NaN, a missing marker to OpenSim
    np.testing.assert_allclose(markers[[0, 1, 3, 4]], joints() * 1000, atol=6e-4)


def test_trc_read_by_opensim_itself(tmp_path):
    """OpenSim's own TRC reader (the ``opensim`` package, as OpenSim's GUI and
    its inverse kinematics load marker files) takes the file: names, units,
    rate, times from the video's start, values, and the gap as missing."""
    opensim = pytest.importorskip("opensim", reason="OpenSim's Python package (requirements-dev.txt) is not installed")
    path = tmp_path / "markers_3.trc"
    write_trc(path, FRAMES, joints(), FPS)
    table = opensim.TimeSeriesTableVec3(str(path))
    assert (table.getNumRows(), table.getNumColumns()) == (5, 17)
    assert list(table.getColumnLabels()) == list(H36M.joint_names)
    assert table.getTableMetaDataAsString("Units") == "mm"
    assert float(table.getTableMetaDataAsString("DataRate")) == FPS
    np.testing.assert_allclose(list(table.getIndependentColumn()), np.arange(4, 9) / FPS, atol=1e-6)
    markers = np.array([[[table.getRowAtIndex(r)[m].get(axis) for axis in range(3)] for m in range(17)]
                        for r in range(5)])
    assert np.isnan(markers[2]).all()
    np.testing.assert_allclose(markers[[0, 1, 3, 4]], joints() * 1000, atol=6e-4)


@pytest.mark.filterwarnings("ignore:No analog data found")
def test_c3d_read_back_by_its_reader(tmp_path):
    path = tmp_path / "markers_3.c3d"
    write_c3d(path, FRAMES, joints(), FPS)
    with open(path, "rb") as f:
        reader = c3d.Reader(f)
        assert reader.point_rate == FPS and reader.point_used == 17
        assert [label.strip() for label in reader.point_labels] == list(H36M.joint_names)
        assert reader.get("POINT:UNITS").string_value.strip() == "mm"
        assert (reader.first_frame, reader.last_frame) == (5, 9)
        frames = list(reader.read_frames())
    assert [number for number, _, _ in frames] == [5, 6, 7, 8, 9]
    points = np.stack([p for _, p, _ in frames])
    assert (points[2, :, 3] == -1).all() and (points[[0, 1, 3, 4], :, 3] == 0).all()  # residual -1: missing
    np.testing.assert_allclose(points[[0, 1, 3, 4], :, :3], joints() * 1000, rtol=1e-6, atol=1e-3)



def test_c3d_carries_foot_contacts_as_events(tmp_path):
    path = tmp_path / "markers_3.c3d"
    # Right foot down on frames 4-5, left foot on 5 and 7-8: frame 6 is not tracked, so
    # the left contact ends there and starts again.
    contacts = np.array([[True, False], [True, True], [False, True], [False, True]])
    write_c3d(path, FRAMES, joints(), FPS, contacts)
    with open(path, "rb") as f:
        reader = c3d.Reader(f)
        used = reader.get("EVENT:USED").int16_value
        contexts = [c.strip() for c in reader.get("EVENT:CONTEXTS").string_array]
        labels = [label.strip() for label in reader.get("EVENT:LABELS").string_array]
        times = reader.get("EVENT:TIMES").float_array
        assert len(list(reader.read_frames())) == 5  # the markers are still all there
    assert used == 6
    events = sorted(zip(np.round(times[:, 1] * FPS).astype(int).tolist(), contexts, labels))
    assert events == [(4, "Right", "Foot Strike"), (5, "Left", "Foot Strike"), (6, "Left", "Foot Off"),
                      (6, "Right", "Foot Off"), (7, "Left", "Foot Strike"), (9, "Left", "Foot Off")]
    assert (times[:, 0] == 0).all()  # minutes


def test_c3d_without_contacts_has_no_events(tmp_path):
    path = tmp_path / "markers_3.c3d"
    write_c3d(path, FRAMES, joints(), FPS, np.zeros((len(FRAMES), 2), bool))
    with open(path, "rb") as f:
        assert c3d.Reader(f).get("EVENT") is None

"""demo.py end to end: real subprocess runs on tiny clips, and every bad-input case."""

from __future__ import annotations

import csv
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from demo_support import (DEMO, decoded, demo_main, moving_square_clip, people_clip,  # noqa: F401 (fixture)
                          random_checkpoint, real_detector_or_skip, shared_video, unwritable_folder,
                          write_clip)
from glagcn_video.exports.joints import csv_header
from glagcn_video.pipeline.runner import DEFAULT_CHECKPOINT
from glagcn_video.world.placement import MIN_DEPTH


def run_demo(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DEMO), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return random_checkpoint(tmp_path_factory.mktemp("lifter") / "random.bin")


def test_nobody_detected_still_gives_a_video_and_a_header_only_csv(tmp_path, checkpoint):
    clip = moving_square_clip(tmp_path / "square.mp4", num_frames=6, size=(96, 64), fps=25.0)
    done = run_demo(clip, "--out", tmp_path / "out.mp4", "--csv", tmp_path / "out.csv",
                    "--npz", tmp_path / "out.npz", "--detector", "yolo11n-pose.yaml",
                    "--checkpoint", checkpoint, "--device", "cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"no people detected in {clip}" in done.stderr
    assert "Traceback" not in done.stderr
    count, fps, size = decoded(tmp_path / "out.mp4")
    assert (count, size) == (6, (96 + 64, 64)) and fps == pytest.approx(25.0)  # frame + square 3D panel
    header, rows = read_csv(tmp_path / "out.csv")
    assert header == csv_header() and rows == []
    with np.load(tmp_path / "out.npz", allow_pickle=False) as data:
        assert data["joints_3d"].shape == (0, 17, 3) and data["raw_keypoints"].shape == (0, 17, 2)


def test_real_people_are_tracked_lifted_and_exported(tmp_path, checkpoint):
    detector = real_detector_or_skip()
    clip = people_clip(tmp_path / "people.mp4", num_frames=5, fps=10.0)
    done = run_demo(clip, "--out", tmp_path / "out.mp4", "--csv", tmp_path / "out.csv",
                    "--npz", tmp_path / "out.npz", "--html", tmp_path / "out.html", "--view", "people",
                    "--detector", detector, "--checkpoint", checkpoint,
                    "--device", "cpu", "--batch-size", "3", "--threads", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    count, fps, size = decoded(tmp_path / "out.mp4")
    assert (count, size) == (5, (380 + 500, 500)) and fps == pytest.approx(10.0)
    page = (tmp_path / "out.html").read_text()
    assert 'videoName = "out.mp4"' in page  # plays the video beside it
    assert all(f'"name":"{frame}"' in page for frame in range(5))  # one animation frame per video frame

    header, rows = read_csv(tmp_path / "out.csv")
    assert header == csv_header()
    ids = {int(r["person_id"]) for r in rows}
    assert len(ids) >= 3  # several people on the bus photo, each with their own ID
    keys = [(int(r["frame"]), int(r["person_id"])) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for person in ids:  # every tracked person is lifted on every frame
        assert [f for f, p in keys if p == person] == [0, 1, 2, 3, 4]
        assert f'"name":"person {person}"' in page
    for r in rows:
        assert float(r["time_s"]) == pytest.approx(int(r["frame"]) / 10.0, abs=1e-4)
        values = np.array([float(r[c]) for c in header[3:3 + 17 * 6]]).reshape(17, 6)
        assert {r["right_foot_contact"], r["left_foot_contact"]} <= {"0", "1"}
        assert np.isfinite(values).all()
        # The pelvis is in front of the camera (random lifter: no more), to the float32
        # rounding of the trip through the world frame.
        assert values[0, 2] >= MIN_DEPTH - 1e-4
        assert (values[:, 3] > -50).all() and (values[:, 3] < 430).all()  # u within the 380 px frame (+margin)
        assert (values[:, 5] >= 0).all() and (values[:, 5] <= 1).all()
    with np.load(tmp_path / "out.npz", allow_pickle=False) as data:
        assert data["joints_3d"].shape == (len(rows), 17, 3)
        np.testing.assert_allclose(data["joints_3d"][0, :, 0], [float(rows[0][f"{j}_x"]) for j in
                                                                data["joint_names"]], atol=1e-3)
        assert set(data["raw_person_id"].tolist()) >= ids


def test_a_fixed_input_size_and_refinement_on_or_off(tmp_path, checkpoint, demo_main, capfd):
    detector = real_detector_or_skip()
    clip = people_clip(tmp_path / "people.mp4", num_frames=5, fps=10.0)
    common = ["--detector", detector, "--checkpoint", str(checkpoint), "--device", "cpu"]
    assert demo_main([str(clip), "--out", str(tmp_path / "fixed.mp4"), "--csv", str(tmp_path / "fixed.csv"),
                      "--imgsz", "480", "--no-refine", *common]) == 0
    err = capfd.readouterr().err
    assert "detector on openvino at 480 px" in err or "detector on torch at 480 px" in err
    assert "refine" not in err  # no refinement stage ran
    assert len({r["person_id"] for r in read_csv(tmp_path / "fixed.csv")[1]}) >= 2  # people tracked and lifted
    assert demo_main([str(clip), "--out", str(tmp_path / "auto.mp4"), *common]) == 0
    err = capfd.readouterr().err
    assert "at 640 px" in err  # the bus's people are large: auto keeps 640
    assert "refine" not in err  # refinement is off by default
    assert demo_main([str(clip), "--out", str(tmp_path / "refined.mp4"), "--refine", *common]) == 0
    assert "refine " in capfd.readouterr().err.split("px; ")[1]  # the refine stage ran and was timed
    with pytest.raises(SystemExit):
        demo_main([str(clip), "--imgsz", "large", *common])
    assert "--imgsz: invalid" in capfd.readouterr().err


def test_without_input_runs_on_the_photo_shipped_with_ultralytics(tmp_path, checkpoint):
    real_detector_or_skip()
    done = run_demo("--out", tmp_path / "bus.mp4", "--csv", tmp_path / "bus.csv",
                    "--checkpoint", checkpoint, "--device", "cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    count, _, size = decoded(tmp_path / "bus.mp4")
    assert count == 1 and size == (810 + 1080, 1080)
    _, rows = read_csv(tmp_path / "bus.csv")
    assert len(rows) >= 3 and {r["frame"] for r in rows} == {"0"}


def test_bad_input_subprocess_prints_one_line_and_no_traceback(tmp_path, checkpoint):
    done = run_demo(tmp_path / "nope.mp4", "--out", tmp_path / "out.mp4", "--checkpoint", checkpoint,
                    cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr == f"error: {tmp_path / 'nope.mp4'}: no such file\n"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def good_clip(tmp_path_factory) -> Path:
    return moving_square_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


BAD_CASES = {
    # name: (args builder(tmp, clip, checkpoint) -> (argv, the file named in the error), problem)
    "not a video": (lambda t, c, k: ([t / "notes.mp4"], t / "notes.mp4"), "no decodable video frames",
                    lambda t: (t / "notes.mp4").write_text("hello\n" * 50)),
    "empty file": (lambda t, c, k: ([t / "empty.mov"], t / "empty.mov"), "no decodable video frames",
                   lambda t: (t / "empty.mov").write_bytes(b"")),
    "input is a folder": (lambda t, c, k: ([t / "dir"], f"--out {t / 'result.mp4'}"),
                          "with several inputs use --out-dir", lambda t: (t / "dir").mkdir()),
    "unknown output extension": (lambda t, c, k: ([c, "--out", t / "out.avi"], t / "out.avi"),
                                 "unsupported output extension", None),
    "unknown csv extension": (lambda t, c, k: ([c, "--csv", t / "joints.txt"], t / "joints.txt"),
                              "unsupported output extension", None),
    "unknown npz extension": (lambda t, c, k: ([c, "--npz", t / "joints.npy"], t / "joints.npy"),
                              "unsupported output extension", None),
    "unknown html extension": (lambda t, c, k: ([c, "--html", t / "viewer.json"], t / "viewer.json"),
                               "unsupported output extension", None),
    "missing output folder": (lambda t, c, k: ([c, "--out", t / "no" / "out.mp4"], t / "no" / "out.mp4"),
                              "does not exist", None),
    "unwritable output folder": (lambda t, c, k: ([c, "--out", unwritable_folder(t) / "out.mp4"],
                                                  unwritable_folder(t) / "out.mp4"), "cannot write", None),
    "output overwrites input": (lambda t, c, k: ([c, "--out", c], c), "would overwrite the input", None),
    "missing checkpoint": (lambda t, c, k: ([c, "--checkpoint", t / "none.bin"], t / "none.bin"),
                           "checkpoint not found", None),
    "broken detector": (lambda t, c, k: ([c, "--detector", t / "det-pose.pt"], t / "det-pose.pt"),
                        "cannot load detector", lambda t: (t / "det-pose.pt").write_bytes(b"junk")),
    "unknown device": (lambda t, c, k: ([c, "--device", "toaster"], "--device toaster"), "not a device", None),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_inputs_fail_fast_with_one_line_and_leave_nothing(case, tmp_path, good_clip, checkpoint,
                                                              demo_main, capsys):
    build, problem, prepare = BAD_CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    if prepare:
        prepare(work)
    before = sorted(work.rglob("*"))
    argv, named = build(work, good_clip, checkpoint)
    argv = [str(a) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(work / "result.mp4")]
    if "--checkpoint" not in argv:
        argv += ["--checkpoint", str(checkpoint)]
    code = demo_main(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith(f"error: {named}: ") and problem in err, err
    assert err.count("\n") == 1
    assert sorted(work.rglob("*")) == before  # no output, no temporary file
    assert [p.name for p in good_clip.parent.iterdir()] == ["clip.mp4"]


@pytest.mark.slow
def test_real_clip_end_to_end(tmp_path):
    """Real weights on a real clip whose header claims 360 frames but 301 decode."""
    video = shared_video("boxing_1person.mp4")
    detector = real_detector_or_skip()
    done = run_demo(video, "--out", tmp_path / "boxing.mp4", "--csv", tmp_path / "boxing.csv",
                    "--detector", detector, "--checkpoint", DEFAULT_CHECKPOINT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    count, fps, size = decoded(tmp_path / "boxing.mp4")
    assert count == 301 and fps == pytest.approx(30.0) and size == (854 + 480, 480)
    _, rows = read_csv(tmp_path / "boxing.csv")
    frames_per_id: dict[str, set[int]] = {}
    for r in rows:
        frames_per_id.setdefault(r["person_id"], set()).add(int(r["frame"]))
    main = max(frames_per_id.values(), key=len)
    assert len(main) > 0.9 * 301  # the boxer keeps one ID through nearly the whole clip


@pytest.mark.slow
def test_shot_cuts_end_every_track_and_only_matching_clothes_keep_an_id(tmp_path):
    """Two real clips joined into three shots: tai chi, dumbbells, tai chi again."""
    from glagcn_video import DemoOptions, run_demo as run_in_process
    from glagcn_video.pipeline.video import VideoReader

    weights = real_detector_or_skip()
    taichi = list(itertools.islice(VideoReader(shared_video("taichi_1person.mp4")), 0, 260))
    dumbbell = list(itertools.islice(VideoReader(shared_video("dumbbell_1person.mp4")), 100, 160))
    clip = write_clip(tmp_path / "three_shots.mp4", taichi[:60] + dumbbell + taichi[200:260], fps=24.0)
    result = run_in_process(clip, tmp_path / "out.mp4", csv=tmp_path / "out.csv",
                            options=DemoOptions(detector=weights), progress=False)
    assert result.cuts == [60, 120]
    shots = [range(0, 60), range(60, 120), range(120, 180)]
    ids = [set(), set(), set()]
    for person in result.people:  # no lifted track (and so no lifting window, no root) spans a cut
        shot = next(i for i, s in enumerate(shots) if person.frames[0] in s)
        assert person.frames[-1] in shots[shot], (person.person_id, person.frames[[0, -1]])
        ids[shot].add(person.person_id)
    assert all(ids)
    assert not ids[1] & (ids[0] | ids[2])  # the man with the dumbbells is someone else
    assert ids[0] == ids[2]  # the tai chi man, the same clothes, recognised after the dumbbell shot
    _, rows = read_csv(tmp_path / "out.csv")
    assert {int(r["person_id"]) for r in rows if int(r["frame"]) >= 120} == ids[2]

"""Many videos in one call (demo.py ... --out-dir), and a damaged input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest

from demo_support import (DEMO, decoded, demo_main, moving_square_clip, random_checkpoint,  # noqa: F401
                          shared_video)
from glagcn_video.pipeline import runner
from glagcn_video.pipeline.batch import Input, expand_inputs, refuse_same_names


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return random_checkpoint(tmp_path_factory.mktemp("lifter") / "random.bin")


def clips(tmp_path: Path) -> dict[str, Path]:
    """clips/a.mp4, clips/b.mov, clips/notes.txt, other/c.mp4, other/d.mkv (tiny, nobody in them)."""
    (tmp_path / "clips").mkdir()
    (tmp_path / "other").mkdir()
    made = {name: moving_square_clip(tmp_path / name, num_frames=3)
            for name in ("clips/a.mp4", "other/c.mp4")}
    shutil.copy(made["clips/a.mp4"], tmp_path / "clips" / "b.mov")
    shutil.copy(made["clips/a.mp4"], tmp_path / "other" / "d.mkv")
    (tmp_path / "clips" / "notes.txt").write_text("not a video\n")
    return made


def fast(checkpoint: Path) -> list[str]:
    """A random-weight detector at a tiny input size and a random lifter: the
    pipeline's real code, quickly (nobody is found on these clips anyway)."""
    return ["--detector", "yolo11n-pose.yaml", "--imgsz", "64", "--runtime", "torch",
            "--checkpoint", str(checkpoint), "--device", "cpu"]


def test_on_a_machine_where_ultralytics_never_ran_stdout_is_only_the_table(tmp_path, checkpoint):
    """Ultralytics' first run on a machine logs that it made its settings file,
    on stdout unless told otherwise: a fresh demo.py process with an empty
    settings folder keeps that on stderr and stdout for the table."""
    made = clips(tmp_path)
    (tmp_path / "out").mkdir()
    env = {**os.environ, "YOLO_CONFIG_DIR": str(tmp_path / "settings")}
    done = subprocess.run([sys.executable, str(DEMO), str(made["clips/a.mp4"]), "--out-dir", str(tmp_path / "out"),
                           *fast(checkpoint)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "Creating new Ultralytics Settings" in done.stderr  # the first-run case really happened
    table = done.stdout.splitlines()
    assert table[0].split() == ["input", "people", "frames", "seconds", "result"]
    assert len(table) == 3 and table[-1] == "1 of 1 inputs ok"

def test_inputs_expand_folders_and_patterns_once_each(tmp_path):
    clips(tmp_path)
    found = expand_inputs([tmp_path / "clips", str(tmp_path / "other" / "*.mp4"), tmp_path / "clips" / "a.mp4",
                           tmp_path / "none.mp4", str(tmp_path / "nothing*.mkv"), tmp_path / "empty"])
    names = [(Path(i.source).name, i.error) for i in found]
    assert names[:4] == [("a.mp4", None), ("b.mov", None), ("c.mp4", None), ("none.mp4", None)]
    assert names[4] == ("nothing*.mkv", "no file matches this pattern")
    assert len(found) == 6 and found[5].error is None  # "empty" does not exist: the reader will say so
    (tmp_path / "empty").mkdir()
    assert expand_inputs([tmp_path / "empty"])[0].error.startswith("no videos in this folder")


def test_two_inputs_with_one_stem_are_refused_after_the_first(tmp_path):
    inputs = [Input("x/a.mp4", Path("x/a.mp4")), Input("y/a.mov", Path("y/a.mov")), Input("b.mp4", Path("b.mp4"))]
    refuse_same_names(inputs)
    assert [i.error for i in inputs][::2] == [None, None]
    assert inputs[1].error.startswith("same name as x/a.mp4")


def test_a_batch_runs_every_input_loads_the_models_once_and_reports(tmp_path, checkpoint, demo_main, capsys,
                                                                    monkeypatch):
    made = clips(tmp_path)
    (tmp_path / "bad.mp4").write_text("not a video\n")
    results = tmp_path / "results"
    results.mkdir()
    counts = {"detector": 0, "lifter": 0}

    class CountedDetector(runner.PoseDetector):
        def __init__(self, *args, **kwargs):
            counts["detector"] += 1
            super().__init__(*args, **kwargs)

    def counted_lifter(*args, **kwargs):
        counts["lifter"] += 1
        return load_lifter(*args, **kwargs)

    load_lifter = runner.load_lifter
    monkeypatch.setattr(runner, "PoseDetector", CountedDetector)
    monkeypatch.setattr(runner, "load_lifter", counted_lifter)
    argv = [str(tmp_path / "clips"), str(tmp_path / "other" / "*.mp4"), str(tmp_path / "bad.mp4"),
            "--out-dir", str(results), "--csv", "--bvh", "--angles", *fast(checkpoint)]
    code = demo_main(argv)
    out, err = capsys.readouterr()
    assert code == 1  # bad.mp4 failed
    assert counts == {"detector": 1, "lifter": 1}
    for stem in ("a", "b", "c"):
        assert decoded(results / f"{stem}.mp4")[0] == 3
        assert (results / f"{stem}.csv").is_file() and (results / f"{stem}_angles.csv").is_file()
    table = out.splitlines()
    assert table[0].split() == ["input", "people", "frames", "seconds", "result"]
    assert table[1].startswith(str(tmp_path / "clips" / "a.mp4")) and table[1].split()[1:3] == ["0", "3"]
    assert table[1].rstrip().endswith("ok")
    assert f"error: {tmp_path / 'bad.mp4'}: no decodable video frames" in table[4]
    assert table[-1] == "3 of 4 inputs ok, 1 failed"
    assert "videos: 100%" in err and "4/4" in err  # the overall progress bar
    assert not list(results.glob(".*"))  # no temporary file left

    # Again: everything done is skipped, the bad input fails again; --overwrite redoes the rest.
    before = (results / "a.mp4").stat().st_mtime_ns
    assert demo_main(argv) == 1
    table = capsys.readouterr().out.splitlines()
    assert "skipped" in table[1] and (results / "a.mp4").stat().st_mtime_ns == before
    assert demo_main([str(tmp_path / "clips" / "a.mp4"), *argv[3:], "--overwrite"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].rstrip().endswith("ok") and (results / "a.mp4").stat().st_mtime_ns != before
    assert counts == {"detector": 3, "lifter": 3}  # once per call


ARGUMENT_ERRORS = {
    "several inputs, no folder": (["a.mp4", "b.mp4"], "error: --out-dir: several inputs"),
    "--out with --out-dir": (["a.mp4", "--out", "x.mp4", "--out-dir", "."], "error: --out x.mp4: names one"),
    "a file name in a batch": (["a.mp4", "--out-dir", ".", "--csv", "j.csv"],
                               "error: --csv j.csv: with --out-dir each input's exports are named after it"),
    "--overwrite alone": (["a.mp4", "--overwrite"], "error: --overwrite: only with --out-dir"),
    "missing output folder": (["a.mp4", "--out-dir", "nowhere"], "error: nowhere: output folder does not exist"),
    "a bad export name": (["a.mp4", "--bvh", "anim.fbx"], "error: anim.fbx: unsupported output extension"),
}


@pytest.mark.parametrize("case", list(ARGUMENT_ERRORS))
def test_bad_arguments_are_one_line_errors(case, tmp_path, demo_main, capsys, monkeypatch, checkpoint):
    monkeypatch.chdir(tmp_path)
    moving_square_clip(tmp_path / "a.mp4", num_frames=2)
    moving_square_clip(tmp_path / "b.mp4", num_frames=2)
    argv, message = ARGUMENT_ERRORS[case]
    before = sorted(tmp_path.iterdir())
    assert demo_main(argv + fast(checkpoint)) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert sorted(tmp_path.iterdir()) == before


def test_a_cut_file_is_processed_as_far_as_it_decodes_and_says_so(tmp_path, checkpoint, demo_main, capfd):
    """A real clip remuxed with its index first, then cut at 40% of its bytes:
    the first 115 of its 300 frames decode."""
    source = shared_video("basketball_2people_lowres.mp4")
    whole = tmp_path / "whole.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(source), "-c", "copy",
                    "-movflags", "+faststart", str(whole)], check=True)
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[:len(data) * 4 // 10])
    code = demo_main([str(cut), "--out", str(tmp_path / "out.mp4"), *fast(checkpoint)])
    err = capfd.readouterr().err
    assert code == 0, err
    lines = [line for line in err.splitlines() if "frames its container lists" in line]
    assert lines == [f"{cut}: decoded 115 of the 300 frames its container lists (a damaged or cut file, or a "
                     f"wrong count in its header); processed those"]
    assert decoded(tmp_path / "out.mp4")[0] == 115


@pytest.mark.slow
def test_the_command_line_shows_one_line_for_a_cut_file_not_ffmpegs(tmp_path, checkpoint):
    """The same cut clip through a fresh demo.py process: FFmpeg's own decoder
    messages ("partial file", ...) are switched off before OpenCV starts."""
    source = shared_video("basketball_2people_lowres.mp4")
    whole = tmp_path / "whole.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(source), "-c", "copy",
                    "-movflags", "+faststart", str(whole)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size * 4 // 10])
    done = subprocess.run([sys.executable, str(DEMO), str(cut), "--out", str(tmp_path / "out.mp4"),
                           *fast(checkpoint)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "decoded 115 of the 300 frames its container lists" in done.stderr
    assert "partial file" not in done.stderr and "NAL unit" not in done.stderr

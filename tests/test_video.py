"""Streaming input (videos and images) and the browser-playable mp4 output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from demo_support import decoded, moving_square_clip, shared_video, unwritable_folder
from glagcn_video.files import DemoError, check_output_path
from glagcn_video.pipeline.video import DEFAULT_FPS, VideoReader, count_frames, open_video_writer

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_clip(path, codec: str, frames: int = 7, fps: str = "25") -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc=size=64x48:rate={fps}", "-frames:v", str(frames), "-c:v", codec,
                    "-pix_fmt", "yuv420p", str(path)], check=True)


@pytest.mark.parametrize("name, codec", [("clip.mp4", "libx264"), ("clip.mov", "libx264"),
                                         ("clip.mkv", "libx265"), ("clip.webm", "libvpx-vp9"),
                                         ("clip.avi", "mpeg4")])
def test_reads_common_containers_and_codecs(tmp_path, name, codec):
    path = tmp_path / name
    ffmpeg_clip(path, codec)
    reader = VideoReader(path)
    assert (reader.info.width, reader.info.height) == (64, 48)
    assert reader.info.fps == pytest.approx(25.0)
    assert not reader.info.is_image
    frames = list(reader)
    assert len(frames) == 7 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    assert count_frames(path) == 7  # a second pass decodes everything again


def test_an_image_is_a_one_frame_video(tmp_path):
    import cv2

    path = tmp_path / "still.png"
    cv2.imwrite(str(path), np.full((30, 40, 3), 7, np.uint8))
    reader = VideoReader(path)
    assert reader.info.is_image and reader.info.fps == DEFAULT_FPS
    assert (reader.info.width, reader.info.height) == (40, 30)
    frames = list(reader)
    assert len(frames) == 1 and (frames[0] == 7).all()


def test_decoded_frames_are_counted_not_the_header():
    path = shared_video("boxing_1person.mp4")
    reader = VideoReader(path)
    assert reader.info.header_frames == 360
    assert count_frames(path) == 301


@pytest.mark.parametrize("make, problem", [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "not a file"),
    (lambda p: p.write_text("this is not a video\n" * 20), "no decodable video frames"),
    (lambda p: p.write_bytes(b""), "no decodable video frames"),
])
def test_bad_inputs_name_the_file(tmp_path, make, problem):
    path = tmp_path / "input.mp4"
    make(path)
    with pytest.raises(DemoError) as info:
        VideoReader(path)
    assert str(info.value) == f"{path}: {info.value.problem}" and problem in info.value.problem


def test_truncated_video_is_rejected(tmp_path):
    good = moving_square_clip(tmp_path / "good.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(DemoError, match="bad.mp4: no decodable video frames"):
        VideoReader(bad)


def probe(path) -> str:
    return subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def test_writer_makes_browser_mp4_with_same_frames_and_rate(tmp_path):
    out = tmp_path / "out.mp4"
    frames = [np.full((51, 101, 3), 10 * i, np.uint8) for i in range(9)]
    with open_video_writer(out, 101, 51, 24000 / 1001) as writer:
        for frame in frames:
            writer.write(frame)
    count, fps, size = decoded(out)
    assert count == 9 and fps == pytest.approx(24000 / 1001, abs=1e-3)
    assert size == (102, 52)  # yuv420p needs even sides
    info = probe(out)
    assert "h264" in info and "yuv420p" in info
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: playable while downloading
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_writer_failure_leaves_no_file(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with open_video_writer(out, 32, 32, 30.0) as writer:
            writer.write(np.zeros((32, 32, 3), np.uint8))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="expected a"):
        with open_video_writer(out, 32, 32, 30.0) as writer:
            writer.write(np.zeros((16, 32, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_output_checks(tmp_path):
    assert check_output_path(tmp_path / "a.mp4", (".mp4",)) == tmp_path / "a.mp4"
    with pytest.raises(DemoError, match=r"a\.avi: unsupported output extension \('\.avi'\); use \.mp4"):
        check_output_path(tmp_path / "a.avi", (".mp4",))
    with pytest.raises(DemoError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "a.mp4", (".mp4",))
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DemoError, match="is not a folder"):
        check_output_path(blocker / "a.mp4", (".mp4",))
    with pytest.raises(DemoError, match="unsupported output extension"):
        open_video_writer(tmp_path / "a.gif", 8, 8, 30.0).__enter__()
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_unwritable_output_folder(tmp_path):
    folder = unwritable_folder(tmp_path)
    with pytest.raises(DemoError, match=f"cannot write to folder {folder}"):
        check_output_path(folder / "a.mp4", (".mp4",))

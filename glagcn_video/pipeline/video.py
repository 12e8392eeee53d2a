"""Streaming video input and browser-playable H.264 output.

Frames are decoded one at a time and never all held in memory, so a long video
costs no more memory than a short one. A still image is treated as a one-frame
video. Output is encoded by piping raw frames into the ffmpeg binary that
``imageio-ffmpeg`` ships, so no system ffmpeg is needed.
"""

from __future__ import annotations

import math
import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

import cv2
import imageio_ffmpeg
import numpy as np

from ..files import DemoError

DEFAULT_FPS = 30.0  # for still images and containers that report no usable rate
VIDEO_SUFFIXES = (".mp4",)


@dataclass(frozen=True)
class VideoInfo:
    """What is known about an input before decoding it all.

    ``header_frames`` is the container's claim and can be wrong (count the
    frames you decode instead); ``width``/``height`` come from the first
    decoded frame, so they already include any rotation the decoder applies.
    """

    path: Path
    width: int
    height: int
    fps: float
    header_frames: int
    is_image: bool


class VideoReader:
    """Opens and probes ``path`` on construction; iterate for BGR uint8 frames.

    Each iteration decodes the file afresh, so the pipeline can make two
    passes without keeping frames. Raises :class:`DemoError` for a missing,
    unreadable or undecodable file.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise DemoError(self.path, "no such file")
        if not self.path.is_file():
            raise DemoError(self.path, "not a file")
        if not os.access(self.path, os.R_OK):
            raise DemoError(self.path, "permission denied")
        self._is_image = cv2.haveImageReader(str(self.path))
        fps, header_frames = DEFAULT_FPS, 1
        if self._is_image:
            first = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        else:
            cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
            first = cap.read()[1] if cap.isOpened() else None
            reported = cap.get(cv2.CAP_PROP_FPS)
            header_frames = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
            cap.release()
            if math.isfinite(reported) and 0 < reported <= 1000:
                fps = float(reported)
        if first is None:
            problem = ("cannot decode this image" if self._is_image
                       else "no decodable video frames (not a video, or corrupt)")
            raise DemoError(self.path, problem)
        height, width = first.shape[:2]
        self.info = VideoInfo(self.path, width, height, fps, header_frames, self._is_image)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Frames as decoded, each of the first frame's size (the rare stream
        that changes resolution mid-way is resized, so keypoints and the
        output video keep one coordinate frame)."""
        if self._is_image:
            image = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
            if image is not None:
                yield image
            return
        size = (self.info.width, self.info.height)
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        try:
            while True:
                ok, frame = cap.read()
                if not ok or frame is None:
                    return
                if frame.shape[1::-1] != size:
                    frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
                yield frame
        finally:
            cap.release()


def count_frames(path: str | os.PathLike) -> int:
    """Frames that actually decode (container headers can be wrong)."""
    return sum(1 for _ in VideoReader(path))


def _rate(fps: float) -> str:
    """fps as an exact ffmpeg rational: 23.976... -> 24000/1001, not a rounded float."""
    rate = Fraction(fps).limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


class VideoWriter:
    """Feeds BGR frames to a running ffmpeg; made by :func:`open_video_writer`."""

    def __init__(self, path: Path, width: int, height: int, proc: subprocess.Popen, log: IO[bytes]):
        self.path, self.width, self.height = path, width, height
        self._proc, self._log = proc, log
        self.frames_written = 0

    def write(self, frame_bgr: np.ndarray) -> None:
        if frame_bgr.shape != (self.height, self.width, 3) or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected a ({self.height}, {self.width}, 3) uint8 frame, "
                             f"got {frame_bgr.shape} {frame_bgr.dtype}")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame_bgr).data)
        except BrokenPipeError:
            raise DemoError(self.path, f"video encoding failed: {self._ffmpeg_error()}") from None
        self.frames_written += 1

    def _close(self) -> None:
        """Finish encoding; raise :class:`DemoError` if ffmpeg failed."""
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        if self._proc.wait() != 0:
            raise DemoError(self.path, f"video encoding failed: {self._ffmpeg_error()}")
        if self.frames_written == 0:
            raise DemoError(self.path, "no frames to write")

    def _abort(self) -> None:
        self._proc.kill()
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        self._proc.wait()

    def _ffmpeg_error(self) -> str:
        self._proc.wait()
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"ffmpeg exited with code {self._proc.returncode}"


@contextmanager
def _temporary_sibling(path: Path) -> Iterator[Path]:
    """A new empty file next to ``path``, renamed to ``path`` if the block
    succeeds and deleted if it fails (including Ctrl-C). Created with the
    usual permissions (umask), unlike ``mkstemp``'s 0600."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def open_video_writer(path: str | os.PathLike, width: int, height: int, fps: float,
                      crf: int = 20, preset: str = "superfast") -> Iterator[VideoWriter]:
    """An H.264 mp4 writer that plays in browsers: yuv420p, index first (+faststart).

    x264's ``superfast`` rather than ``veryfast``: on the demo's side-by-side
    frames it takes about a third less CPU, which on two cores the other
    stages get back, for the same PSNR at ``crf`` and a file about 40% larger
    (benchmarks/bench_encode.py, BENCHMARKS.md).

    Frames go to a temporary file in the output folder, renamed to ``path``
    only when encoding succeeded and deleted on any error. yuv420p needs even
    sides, so an odd width or height is padded by one pixel. The frame count
    and rate are kept exactly (the rate as a rational, 24000/1001 not 23.976).
    """
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise DemoError(path, f"unsupported output extension '{path.suffix}'; use .mp4")
    args = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-framerate", _rate(fps),
        "-i", "-", "-an", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-f", "mp4",
    ]
    with _temporary_sibling(path) as tmp, tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([*args, str(tmp)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=log)
        writer = VideoWriter(path, width, height, proc, log)
        try:
            yield writer
        except BaseException:
            writer._abort()
            raise
        writer._close()

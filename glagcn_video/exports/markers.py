"""Joints as motion-capture markers: OpenSim's TRC text files and C3D.

Each of the 17 Human3.6M joints is one marker, named as in the CSV. Both
formats are in millimetres (the unit OpenSim's examples and most C3D files
use, stated in each file) and in the axes of the joints given (the Y-up
world frame by default). A file covers one person from their first to their
last tracked frame; frames in between where they were not tracked are
missing markers: ``NaN`` in TRC (what OpenSim's reader turns into a missing
marker; an empty field at a row's end can be dropped by its tokenizer and
the row refused), residual -1 in C3D (the format's "invalid"). Time 0 is
the video's first frame, so files line up with the video.

Foot contacts (world/contacts.py) go into the C3D as events, in the EVENT
parameter group that Vicon Nexus, Mokka and ezc3d read: "Foot Strike" where a
contact starts and "Foot Off" where it ends, context "Right" or "Left",
times in seconds from the video's start. TRC has no place for events.
"""

from __future__ import annotations

import os
import warnings
from typing import IO

import c3d
import numpy as np

from ..files import atomic_write
from ..skeleton import H36M

MM_PER_M = 1000.0


def _span(frames: np.ndarray, joints: np.ndarray) -> tuple[int, np.ndarray]:
    """(first frame, (L, 17, 3) joints in mm on every frame from the first to
    the last of ``frames``, NaN where not tracked)."""
    first = int(frames[0])
    out = np.full((int(frames[-1]) - first + 1, *joints.shape[1:]), np.nan)
    out[frames - first] = np.asarray(joints, np.float64) * MM_PER_M
    return first, out


def write_trc(path: str | os.PathLike, frames: np.ndarray, joints: np.ndarray, fps: float) -> None:
    """One person's (R, 17, 3) joints in metres on sorted video ``frames`` (R,)
    as an OpenSim marker file (Track Row Column, PathFileType 4): the two
    header lines of rates and counts, marker names, X1 Y1 Z1 ..., a blank
    line, then ``Frame#`` (the video frame, from 1) and ``Time`` (seconds
    from the video's start) per row."""
    first, span = _span(frames, joints)
    markers = H36M.joint_names
    header = [
        f"PathFileType\t4\t(X/Y/Z)\t{os.path.basename(path)}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{fps:.6g}\t{fps:.6g}\t{len(span)}\t{len(markers)}\tmm\t{fps:.6g}\t{first + 1}\t{len(span)}",
        "Frame#\tTime\t" + "\t".join(f"{name}\t\t" for name in markers).rstrip("\t"),
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, len(markers) + 1)),
        "",
    ]

    def write(f: IO[str]) -> None:
        f.write("\n".join(header) + "\n")
        for offset, row in enumerate(span):
            frame = first + offset
            values = "\t".join(f"{v:.3f}" if np.isfinite(v) else "NaN" for v in row.ravel())
            f.write(f"{frame + 1}\t{frame / fps:.6f}\t{values}\n")

    atomic_write(path, write, binary=False)


def foot_events(frames: np.ndarray, contacts: np.ndarray, fps: float) -> list[tuple[str, str, float]]:
    """(context, label, seconds) for each foot strike and foot off, in time
    order, from (R, 2) planted feet (right, left) on sorted video ``frames``.
    A contact broken by frames where the person is not tracked ends there."""
    events = []
    consecutive = np.concatenate([[False], np.diff(frames) == 1])  # frame i follows frame i - 1
    for foot, context in enumerate(("Right", "Left")):
        planted = np.asarray(contacts[:, foot], bool)
        starts = planted & ~(np.concatenate([[False], planted[:-1]]) & consecutive)
        ends = planted & ~(np.concatenate([planted[1:], [False]]) & np.concatenate([consecutive[1:], [False]]))
        events += [(context, "Foot Strike", float(frames[i]) / fps) for i in np.flatnonzero(starts)]
        # Off on the first frame without the contact: the frame after its last.
        events += [(context, "Foot Off", float(frames[i] + 1) / fps) for i in np.flatnonzero(ends)]
    return sorted(events, key=lambda e: (e[2], e[0], e[1]))


def _strings(values: list[str]) -> tuple[bytes, int]:
    width = max((len(v) for v in values), default=1)
    return "".join(v.ljust(width) for v in values).encode("ascii"), width


def _add_events(writer: c3d.Writer, events: list[tuple[str, str, float]]) -> None:
    group = writer.add_group(writer.numeric_key_next, "EVENT", "foot contacts (glagcn-video)")
    group.add("USED", "number of events", 2, "<h", len(events))
    for name, values in (("CONTEXTS", [e[0] for e in events]), ("LABELS", [e[1] for e in events]),
                         ("DESCRIPTIONS", [f"{e[0].lower()} foot {e[1][5:].lower()}" for e in events])):
        data, width = _strings(values)
        group.add_str(name, name.lower(), data.decode("ascii"), width, len(events))
    times = np.array([[0.0, e[2]] for e in events], "<f4")  # (minutes, seconds) per event
    group.add("TIMES", "minutes, seconds", 4, "", times.tobytes(), 2, len(events))


def write_c3d(path: str | os.PathLike, frames: np.ndarray, joints: np.ndarray, fps: float,
              contacts: np.ndarray | None = None) -> None:
    """The same markers as a C3D file (float points in mm, no analog
    channels, the first frame numbered as in the video from 1), written by
    the ``c3d`` package; ``contacts`` (R, 2), if given, as events (module
    docstring)."""
    first, span = _span(frames, joints)
    writer = c3d.Writer(point_rate=float(fps), point_units="mm  ")
    writer.set_point_labels(list(H36M.joint_names))
    writer.set_start_frame(first + 1)
    if contacts is not None:
        events = foot_events(np.asarray(frames), contacts, fps)
        if events:
            _add_events(writer, events)
    no_analog = np.zeros((0, 0), np.float32)
    for row in span:
        points = np.zeros((len(row), 5), np.float32)
        tracked = np.isfinite(row).all(axis=1)
        points[tracked, :3] = row[tracked]
        points[~tracked, 3] = -1.0
        writer.add_frames([(points, no_analog)])
    with warnings.catch_warnings():  # the c3d package warns that a file without analog channels has none
        warnings.filterwarnings("ignore", "No analog data found", UserWarning)
        atomic_write(path, writer.write)

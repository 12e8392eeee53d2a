"""The things a user names: one error type for their problems, output checks.

Every problem with a file the user gave (input video, output paths, detector
weights), or with an option value, becomes a :class:`DemoError` whose message starts with that file, so
the command line can print one ``error: <file>: <problem>`` line.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class DemoError(Exception):
    """A problem with something the user named, a file or an option value;
    ``str()`` is ``"<subject>: <problem>"``."""

    def __init__(self, subject: str | os.PathLike, problem: str):
        super().__init__(f"{subject}: {problem}")
        self.subject = str(subject)
        self.problem = problem


def first_line(exc: BaseException) -> str:
    """An exception from a third-party library as one line for a :class:`DemoError`:
    its message's first line, or its type's name when it has no message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_output_path(path: str | os.PathLike, suffixes: tuple[str, ...]) -> Path:
    """Fail early, before any slow work, if ``path`` cannot be written.

    Checks the extension, that the folder exists and that a file can really be
    created in it (permission bits do not tell the whole story: read-only
    mounts, ACLs, root). Returns the path.
    """
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        wanted = " or ".join(suffixes)
        got = f"'{path.suffix}'" if path.suffix else "no extension"
        raise DemoError(path, f"unsupported output extension ({got}); use {wanted}")
    if path.is_dir():
        raise DemoError(path, "is a folder, expected a file name")
    folder = path.parent
    if not folder.is_dir():
        problem = f"{folder} is not a folder" if folder.exists() else f"output folder {folder} does not exist"
        raise DemoError(path, problem)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise DemoError(path, f"cannot write to folder {folder} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return path

"""Files and paths: one error type for what the user names, output checks, atomic writes.

Every problem with a file the user gave (input video, output paths, detector
weights), or with an option value, becomes a :class:`DemoError` whose message starts with that file, so
the command line can print one ``error: <file>: <problem>`` line.

:func:`atomic_write` writes checkpoints, exports and prepared data so that a
crash or an error mid-write never leaves a half-written file under the real
name, and never clobbers the previous good one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


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


def atomic_write(path: str | os.PathLike, write: Callable[[IO[Any]], None], binary: bool = True) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"newline": ""})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

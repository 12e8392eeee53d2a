"""Many videos in one call: inputs expanded, each run in turn, a summary table.

``demo.py clips/ more.mov 'other/*.mp4' --out-dir results/``: a folder
stands for the videos directly inside it (by extension, sorted), a pattern
with ``*``, ``?`` or ``[`` is expanded here (so it works unquoted on Windows
and quoted anywhere; ``**`` reaches into subfolders), anything else is taken
as a file. Each input writes ``<out-dir>/<stem>.mp4`` and its exports named
after the same stem. The detector and lifter are loaded once. A bad input is
reported in the table and the others still run; an input whose video already
exists in the output folder is skipped unless ``overwrite`` (a run writes all
its outputs or none, so an existing video means that input was done). Two
inputs with the same stem would write the same files: the later one is
refused with an error naming the earlier, and the rest run.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..exports.formats import Exports
from ..files import DemoError, first_line
from ..lifter.checkpoint import CheckpointError
from .runner import DemoOptions, Models, load_models, run_demo

VIDEO_INPUT_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv",
                        ".ts", ".mts", ".3gp")
_GLOB_CHARS = set("*?[")


@dataclass
class Input:
    """One input as the user gave it (``source``) and the file it names, or why it cannot run."""

    source: str
    path: Path | None = None
    error: str | None = None


@dataclass
class Row:
    """One line of the summary table."""

    input: str
    people: int | None = None
    frames: int | None = None
    seconds: float | None = None
    status: str = "ok"  # "ok", "skipped: ..." or "error: ..."

    @property
    def failed(self) -> bool:
        return self.status.startswith("error")


def is_pattern(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


def expand_inputs(sources: Sequence[str | os.PathLike]) -> list[Input]:
    """Folders, patterns and files to a list of inputs, each file once (in
    the order given), with the reason for any source that names nothing."""
    out: list[Input] = []
    for source in map(os.fspath, sources):
        if is_pattern(source) and not Path(source).exists():
            matches = sorted(Path(m) for m in glob.glob(source, recursive=True) if Path(m).is_file())
            out += [Input(str(m), m) for m in matches] or [Input(source, error="no file matches this pattern")]
        elif Path(source).is_dir():
            videos = sorted(p for p in Path(source).iterdir()
                            if p.is_file() and p.suffix.lower() in VIDEO_INPUT_SUFFIXES)
            out += [Input(str(v), v) for v in videos] or [
                Input(source, error=f"no videos in this folder ({', '.join(VIDEO_INPUT_SUFFIXES)})")]
        else:
            out.append(Input(source, Path(source)))
    seen: set[Path] = set()
    unique = []
    for item in out:
        if item.path is None:
            unique.append(item)
        elif item.path.resolve() not in seen:
            unique.append(item)
            seen.add(item.path.resolve())
    return unique


def refuse_same_names(inputs: list[Input]) -> None:
    """Mark every input whose stem an earlier input already has (same output names)."""
    first: dict[str, Input] = {}
    for item in inputs:
        if item.path is None or item.error:
            continue
        earlier = first.setdefault(item.path.stem, item)
        if earlier is not item:
            item.error = (f"same name as {earlier.source}: its outputs ({item.path.stem}.mp4, ...) would "
                          f"overwrite that one's; rename one of them")


def batch_formats(values: dict[str, Path | bool | None]) -> list[str]:
    """The formats asked for on the command line; in a batch they are named
    after each input, so a file name given with one is an error."""
    for name, value in values.items():
        if isinstance(value, Path):
            raise DemoError(f"--{name} {value}", f"with --out-dir each input's exports are named after it; "
                                                 f"give --{name} without a file name")
    return [name for name, value in values.items() if value]


def check_out_dir(out_dir: Path) -> None:
    if not out_dir.is_dir():
        raise DemoError(out_dir, "output folder does not exist" if not out_dir.exists() else "is not a folder")
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise DemoError(out_dir, "cannot write to this folder")


def run_batch(sources: Sequence[str | os.PathLike], out_dir: str | os.PathLike, formats: Sequence[str],
              frame: str | None = None, options: DemoOptions | None = None, overwrite: bool = False,
              progress: bool = True) -> list[Row]:
    """Process every input (see the module docstring); one :class:`Row` each.

    Raises :class:`DemoError` / ``CheckpointError`` only for what stops every
    input alike: the output folder, the checkpoint, the detector, the device.
    """
    out_dir = Path(out_dir)
    options = options or DemoOptions()
    check_out_dir(out_dir)
    inputs = expand_inputs(sources)
    refuse_same_names(inputs)
    models = load_models(options)
    rows = []
    for item in tqdm(inputs, desc="videos", unit="video", disable=not progress):
        rows.append(_run_one(item, out_dir, formats, frame, options, overwrite, progress, models))
    return rows


def _run_one(item: Input, out_dir: Path, formats: Sequence[str], frame: str | None, options: DemoOptions,
             overwrite: bool, progress: bool, models: Models) -> Row:
    if item.error or item.path is None:
        return Row(item.source, status=f"error: {item.source}: {item.error}")
    out = out_dir / f"{item.path.stem}.mp4"
    if out.exists() and not overwrite:
        return Row(item.source, status=f"skipped: {out} exists (--overwrite to redo)")
    start = time.perf_counter()
    try:
        result = run_demo(item.path, out, options=options, progress=progress, models=models,
                          exports=Exports.named_after(out.with_suffix(""), formats, frame))
    except (DemoError, CheckpointError) as exc:
        return Row(item.source, status=f"error: {exc}")
    except Exception as exc:  # noqa: BLE001 - one input's failure must not stop the others
        return Row(item.source, status=f"error: {item.path}: {first_line(exc)}")
    return Row(item.source, len(result.person_ids), result.num_frames, time.perf_counter() - start)


def summary_table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table: input, people, frames, seconds, result."""
    def cell(value: object, fmt: str = "{}") -> str:
        return "-" if value is None else fmt.format(value)

    table = [("input", "people", "frames", "seconds", "result")] + [
        (r.input, cell(r.people), cell(r.frames), cell(r.seconds, "{:.1f}"), r.status) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    lines = ["  ".join([line[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(line[1:4], widths[1:])),
                        line[4]]) for line in table]
    failed = sum(r.failed for r in rows)
    lines.append(f"{len(rows) - failed} of {len(rows)} inputs ok" + (f", {failed} failed" if failed else ""))
    return "\n".join(lines)

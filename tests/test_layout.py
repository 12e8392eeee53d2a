"""The package's imports go one way: the shared modules at the top import no
part of it, the lifter and the datasets only the top, training those three;
the world only the top, the exports and the views the top and the world,
the demo pipeline all of those and the lifter, and no stage imports the
runner (only ``batch.py``, which runs it once per input, sits above it); the
command lines may import every part, and no part imports them.
Read from the source with ``ast`` (nothing is imported), so a wrong import
fails here, not as a cycle at some later import."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = "glagcn_video"

# The parts of the package each part may import besides itself. "top" is the
# modules directly in the package (joint layouts, camera geometry, files, CPU
# threads, 2D tracks), which every part shares; the package's own __init__ re-exports
# the public entry points and is imported by no module of the package.
ALLOWED = {
    "top": set(),
    "lifter": {"top"},
    "datasets": {"top"},
    "training": {"top", "lifter", "datasets"},
    "world": {"top"},
    "exports": {"top", "world"},
    "view": {"top", "world"},
    "pipeline": {"top", "lifter", "world", "exports", "view"},
    "cli": {"top", "lifter", "datasets", "training", "world", "exports", "view", "pipeline"},
}
RUNNER = f"{PACKAGE}.pipeline.runner"  # wires the stages together; no stage imports it
ABOVE_RUNNER = {f"{PACKAGE}.pipeline.batch"}  # runs the runner once per input


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``name`` imports, anywhere in the file (function-level
    imports included), relative imports resolved; ``from P import m`` counts
    as importing ``P.m`` when that is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found


def part_of(module: str, folders: set[str]) -> str | None:
    """The subpackage (one of ``folders``) a module of the package is in, ``top``
    for the modules directly in it, ``facade`` for the package itself, None
    outside."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return "facade"
    return parts[1] if parts[1] in folders else "top"


def violations(package_dir: Path) -> list[str]:
    modules = module_names(package_dir)
    folders = {p.name for p in package_dir.iterdir() if (p / "__init__.py").is_file()}
    problems = []
    for name, path in modules.items():
        if name == PACKAGE:
            continue  # the facade: re-exports from every part
        part = part_of(name, folders)
        if part not in ALLOWED:
            problems.append(f"{name}: in {part}/, which the import rules of tests/test_layout.py do not know")
            continue
        for target in sorted(imported_modules(name, path, set(modules))):
            other = part_of(target, folders)
            if other is None or other == part:
                if target == RUNNER and name != RUNNER and name not in ABOVE_RUNNER:
                    problems.append(f"{name} imports the runner {RUNNER}")
                continue
            if other not in ALLOWED[part]:
                problems.append(f"{name} ({part}) imports {target} ({other})")
    return sorted(problems)


def test_imports_go_one_way():
    assert violations(ROOT / PACKAGE) == []


def write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_check_finds_imports_against_the_direction(tmp_path):
    package = tmp_path / PACKAGE
    write(package / "__init__.py", "from .pipeline.runner import run\n")
    write(package / "skeleton.py", "import numpy\n")
    write(package / "files.py", "from .lifter import model\n")
    for part in ("lifter", "datasets", "training", "pipeline", "world", "exports", "view", "cli", "extras"):
        write(package / part / "__init__.py")
    write(package / "lifter" / "model.py", "from ..skeleton import X\nfrom . import inference\n")
    write(package / "lifter" / "inference.py", "def f():\n    from glagcn_video.pipeline import render\n")
    write(package / "datasets" / "load.py", "from .. import training\n")
    write(package / "training" / "loop.py", "from ..lifter.model import M\nfrom ..datasets.load import L\n")
    write(package / "training" / "evaluation.py", "from glagcn_video import load_checkpoint\n")
    write(package / "pipeline" / "render.py", "from ..skeleton import X\nfrom .runner import run\n")
    write(package / "pipeline" / "runner.py", "from . import render\nfrom glagcn_video import skeleton\n")
    write(package / "pipeline" / "batch.py", "from .runner import run\n")
    write(package / "world" / "frame.py", "from ..skeleton import X\nfrom ..exports import bvh\n")
    write(package / "exports" / "bvh.py", "from ..world.frame import F\nfrom ..pipeline.track import T\n")
    write(package / "view" / "render.py", "from ..world import frame\nfrom ..exports.bvh import B\n")
    write(package / "cli" / "demo.py", "from ..pipeline.runner import run\nfrom ..training import loop\n")
    write(package / "lifter" / "zoo.py", "from ..cli import demo\n")
    write(package / "extras" / "thing.py", "from ..skeleton import X\n")
    write(package / "extras" / "other.py", "import glagcn_video\n")
    assert violations(package) == [
        "glagcn_video.datasets.load (datasets) imports glagcn_video.training (training)",
        "glagcn_video.exports.bvh (exports) imports glagcn_video.pipeline.track (pipeline)",
        "glagcn_video.extras.other: in extras/, which the import rules of tests/test_layout.py do not know",
        "glagcn_video.extras.thing: in extras/, which the import rules of tests/test_layout.py do not know",
        "glagcn_video.extras: in extras/, which the import rules of tests/test_layout.py do not know",
        "glagcn_video.files (top) imports glagcn_video.lifter.model (lifter)",
        "glagcn_video.lifter.inference (lifter) imports glagcn_video.pipeline.render (pipeline)",
        "glagcn_video.lifter.zoo (lifter) imports glagcn_video.cli.demo (cli)",
        "glagcn_video.pipeline.render imports the runner glagcn_video.pipeline.runner",
        "glagcn_video.training.evaluation (training) imports glagcn_video (facade)",
        "glagcn_video.view.render (view) imports glagcn_video.exports.bvh (exports)",
        "glagcn_video.world.frame (world) imports glagcn_video.exports.bvh (exports)",
    ]

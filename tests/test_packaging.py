"""The installed package, not only a checkout: the wheel holds every
subpackage, the shipped lifters and the command lines, and ``glagcn-video``
installed from it runs the demo from another folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT
from demo_support import decoded, real_detector_or_skip
from glagcn_video.lifter.zoo import DEFAULT_MODEL, ZOO

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_package_list_names_every_subpackage_and_maps_models_into_it():
    """pyproject lists the packages by hand (models/ cannot be found by a
    finder), so a new folder left out of the list would be missing from the wheel."""
    tree = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "glagcn_video").rglob("__init__.py")}
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert set(setuptools["packages"]) == tree | {"glagcn_video.models"}
    assert setuptools["package-dir"] == {"glagcn_video.models": "models"}
    assert set(setuptools["package-data"]["glagcn_video.models"]) == {"*.bin", "README.md"}


def test_the_zoo_finds_its_files_through_the_package():
    for model in ZOO.values():
        assert model.path.is_file(), model.path
        assert model.path.parent == (ROOT / "models").resolve()


def test_the_console_scripts_name_the_command_lines():
    import importlib

    scripts = PYPROJECT["project"]["scripts"]
    assert set(scripts) == {"glagcn-video", "glagcn-train"}
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_importing_the_package_loads_no_torch():
    """The command lines set OpenMP's environment before PyTorch starts, so the facade must not start it."""
    code = "import sys, glagcn_video; print('torch' in sys.modules); glagcn_video.run_demo; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel built from this checkout,
    installed without ``-e``; the test environment's site-packages are on its
    path (a .pth line, so its editable install of the checkout is not)."""
    folder = tmp_path_factory.mktemp("wheel")
    # Built from a copy, so setuptools' build/ folder is not left in the checkout.
    source = folder / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "data"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(folder), str(source)], check=True, capture_output=True)
    wheel, = folder.glob("glagcn_video-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for model in ZOO.values():
        assert f"glagcn_video/models/{model.file}" in names
    assert {"glagcn_video/models/README.md", "glagcn_video/cli/demo.py", "glagcn_video/cli/train.py",
            "glagcn_video/datasets/h36m_cameras.json"} <= names
    env = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = Path(subprocess.run([str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "test_environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True)
    return env


@pytest.mark.slow
def test_the_installed_command_runs_the_demo_from_another_folder(installed, tmp_path):
    real_detector_or_skip()
    python = installed / "bin" / "python"
    where = subprocess.run([str(python), "-c", "import glagcn_video.lifter.zoo as z; "
                            f"print(z.ZOO[{DEFAULT_MODEL!r}].path)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(installed) and Path(where).is_file()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([str(installed / "bin" / "glagcn-video"), "--out", "bus.mp4", "--csv"],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "people lifted" in run.stderr
    frames, _, (width, height) = decoded(tmp_path / "bus.mp4")
    assert frames == 1 and width > height
    rows = (tmp_path / "bus.csv").read_text().splitlines()
    assert len(rows) > 1 and rows[0].startswith("frame,")
    help_text = subprocess.run([str(installed / "bin" / "glagcn-train"), "--help"], cwd=tmp_path,
                               capture_output=True, text=True, env=env, check=True).stdout
    assert "--epoch-windows" in help_text

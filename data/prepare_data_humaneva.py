"""Prepare HumanEva-I for training: the VideoPose3D npz files plus fitted cameras.

    python data/prepare_data_humaneva.py --from-npz DIR --output-dir data/

DIR holds data_3d_humaneva15.npz and data_2d_humaneva15_gt.npz (VideoPose3D
format). They carry no camera parameters, so the cameras are fitted to their
2D/3D correspondences (see glagcn_video/datasets/calibrate.py) and written to
OUTPUT_DIR/cameras_humaneva15.json; the npz files are copied beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glagcn_video.datasets.calibrate import FittedCamera  # noqa: E402
from glagcn_video.datasets.prepare_h36m import run_preparation  # noqa: E402
from glagcn_video.datasets.prepare_humaneva import CAMERA_IDS, prepare_humaneva  # noqa: E402


def report(subject: str, index: int, camera: FittedCamera) -> None:
    print(f"{subject} {CAMERA_IDS[index]}: reprojection error median {camera.median_px:.3f} px, "
          f"max {camera.max_px:.2f} px (f = {camera.focal[0]:.1f} px)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-npz", type=Path, required=True,
                        help="folder with data_3d_humaneva15.npz and data_2d_humaneva15_gt.npz")
    parser.add_argument("--output-dir", type=Path, default=Path("data"))
    args = parser.parse_args(argv)
    return run_preparation(lambda: prepare_humaneva(args.from_npz, args.output_dir, report=report)[0])


if __name__ == "__main__":
    sys.exit(main())

"""Prepare Human3.6M for training: 3D npz plus ground-truth 2D npz.

    python data/prepare_data_h36m.py --from-3d data_3d_h36m.npz --output-dir data/
    python data/prepare_data_h36m.py --from-archive h36m.zip --output-dir data/

Camera parameters: Human3.6M's published calibration, shipped with the
package (glagcn_video/datasets/h36m_cameras.json); ``--cameras`` overrides it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glagcn_video.datasets.load import H36M_CAMERAS  # noqa: E402
from glagcn_video.datasets.prepare_h36m import prepare, run_preparation  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-3d", type=Path, help="an existing data_3d_h36m.npz (VideoPose3D format)")
    source.add_argument("--from-archive", type=Path,
                        help="folder or zip of the 3d-pose-baseline h5 release (S*/MyPoses/3D_positions/*.h5)")
    parser.add_argument("--output-dir", type=Path, default=Path("data"))
    parser.add_argument("--cameras", type=Path, default=H36M_CAMERAS,
                        help="camera parameters JSON (default: the Human3.6M calibration shipped "
                             "with the package)")
    args = parser.parse_args(argv)
    cameras = args.cameras
    return run_preparation(lambda: prepare(args.output_dir, cameras, from_3d=args.from_3d,
                                           from_archive=args.from_archive))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Turn a video (or photo) of people into 3D skeletons with GLA-GCN, from a checkout:

    python demo.py INPUT --out result.mp4 [--csv joints.csv] ...

The command line is ``glagcn_video/cli/demo.py``; installed, the same is ``glagcn-video``.
"""

import sys

from glagcn_video.cli.demo import main

if __name__ == "__main__":
    sys.exit(main())

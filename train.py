"""Train and evaluate the GLA-GCN lifter on Human3.6M or HumanEva-I.

The authors' command lines work unchanged, e.g.

    python train.py -k gt -arc 3,3,3,3,3 -ch 96 -da -tta -c checkpoint/h36m
    python train.py -k gt -arc 3,3,3,3,3 -tta --evaluate best_epoch.bin

and so do several GPUs or machines, one process per GPU (docs/training.md,
"Training on several GPUs and machines"):

    torchrun --standalone --nproc_per_node=4 train.py -k gt -arc 3,3,3,3,3 -ch 96 -da -tta

Data (VideoPose3D npz files and cameras.json) is read from --data-dir;
docs/data.md says how to prepare it. The command line is
``glagcn_video/cli/train.py`` (read its ``main`` top to bottom); installed,
the same is ``glagcn-train``.
"""

import sys

from glagcn_video.cli import train as command_line

if __name__ == "__main__":
    sys.exit(command_line.run())
# ``import train`` gives the command line's module itself (``train.main``), so
# that replacing what its main hands to the steps (tests/test_train.py replaces
# score, train_epoch, write_log) changes what a run calls.
sys.modules[__name__] = command_line

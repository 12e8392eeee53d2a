"""train.py with every Dropout switched off, for the multi-process tests.

A process draws the dropout masks of its own share of a batch, so two
processes can never draw the masks one process draws for the whole batch;
and dropout cannot be turned off from the command line (``-drop`` sets the
model's dropout, the graph convolutions keep the authors' fixed 0.1). With
it off, two processes and one compute the same function of the same data.
"""

import runpy
import sys
from pathlib import Path

import torch

torch.nn.Dropout.forward = lambda self, x: x
train_py = Path(__file__).resolve().parent.parent / "train.py"
sys.argv[0] = str(train_py)
sys.path[0] = str(train_py.parent)  # the package beside train.py, as when train.py is run
runpy.run_path(str(train_py), run_name="__main__")

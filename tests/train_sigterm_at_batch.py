"""train.py that sends itself SIGTERM after batch BATCH of epoch EPOCH (1-based).

    python tests/train_sigterm_at_batch.py EPOCH BATCH TRAIN_ARGS...

The signal goes through the real handler of a fresh interpreter: in the test
process, libraries loaded by earlier tests (the detector's runtimes) made a
self-sent SIGTERM crash the interpreter, whatever thread it was sent to.
"""

import runpy
import signal
import sys
from pathlib import Path

import glagcn_video.training.loop as loop

epoch, batch = int(sys.argv[1]) - 1, int(sys.argv[2])
real_train_epoch = loop.train_epoch


def signalled(*args, **kwargs):
    pause, calls = kwargs["pause"], [0]

    def counting_pause() -> bool:
        calls[0] += 1
        if args[5] == epoch and calls[0] == batch:
            signal.raise_signal(signal.SIGTERM)
        return pause()
    return real_train_epoch(*args, **{**kwargs, "pause": counting_pause})


loop.train_epoch = signalled
train_py = Path(__file__).resolve().parent.parent / "train.py"
sys.argv = [str(train_py), *sys.argv[3:]]
sys.path[0] = str(train_py.parent)  # the package beside train.py, as when train.py is run
runpy.run_path(str(train_py), run_name="__main__")

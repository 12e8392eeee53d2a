"""The paper's training and evaluation protocol, behind ``train.py``.

``loop.py`` has the optimizer, the schedules, the 2D corruptions and one
training epoch; ``evaluation.py`` scores a model per action as the paper
reports it, with the errors of ``metrics.py``; ``distributed.py`` lets
several processes (torchrun, srun) train one model together.

The command line (``cli/train.py``) runs it as named steps: ``arguments.py``
(the flags), ``steps.py`` (processes, data, model, optimizer, resuming),
``trainer.py`` (the epochs: pauses, evaluation, checkpoints), ``stopper.py``
(signals and the time budget) and ``history.py`` (log.csv, the curves).

It builds on the lifter and the datasets; only the command lines import it.
"""

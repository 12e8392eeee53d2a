"""The paper's training and evaluation protocol, behind ``train.py``.

``loop.py`` has the optimizer, the schedules, the 2D corruptions and one
training epoch; ``evaluation.py`` scores a model per action as the paper
reports it, with the errors of ``metrics.py``; ``distributed.py`` lets
several processes (torchrun, srun) train one model together.

It builds on the lifter and the datasets; nothing in the package imports it.
"""

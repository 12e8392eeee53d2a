"""A run's log, rewritten after every epoch from its history (the per-epoch
rows that checkpoints carry): log.csv and training_curves.png."""

from __future__ import annotations

import csv
from pathlib import Path


def write_log(path: Path, history: list[dict[str, float]]) -> None:
    """log.csv: one row per epoch, the history's keys as its header."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def plot_curves(path: Path, history: list[dict[str, float]]) -> None:
    """training_curves.png: train and (where evaluated) test MPJPE per epoch.
    Matplotlib is imported here, by the one step that needs it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [h["train_mpjpe_mm"] for h in history], label="train MPJPE")
    if any(h["eval_mpjpe_mm"] == h["eval_mpjpe_mm"] for h in history):  # any non-NaN
        ax.plot(epochs, [h["eval_mpjpe_mm"] for h in history], label="test MPJPE")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mm")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""A run's history (the CSV its CSVLogger writes, one row per epoch) read back, and drawn as curves."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from utils.figures import plt, save_png


def read_history(path: Path) -> dict[str, list[float]]:
    """The Keras CSVLogger file as columns of floats (empty cells, and the 'NA' CSVLogger writes for
    a metric an epoch lacks, such as validation ones without a validation part, become NaN)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(row[key]) if row.get(key) not in (None, "", "NA") else float("nan") for row in rows]
            for key in (rows[0].keys() if rows else [])}


def training_curves_png(history_csv: Path, path: Path, title: str) -> Path:
    """Loss and accuracy per epoch, training and validation side by side."""
    history = read_history(history_csv)
    epochs = np.asarray(history.get("epoch", []), dtype=int) + 1
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + metric)
            if values is not None:
                ax.plot(epochs, values, style, marker="o", markersize=3,
                        label="validation" if prefix else "training")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if "accuracy" in history:
        axes[1].set_ylim(0, 1)
    fig.suptitle(title)
    return save_png(fig, path)

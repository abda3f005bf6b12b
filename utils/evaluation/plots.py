"""The PNG figures: confusion matrix and ROC curves (scikit-plot), training curves, temperature sweep.

Figures are drawn with matplotlib's file-only Agg backend (no display needed) and written under a
temporary name, then renamed. With many classes (UCF101's 101) the confusion matrix grows with the
class count and drops the per-cell numbers, and the ROC plot keeps the micro/macro averages and
the classes with the lowest AUC, since 101 curves would be unreadable.
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from utils import atomic_files  # noqa: E402

MANY_CLASSES = 15  # above this, cells lose their numbers and the ROC plot its per-class curves
WORST_CLASSES_SHOWN = 5


def _scikitplot(name: str):
    """A plotting function of scikit-plots, whose lazy loader imports its own deprecated `plotters`
    module (a DeprecationWarning on every first use, nothing to act on here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import scikitplot

        return getattr(scikitplot, name)


def _save(fig, path: Path) -> Path:
    path = Path(path)
    with atomic_files.atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def confusion_matrix_png(labels, predictions, classes: list[str], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix: each row shows where one true class's clips went."""
    many = len(classes) > MANY_CLASSES
    side = max(5.0, 0.14 * len(classes) + 3)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    _scikitplot("plot_confusion_matrix")(
        [classes[i] for i in labels], [classes[i] for i in predictions], labels=classes, normalize=True,
        hide_counts=many, x_tick_rotation=90, title=title, ax=ax, fig=fig,
        text_fontsize="x-small" if many else "medium")
    return _save(fig, path)


def roc_png(labels, probabilities: np.ndarray, classes: list[str], path: Path, title: str,
            class_aucs: list[float | None] | None = None) -> Path:
    """One-vs-rest ROC curves with AUCs; beyond MANY_CLASSES only the averages and the worst classes."""
    labels = np.asarray(labels)
    present = np.unique(labels)
    if len(present) < len(classes):  # scikit-plot needs every class among the labels: plot those present
        remap = {k: i for i, k in enumerate(present)}
        labels = np.array([remap[k] for k in labels])
        probabilities = probabilities[:, present]
        classes = [classes[k] for k in present]
        class_aucs = [class_aucs[k] for k in present] if class_aucs else None
    shown = None
    if len(classes) > MANY_CLASSES:
        scored = [(auc, k) for k, auc in enumerate(class_aucs or []) if auc is not None]
        shown = [k for _, k in sorted(scored)[:WORST_CLASSES_SHOWN]]
        title += f" (micro/macro average and the {len(shown)} classes of lowest AUC)"
    fig, ax = plt.subplots(figsize=(7, 6))
    _scikitplot("plot_roc")(labels, probabilities, class_names=classes, to_plot_class_index=shown,
                        plot_micro=True, plot_macro=True, title=title, text_fontsize="small", ax=ax, fig=fig)
    # scikit-plots 0.4 labels curves "Class <index>" whatever class_names says: put the names back
    for line in ax.get_lines():
        match = re.match(r"Class (\d+) (.*)", line.get_label())
        if match:
            line.set_label(f"{classes[int(match.group(1))]} {match.group(2)}")
    ax.legend(loc="lower right", fontsize="small", title="ROC AUC")
    return _save(fig, path)


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
    return _save(fig, path)


def temperature_sweep_png(sweeps: dict, references: dict, path: Path, title: str) -> Path:
    """Accuracy against temperature, one line per teacher, with ± one standard deviation over seeds
    as error bars; ``references`` (the teachers, the students without distillation) are horizontal
    lines with their band. Values are utils/seed_statistics.Summary of accuracies in [0, 1]."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in sweeps.items():
        temperatures = sorted(points)
        means = [100 * points[t].mean for t in temperatures]
        errors = [100 * (points[t].std or 0.0) for t in temperatures]
        ax.errorbar(temperatures, means, yerr=errors, marker="o", capsize=4, label=name)
    for (name, value), style in zip(references.items(), (":", "--", "-.", (0, (1, 4)))):
        line = ax.axhline(100 * value.mean, linestyle=style, color="grey", label=name)
        if value.std:
            ax.axhspan(100 * (value.mean - value.std), 100 * (value.mean + value.std), color=line.get_color(),
                       alpha=0.08)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title)
    return _save(fig, path)

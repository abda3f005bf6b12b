"""The evaluation's PNG figures: confusion matrix and ROC curves (scikit-plot), temperature sweep, the
alpha × T grid (utils/figures.py writes them). With many classes (UCF101's 101) the confusion matrix grows with the
class count and drops the per-cell numbers, and the ROC plot keeps the micro/macro averages and
the classes with the lowest AUC, since 101 curves would be unreadable.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from utils.figures import plt, save_png

MANY_CLASSES = 15  # above this, cells lose their numbers and the ROC plot its per-class curves
WORST_CLASSES_SHOWN = 5


def _scikitplot(name: str):
    """A plotting function of scikit-plots, whose lazy loader imports its own deprecated `plotters`
    module (a DeprecationWarning on every first use, nothing to act on here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import scikitplot

        return getattr(scikitplot, name)


def confusion_matrix_png(labels, predictions, classes: list[str], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix: each row shows where one true class's clips went."""
    many = len(classes) > MANY_CLASSES
    side = max(5.0, 0.14 * len(classes) + 3)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    _scikitplot("plot_confusion_matrix")(
        [classes[i] for i in labels], [classes[i] for i in predictions], labels=classes, normalize=True,
        hide_counts=many, x_tick_rotation=90, title=title, ax=ax, fig=fig,
        text_fontsize="x-small" if many else "medium")
    return save_png(fig, path)


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
    return save_png(fig, path)


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
    return save_png(fig, path)


def kd_grid_png(gains: dict, alphas, temperatures, path: Path, title: str) -> Path:
    """A heatmap of the mean gain per (alpha, T) (rows alpha, columns T; a diverging map centred on 0), each
    cell annotated with its mean and 95% interval (utils/seed_statistics.Summary, in points)."""
    means = np.array([[gains[a, t].mean for t in temperatures] for a in alphas])
    reach = max(1.0, float(np.abs(means).max()))
    fig, ax = plt.subplots(figsize=(1.9 * len(temperatures) + 2.5, 1.2 * len(alphas) + 1.5))
    image = ax.imshow(means, cmap="RdBu", vmin=-reach, vmax=reach)
    for i, a in enumerate(alphas):
        for j, t in enumerate(temperatures):
            g = gains[a, t]
            label = f"{g.mean:+.1f}" + (f"\n[{g.low:+.1f}, {g.high:+.1f}]" if g.low is not None else "")
            ax.text(j, i, label, ha="center", va="center", fontsize="small",
                    color="white" if abs(g.mean) > 0.6 * reach else "black")
    ax.set_xticks(range(len(temperatures)), [f"T={t:g}" for t in temperatures])
    ax.set_yticks(range(len(alphas)), [f"alpha={a:g}" for a in alphas])
    fig.colorbar(image, ax=ax, label="mean gain (top-1 points)")
    ax.set_title(title, fontsize="medium")
    return save_png(fig, path)

"""Whether a training run had stopped improving when it ended, read from its history CSV.

A gain or loss measured on models that are still learning is a statement about the schedule, not
about the method. The check: the validation accuracy averaged over the last 20% of the epochs is
within 1 point of its best average over any run of that many consecutive epochs. Averaging over a
window, rather than comparing with the single best epoch, keeps one lucky epoch on a small
validation part (60 clips: 1.7 points a clip) from deciding it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

TAIL_SHARE = 0.2
TOLERANCE_POINTS = 1.0


@dataclass(frozen=True)
class Convergence:
    epochs: int
    last_window: float  # mean validation accuracy (%) of the last window
    best_window: float  # the best mean (%) of any window of the same length

    @property
    def converged(self) -> bool:
        return self.best_window - self.last_window <= TOLERANCE_POINTS


def convergence(history: Path) -> Convergence | None:
    """The check for one run's history (None without validation accuracy in it)."""
    with open(history, newline="") as handle:
        values = [float(row["val_accuracy"]) * 100 for row in csv.DictReader(handle) if row.get("val_accuracy")]
    if not values:
        return None
    window = max(1, math.ceil(TAIL_SHARE * len(values)))
    means = [sum(values[i:i + window]) / window for i in range(len(values) - window + 1)]
    return Convergence(len(values), means[-1], max(means))


def convergence_sentence(histories: list[Path]) -> str:
    """One caption sentence over several runs: how many passed, and the worst gap."""
    checks = [(path, c) for path in histories if (c := convergence(path)) is not None]
    if not checks:
        return ""
    failed = [(path, c) for path, c in checks if not c.converged]
    worst = max(c.best_window - c.last_window for _, c in checks)
    text = (f"Convergence: for {len(checks) - len(failed)} of the {len(checks)} models the validation accuracy "
            f"averaged over the last {TAIL_SHARE:.0%} of the epochs is within {TOLERANCE_POINTS:g} point of its best "
            f"average over as many consecutive epochs (largest gap {worst:.1f} points)")
    if failed:
        text += "; not: " + ", ".join(f"{Path(path).name.replace('.history.csv', '')} "
                                      f"({c.best_window - c.last_window:.1f})" for path, c in failed[:6])
    return text + "."

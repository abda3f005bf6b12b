"""Whether a training run had stopped improving when it ended, read from its history CSV.

A gain or loss measured on models that are still learning is a statement about the schedule, not
about the method. The check, on the validation accuracy averaged over windows of 20% of the epochs:
the last window is within 1 point of the best window (the run reached its best level) and at most 1
point above the window before it (it has stopped rising). Averaging over windows, rather than
comparing single epochs, keeps one lucky epoch on a small validation part (60 clips: 1.7 points a
clip) from deciding it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from utils.training.curves import read_history

TAIL_SHARE = 0.2
TOLERANCE_POINTS = 1.0


@dataclass(frozen=True)
class Convergence:
    epochs: int
    last_window: float  # mean validation accuracy (%) of the last window
    best_window: float  # the best mean (%) of any window of the same length
    previous_window: float  # the mean (%) of the window just before the last (the last itself if none)

    @property
    def gap(self) -> float:
        """Points by which the run falls short: below its best level, or still rising."""
        return max(self.best_window - self.last_window, self.last_window - self.previous_window)

    @property
    def converged(self) -> bool:
        return self.gap <= TOLERANCE_POINTS


def convergence(history: Path) -> Convergence | None:
    """The check for one run's history (None without validation accuracy in it)."""
    values = [100 * v for v in read_history(history).get("val_accuracy", []) if v == v]  # NaN: no validation
    if not values:
        return None
    window = max(1, math.ceil(TAIL_SHARE * len(values)))
    means = [sum(values[i:i + window]) / window for i in range(len(values) - window + 1)]
    previous = means[-1 - window] if len(means) > window else means[0]
    return Convergence(len(values), means[-1], max(means), previous)


def convergence_sentence(histories: list[Path]) -> str:
    """One caption sentence over several runs: how many passed, and the worst gap."""
    checks = [(path, c) for path in histories if (c := convergence(path)) is not None]
    if not checks:
        return ""
    failed = [(path, c) for path, c in checks if not c.converged]
    worst = max(c.gap for _, c in checks)
    text = (f"Convergence: for {len(checks) - len(failed)} of the {len(checks)} models the validation accuracy "
            f"averaged over the last {TAIL_SHARE:.0%} of the epochs is within {TOLERANCE_POINTS:g} point of its best "
            f"average over as many consecutive epochs and at most {TOLERANCE_POINTS:g} point above the window before "
            f"(largest shortfall {worst:.1f} points)")
    if failed:
        text += "; not: " + ", ".join(f"{Path(path).name.replace('.history.csv', '')} ({c.gap:.1f})"
                                      for path, c in failed[:6])
    return text + "."

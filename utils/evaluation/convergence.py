"""Whether a training run had stopped improving when it ended, read from its history CSV.

A gain or loss measured on models that are still learning is a statement about the schedule, not
about the method. The check, on the validation accuracy over the last 20% of the epochs (the last
window): its mean is as high as the best mean over any window of as many consecutive epochs (the run
reached its best level), and the mean of its second half is no higher than that of its first half
(it has stopped rising), both up to a tolerance: 1 point, or two standard errors of chance where
that is more. Chance matters on a small validation part: a model at 85% scored on 60 clips moves by
about 4.6 points from one epoch to the next without learning anything, so one clip (1.7 points) is
no evidence of a rise. The standard error of a difference of two means of k epochs each, for a model
at accuracy p on n clips, is taken as sqrt(2 p (1 − p) / (n k)), as if epochs were independent draws.
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
    rise: float  # points the second half of the last window is above its first half
    level_tolerance: float
    rise_tolerance: float

    @property
    def gap(self) -> float:
        """The larger shortfall, as a share of its tolerance (above 1: not converged)."""
        return max((self.best_window - self.last_window) / self.level_tolerance, self.rise / self.rise_tolerance)

    @property
    def converged(self) -> bool:
        return self.gap <= 1.0


def tolerance(accuracy: float, clips: int | None, epochs: int) -> float:
    """Points two means of ``epochs`` epochs each may differ by chance (two standard errors, at least 1)."""
    if not clips:
        return TOLERANCE_POINTS
    p = min(max(accuracy / 100, 0.0), 1.0)
    return max(TOLERANCE_POINTS, 2 * 100 * math.sqrt(2 * p * (1 - p) / (clips * max(epochs, 1))))


def window_length(epochs: int) -> int:
    """Epochs in the last window (and in every window it is compared with)."""
    return max(2, math.ceil(TAIL_SHARE * epochs))


def convergence(history: Path, validation_clips: int | None = None) -> Convergence | None:
    """The check for one run's history (None without validation accuracy in it); ``validation_clips`` sizes the
    tolerance for chance."""
    values = [100 * v for v in read_history(history).get("val_accuracy", []) if v == v]  # NaN: no validation
    if len(values) < 2:
        return None
    window = window_length(len(values))
    means = [sum(values[i:i + window]) / window for i in range(len(values) - window + 1)]
    tail, half = values[-window:], window // 2
    rise = sum(tail[-half:]) / half - sum(tail[:half]) / half
    last = means[-1]
    return Convergence(len(values), last, max(means), rise, tolerance(last, validation_clips, window),
                       tolerance(last, validation_clips, half))


def run_name(history: Path) -> str:
    """A run's model name, with its seed folder when it has one (seed_1/teacher_TFS)."""
    name = Path(history).name.replace(".history.csv", "")
    seed = Path(history).parent.parent.name
    return f"{seed}/{name}" if seed.startswith("seed_") else name


def never_learned(check: Convergence, classes: int, validation_clips: int | None) -> bool:
    """Its best window within chance's noise of guessing (1/classes): a run that stays there passes the check
    above (it stopped improving), but it is no trained model."""
    chance = 100 / classes
    return check.best_window <= chance + tolerance(chance, validation_clips, window_length(check.epochs))


def convergence_sentence(runs: list[tuple[Path, int | None]], classes: int | None = None) -> str:
    """One caption sentence over several runs ((history, validation clips) each): how many passed, the worst; with
    ``classes``, a second one naming the runs that never rose above chance."""
    checks = [(path, c, clips) for path, clips in runs if (c := convergence(path, clips)) is not None]
    if not checks:
        return ""
    stuck = [run_name(path) for path, c, clips in checks if classes and never_learned(c, classes, clips)]
    failed = [(path, c) for path, c, _ in checks if not c.converged]
    text = (f"Convergence (utils/evaluation/convergence.py): for {len(checks) - len(failed)} of the {len(checks)} "
            f"models the validation accuracy over the last {TAIL_SHARE:.0%} of the epochs averages as high as its best "
            "average over as many consecutive epochs, and the second half of those epochs is no higher than the "
            "first, both within 1 point or two standard errors of chance")
    if failed:
        text += "; not: " + ", ".join(f"{run_name(path)} (short by "
                                      f"{max(c.best_window - c.last_window, c.rise):.1f} points)" for path, c in failed[:6])
    text += "."
    if stuck:
        text += (f" {len(stuck)} of them never rose above chance ({100 / classes:.1f}%) on their validation clips: "
                 f"{', '.join(stuck)}.")
    return text

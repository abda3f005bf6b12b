"""Results over several seeds: mean ± standard deviation, and paired differences with a 95% interval.

Each seed of a reproduction draws its own split, initial weights, dropout masks and shuffling, so
the spread over seeds is the run-to-run variation a reader should expect. A distillation gain is
a **paired** difference: the distilled student's accuracy minus the student without distillation's
on the same seed (same split and test clips); its interval is Student's t over the seeds,
mean ± t(0.975, n−1) · sd / √n. One seed gives a number and no interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float | None  # sample standard deviation (n − 1); None for one value
    low: float | None  # 95% interval of the mean (t distribution); None for one value
    high: float | None
    n: int

    @property
    def side(self) -> int:
        """+1 / -1 where the 95% interval lies wholly above / below 0; 0 where it includes 0 (or, one value,
        there is none)."""
        if self.low is None:
            return 0
        return 1 if self.low > 0 else -1 if self.high < 0 else 0

    def text(self, digits: int = 2, interval: bool = False) -> str:
        if self.std is None:
            return f"{self.mean:.{digits}f}"
        if interval:
            return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def summarise(values: Sequence[float]) -> Summary:
    """Mean, sample standard deviation and 95% t-interval of the mean of ``values``."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("no values to summarise")
    n = len(values)
    mean = math.fsum(values) / n
    if n == 1:
        return Summary(mean, None, None, None, 1)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    from scipy.stats import t

    half = float(t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return Summary(mean, std, mean - half, mean + half, n)


def paired_differences(values: dict[int, float], baseline: dict[int, float]) -> Summary | None:
    """Summary of values[seed] − baseline[seed] over the seeds both have (None if none)."""
    seeds = sorted(set(values) & set(baseline))
    if not seeds:
        return None
    return summarise([values[s] - baseline[s] for s in seeds])

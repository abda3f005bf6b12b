"""Two reproductions of the same data and seeds side by side, row by row, with paired differences.

Used for the ablation of the authors' arithmetic (``reproduce_paper.py --original_code --compare_with
DIR``): each row of this run beside the same row of the other, and this minus that, paired by seed
(the same seed gives both runs the same split, initial weights and shuffling), as mean and 95%
t-interval. Each run's per-seed table (``seed_S/paper_table.csv``) is what is read.
"""

from __future__ import annotations

import csv
from pathlib import Path

from utils.errors import InputError
from utils.evaluation.seed_statistics import paired_differences, summarise
from utils.evaluation.tables import markdown_table

COLUMN = "top1_accuracy_mean"


def per_seed_accuracies(run: Path, seeds: list[int]) -> dict[str, dict[int, float]]:
    """row -> {seed: top-1 (%)} from ``run``/seed_S/paper_table.csv, for the seeds that have one."""
    rows: dict[str, dict[int, float]] = {}
    for seed in seeds:
        table = Path(run) / f"seed_{seed}" / "paper_table.csv"
        if not table.is_file():
            continue
        with open(table, newline="") as handle:
            for line in csv.DictReader(handle):
                if line.get(COLUMN) not in (None, ""):
                    rows.setdefault(line["model"], {})[seed] = float(line[COLUMN])
    return rows


def _gain(accuracies: dict[str, dict[int, float]], row: str, baseline: str):
    if not row.startswith("Student-") or baseline not in accuracies:
        return None
    return paired_differences(accuracies[row], accuracies[baseline])


def paired_table(this: Path, other: Path, seeds: list[int], this_name: str, other_name: str,
                 baseline: str) -> tuple[str, dict]:
    """(Markdown table, {row: (paired difference, other's KD gain, this KD gain)}) of the rows both runs have for
    every seed; a KD gain is a distilled row minus ``baseline`` in the same run, paired by seed."""
    ours, theirs = per_seed_accuracies(this, seeds), per_seed_accuracies(other, seeds)
    common = [row for row in ours if row in theirs and set(ours[row]) == set(theirs[row]) == set(seeds)]
    if not common:
        raise InputError(f"--compare_with {other}: no row has results for seeds {', '.join(map(str, seeds))} in both "
                         f"{this} and {other} (run that reproduction for these seeds first)")

    def text(summary, interval=True):
        if summary is None:
            return None
        return summary.text(interval=True) if interval and summary.n > 1 else f"{summary.mean:+.2f}"

    found, lines = {}, []
    for row in common:
        difference = paired_differences(ours[row], theirs[row])
        gains = (_gain(theirs, row, baseline), _gain(ours, row, baseline))
        found[row] = (difference, *gains)
        lines.append([row, summarise(list(theirs[row].values())).text(), summarise(list(ours[row].values())).text(),
                      text(difference), text(gains[0]), text(gains[1])])
    headers = ["model", f"{other_name} top-1 (%)", f"{this_name} top-1 (%)",
               f"{this_name} minus {other_name} (points), 95% CI", f"KD gain, {other_name} (points)",
               f"KD gain, {this_name} (points)"]
    return markdown_table(headers, lines), found

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


def what_it_shows(found: dict, this_name: str, other_name: str, baseline: str) -> str:
    """A short reading of the paired comparison for the published gains: whether ``this_name``'s arithmetic
    moves the distilled students, and whether it turns distillation into a gain over ``baseline`` where
    ``other_name``'s does not. Stated from the intervals only, so the words cannot run ahead of the numbers."""
    distilled = {row: values for row, values in found.items() if row.startswith("Student-")}
    if not distilled:
        return ""
    count = len(distilled)
    moved = [values[0].side for values in distilled.values()]
    ours = sum(values[2] is not None and values[2].side > 0 for values in distilled.values())
    theirs = sum(values[1] is not None and values[1].side > 0 for values in distilled.values())
    largest = max((values[0].mean for values in distilled.values()), key=abs)
    if moved.count(1) and not moved.count(-1):
        effect = (f"'{this_name}' raises the distilled students ({moved.count(1)} of {count} rows clearly, by up to "
                  f"{largest:+.2f} points)")
    elif moved.count(-1) and not moved.count(1):
        effect = (f"'{this_name}' lowers the distilled students ({moved.count(-1)} of {count} rows clearly, by up to "
                  f"{largest:+.2f} points)")
    elif moved.count(1) or moved.count(-1):
        effect = f"'{this_name}' raises {moved.count(1)} and lowers {moved.count(-1)} of the {count} distilled rows clearly"
    else:
        effect = (f"'{this_name}' does not move the distilled students beyond seed-to-seed variation (no interval of "
                  f"the {count} rows excludes 0; the largest mean difference is {largest:+.2f} points)")
    if ours > theirs:
        where = "only" if theirs == 0 else "more often"
        verdict = (f"With '{this_name}', {ours} of {count} distilled students beat '{baseline}' (interval above 0) "
                   f"against {theirs} with '{other_name}': a gain of the published kind appears {where} with that "
                   f"arithmetic, so the published gains may depend on it.")
    elif theirs:
        verdict = (f"{ours} of {count} distilled students beat '{baseline}' with '{this_name}' and {theirs} with "
                   f"'{other_name}': the gain does not come from the arithmetic.")
    else:
        verdict = (f"With neither arithmetic does a distilled student beat '{baseline}' (no KD-gain interval above "
                   f"0): on this data the arithmetic neither explains nor restores the published gains.")
    return (f"What this shows: {effect}. {verdict} One synthetic dataset and one student width: this tells whether "
            f"the arithmetic can make such gains here, not whether it made them on UCF11, UCF50, HMDB51 or UCF101.")


def pool_mismatches(this: Path, other: Path, seeds: list[int]) -> list[str]:
    """Models of ``this`` run trained with other TensorFlow thread pools than the same model of ``other``: the pools
    are part of the arithmetic, so such a pair differs by rounding grown over training as well (even a model the
    two arithmetics compute alike, such as a teacher, then differs)."""
    from utils.machine import thread_pools
    from utils.sidecar import read_sidecar

    before_recorded = thread_pools({})  # sidecars from before the pools were recorded: one per core
    found = []
    for seed in seeds:
        for sidecar in sorted((this / f"seed_{seed}" / "models").glob("*.json")):
            twin = other / f"seed_{seed}" / "models" / sidecar.name
            if not twin.is_file():
                continue
            pools = [read_sidecar(path.with_suffix(".keras")).get("thread_pools") or before_recorded
                     for path in (sidecar, twin)]
            if pools[0] != pools[1]:
                found.append(f"seed {seed} {sidecar.stem}")
    return found


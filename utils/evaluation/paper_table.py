"""The paper-style table of a reproduction: our rows beside the published ones, over one or more seeds.

Rows are the paper's 13 in its order (plus the student without distillation trained for the
distilled students' epochs, and temperatures the paper did not try). Columns: our top-1, mean
class accuracy and macro F1 (mean ± std over seeds), the published top-1 for the dataset and the
difference, and for each distilled row its gain over the student without distillation (paired per
seed; with several seeds, mean and 95% interval) at the paper's budget and at an equal one.
"""

from __future__ import annotations

from utils.evaluation.paper_results import (
    BASELINE_ROW,
    DATASETS,
    EQUAL_BUDGET_ROW,
    PUBLISHED,
    ROWS,
    TEMPERATURES,
    distilled_row,
)
from utils.evaluation.seed_statistics import Summary, paired_differences, summarise

METRICS = (("top1_accuracy", "top-1 (%)"), ("mean_class_accuracy", "mean class acc. (%)"), ("macro_f1", "macro F1 (%)"))


def table_rows(temperatures: list[float], equal_budget: bool) -> list[str]:
    """The paper's 13 rows, the equal-budget baseline after the paper's, extra temperatures last."""
    rows = list(ROWS)
    if equal_budget:
        rows.insert(rows.index(BASELINE_ROW) + 1, EQUAL_BUDGET_ROW)
    extra = sorted(set(temperatures) - set(TEMPERATURES))
    for teacher in ("TFS", "TUTL"):
        rows += [distilled_row(teacher, t) for t in extra]
    return rows


def _accuracies(scores_by_seed: dict[int, dict[str, dict]], row: str) -> dict[int, float]:
    return {seed: 100 * rows[row]["top1_accuracy"] for seed, rows in scores_by_seed.items() if row in rows}


def gain(scores_by_seed: dict[int, dict[str, dict]], row: str, baseline: str) -> Summary | None:
    """``row``'s top-1 minus ``baseline``'s, in points, paired per seed."""
    return paired_differences(_accuracies(scores_by_seed, row), _accuracies(scores_by_seed, baseline))


def paper_table(scores_by_seed: dict[int, dict[str, dict]], temperatures: list[float], dataset: str | None,
                equal_budget: bool) -> tuple[list[str], list[list], list[list]]:
    """(headers, rows of text for Markdown, rows of numbers for CSV); ``scores_by_seed[seed][row]`` is
    evaluate.py's scores of that row's model."""
    several = len(scores_by_seed) > 1
    paper_columns = [dataset] if dataset else list(DATASETS)
    headers = ["model"] + [label for _, label in METRICS] + [f"paper {name} (%)" for name in paper_columns]
    if dataset:
        headers.append("difference (points)")
    gain_columns = [("KD gain (points)", BASELINE_ROW)]
    if equal_budget:
        gain_columns.append(("KD gain, equal budget (points)", EQUAL_BUDGET_ROW))
    headers += [name + (", 95% CI" if several else "") for name, _ in gain_columns]
    text_rows, number_rows = [], []
    for row in table_rows(temperatures, equal_budget):
        per_metric = [[100 * rows[row][key] for rows in scores_by_seed.values() if row in rows] for key, _ in METRICS]
        ours = [summarise(values) if values else None for values in per_metric]
        published = [PUBLISHED.get(row, {}).get(name) for name in paper_columns]
        text = [row] + [s.text() if s else "not run" if i == 0 else None for i, s in enumerate(ours)] + published
        numbers = [row] + [value for s in ours for value in ((s.mean, s.std) if s else (None, None))] + published
        if dataset:
            difference = ours[0].mean - published[0] if ours[0] and published[0] is not None else None
            text.append(difference)
            numbers.append(difference)
        is_distilled = row.startswith("Student-")
        for _, baseline in gain_columns:
            summary = gain(scores_by_seed, row, baseline) if is_distilled else None
            text.append(summary.text(interval=True) if summary and several else summary.mean if summary else None)
            numbers += [summary.mean, summary.low, summary.high] if summary else [None, None, None]
        text_rows.append(text)
        number_rows.append(numbers)
    return headers, text_rows, number_rows


def csv_headers(headers: list[str], dataset: str | None, equal_budget: bool) -> list[str]:
    """Column names of the CSV: each of our metrics as mean and std, each gain as mean and interval."""
    columns = ["model"]
    for key, _ in METRICS:
        columns += [f"{key}_mean", f"{key}_std"]
    columns += [h for h in headers if h.startswith("paper ")]
    if dataset:
        columns.append("difference")
    for name in ["kd_gain"] + (["kd_gain_equal_budget"] if equal_budget else []):
        columns += [f"{name}_mean", f"{name}_ci_low", f"{name}_ci_high"]
    return columns


def teacher_comparison(scores_by_seed: dict[int, dict[str, dict]]) -> str | None:
    """Whether the TUTL teacher beat the TFS teacher: their paired difference, in words."""
    difference = gain(scores_by_seed, "TUTL Teacher", "TFS Teacher")
    if difference is None:
        return None
    several = difference.n > 1
    verdict = ("TUTL beat TFS" if difference.mean > 0 else "TUTL did not beat TFS")
    if several and difference.side == 0:
        verdict = "no clear difference (the interval includes 0)"
    return (f"TUTL teacher minus TFS teacher: {difference.text(interval=several)} points"
            f"{' (mean, 95% CI over ' + str(difference.n) + ' seeds)' if several else ''}: {verdict}.")


def sweep_points(scores_by_seed: dict[int, dict[str, dict]], temperatures: list[float]):
    """({'Student-TFS': {T: Summary}}, {'TFS Teacher': Summary, ...}) of top-1 (fractions), for the plot."""
    def summary(row):
        values = [rows[row]["top1_accuracy"] for rows in scores_by_seed.values() if row in rows]
        return summarise(values) if values else None

    sweeps = {}
    for teacher in ("TFS", "TUTL"):
        points = {t: s for t in temperatures if (s := summary(distilled_row(teacher, t)))}
        if points:
            sweeps[f"Student-{teacher}"] = points
    references = {row: s for row in ("TFS Teacher", "TUTL Teacher", BASELINE_ROW, EQUAL_BUDGET_ROW)
                  if (s := summary(row))}
    return sweeps, references

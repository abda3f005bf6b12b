"""Mean ± std over seeds, paired gains with t-intervals, and the multi-seed paper table built from them."""

import math

import pytest
from scipy import stats

from utils.evaluation.paper_results import BASELINE_ROW, EQUAL_BUDGET_ROW, ROWS
from utils.evaluation.paper_table import gain, paper_table, teacher_comparison
from utils.evaluation.seed_statistics import paired_differences, summarise


def test_summary_is_the_sample_mean_std_and_t_interval():
    values = [80.0, 84.0, 85.0]
    summary = summarise(values)
    assert summary.mean == pytest.approx(83.0)
    assert summary.std == pytest.approx(math.sqrt(((3**2) + 1 + 2**2) / 2))
    low, high = stats.t.interval(0.95, 2, loc=83.0, scale=stats.sem(values))
    assert (summary.low, summary.high) == (pytest.approx(low), pytest.approx(high))
    assert summary.text() == "83.00 ± 2.65"
    one = summarise([70.0])
    assert one.std is None and one.low is None and one.text() == "70.00"


def test_gains_are_paired_per_seed_not_differences_of_means():
    distilled = {0: 90.0, 1: 80.0, 2: 85.0}
    baseline = {0: 88.0, 1: 78.0, 2: 83.0, 3: 10.0}  # seed 3 has no distilled student: left out
    difference = paired_differences(distilled, baseline)
    assert difference.mean == pytest.approx(2.0) and difference.std == pytest.approx(0.0) and difference.n == 3
    assert paired_differences({0: 1.0}, {1: 2.0}) is None


def scores(top1: dict[str, float]) -> dict[str, dict]:
    return {row: {"top1_accuracy": v, "mean_class_accuracy": v, "macro_f1": v} for row, v in top1.items()}


def test_multi_seed_table_has_every_row_mean_std_and_both_gains_with_intervals():
    by_seed = {}
    for seed, shift in ((0, 0.00), (1, 0.02), (2, -0.01)):
        rows = {row: 0.70 + shift for row in ROWS}
        rows[BASELINE_ROW] = 0.60 + shift
        rows[EQUAL_BUDGET_ROW] = 0.65 + shift
        rows["TFS Teacher"] = 0.90 + shift
        rows["TUTL Teacher"] = 0.80 + 2 * shift
        by_seed[seed] = scores(rows)
    headers, text, numbers = paper_table(by_seed, [1, 5, 10, 15, 20], "UCF11", equal_budget=True)
    assert headers[-2:] == ["KD gain (points), 95% CI", "KD gain, equal budget (points), 95% CI"]
    names = [row[0] for row in text]
    assert names[:2] == [BASELINE_ROW, EQUAL_BUDGET_ROW] and len(names) == 14 and set(ROWS) <= set(names)
    distilled = text[names.index("Student-TFS (T=10)")]
    assert distilled[1] == "70.33 ± 1.53"
    assert distilled[-2] == "+10.00 [+10.00, +10.00]" and distilled[-1] == "+5.00 [+5.00, +5.00]"
    teacher = text[names.index("TFS Teacher")]
    assert teacher[-2:] == [None, None]  # gains only for distilled students
    assert numbers[names.index("Student-TFS (T=10)")][1:3] == [pytest.approx(70.333, abs=1e-3),
                                                               pytest.approx(1.528, abs=1e-3)]
    assert gain(by_seed, "TUTL Teacher", "TFS Teacher").mean == pytest.approx(-10 + 100 * (0.02 - 0.01) / 3)
    assert "did not beat TFS" in teacher_comparison(by_seed)
    assert "no clear difference (the interval includes 0)" in teacher_comparison(
        {seed: {**rows, "TUTL Teacher": by_seed[1 + seed % 2]["TFS Teacher"]} for seed, rows in by_seed.items()})


def test_one_seed_table_keeps_plain_numbers_and_marks_rows_not_run():
    rows = {row: 0.5 for row in ROWS if "TUTL" not in row}
    headers, text, _ = paper_table({0: scores(rows)}, [1, 5, 10, 15, 20], None, equal_budget=False)
    assert "KD gain (points)" in headers and not any("equal budget" in h for h in headers)
    names = [row[0] for row in text]
    assert text[names.index("TUTL Teacher")][1] == "not run"
    assert text[names.index("Student-TFS (T=1)")][1] == "50.00"
    assert teacher_comparison({0: scores(rows)}) is None

"""The reports that turn finished runs into evidence: the convergence check, the alpha × T grid and the
paired comparison of two reproductions (on fake runs: what they read is files, not models)."""

import csv
import json
from pathlib import Path

import pytest

from utils.errors import InputError
from utils.evaluation.convergence import convergence, convergence_sentence
from utils.reproduction.kd_grid import GridSettings, cell_name, plan_seed, write_grid_report
from utils.reproduction.paired_runs import paired_table, pool_mismatches


def history(path: Path, val_accuracies: list[float]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "accuracy", "val_accuracy"])
        writer.writerows([i, 0.5, v] for i, v in enumerate(val_accuracies))
    return path


def test_convergence_needs_the_best_level_and_no_more_rise(tmp_path):
    flat = history(tmp_path / "flat.history.csv", [0.2, 0.5, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    rising = history(tmp_path / "rising.history.csv", [0.1 * i for i in range(10)])
    fallen = history(tmp_path / "fallen.history.csv", [0.5, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.6, 0.6])
    check = convergence(flat)
    assert check.converged and check.last_window == pytest.approx(90) and check.gap == pytest.approx(0)
    still_rising = convergence(rising)  # windows of 2 epochs: the last (80, 90) is the best, but it still rises
    assert not still_rising.converged and still_rising.best_window == still_rising.last_window
    assert still_rising.rise == pytest.approx(10) and still_rising.gap == pytest.approx(10)
    dropped = convergence(fallen)  # best 90, last 60
    assert not dropped.converged and dropped.best_window - dropped.last_window == pytest.approx(30)
    sentence = convergence_sentence([(flat, None), (rising, None), (fallen, None)])
    assert "for 1 of the 3 models" in sentence
    assert "not: rising (short by 10.0 points), fallen (short by 30.0 points)" in sentence


def test_the_tolerance_grows_with_chance_on_a_small_validation_part(tmp_path):
    """At 85% on 60 clips, a 4-point rise between two halves of 2 epochs is within chance; on 6000 clips it is not."""
    values = [0.85] * 16 + [0.83, 0.83, 0.87, 0.87]
    path = history(tmp_path / "noisy.history.csv", values)
    assert convergence(path, validation_clips=60).converged
    assert not convergence(path, validation_clips=6000).converged


def test_one_lucky_epoch_is_averaged_out(tmp_path):
    """25 epochs (windows of 5): a single epoch one clip in 60 above the plateau is not a better level."""
    values = [0.5] * 5 + [0.9] * 20
    values[12] = 0.9 + 1 / 60
    check = convergence(history(tmp_path / "lucky.history.csv", values))
    assert check.converged and check.best_window - check.last_window == pytest.approx(100 / 60 / 5)


def fake_model(path: Path, record: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"model")
    path.with_suffix(".json").write_text(json.dumps({"format": "har-kd-model/1", **record}))
    return path


def fake_reproduction(root: Path, seeds=(0, 1)) -> Path:
    hyper = {"epochs": 50, "batch_size": 8, "lr": 1e-3, "lr_schedule": "cosine", "init": "motion",
             "mixed_precision": "off", "mixed_precision_flag": "off"}
    for seed in seeds:
        models = root / f"seed_{seed}" / "models"
        fake_model(models / "teacher_TFS.keras", {"role": "teacher", "hyperparameters": {**hyper, "epochs": 25}})
        fake_model(models / "student_equal_budget.keras", {"role": "student", "hyperparameters": hyper})
        for t in (1, 10):
            fake_model(models / f"student_TFS_T{t}.keras", {
                "role": "distilled_student", "width": 0.25, "hyperparameters": hyper,
                "data": {"frames": "/data/frames.npy"}, "distillation": {"alpha": 0.1, "temperature": t}})
    return root


def test_grid_reuses_the_reproductions_cells_and_trains_the_others(tmp_path):
    reproduction = fake_reproduction(tmp_path / "run")
    settings = GridSettings(reproduction, (0.1, 0.5), (1.0, 4.0, 10.0), (0, 1), tmp_path / "grid")
    steps, cells, baseline = plan_seed(settings, 0)
    assert cells[cell_name(0.1, 1.0)] == reproduction / "seed_0/models/student_TFS_T1.keras"
    assert cells[cell_name(0.1, 10.0)] == reproduction / "seed_0/models/student_TFS_T10.keras"
    assert baseline.name == "student_equal_budget.keras"
    assert [step.title for step in steps] == ["alpha 0.1, T = 4", "alpha 0.5, T = 1, 4, 10"]
    arguments = steps[1].arguments
    for flag, value in (("--alpha", "0.5"), ("--epochs", "50"), ("--lr_schedule", "cosine"), ("--init", "motion"),
                        ("--source", str(reproduction / "seed_0/models/teacher_TFS.keras"))):
        assert arguments[arguments.index(flag) + 1] == value
    assert steps[1].outputs[0].name == "student_a0.5_T1.keras" and steps[1].expected["distillation.alpha"] == 0.5
    with pytest.raises(InputError, match="seed 7 has no finished TFS teacher"):
        plan_seed(GridSettings(reproduction, (0.1,), (1.0,), (7,), tmp_path / "grid"), 7)


def test_grid_report_pairs_each_cell_with_the_baseline_by_seed(tmp_path):
    settings = GridSettings(tmp_path / "run", (0.1, 0.9), (1.0, 10.0), (0, 1, 2), tmp_path / "grid")
    settings.output_dir.mkdir()
    baseline = {0: 80.0, 1: 84.0, 2: 90.0}
    scores = {"baseline": baseline}
    for a in settings.alphas:
        for t in settings.temperatures:
            shift = 5.0 if (a, t) == (0.9, 1.0) else -1.0
            scores[cell_name(a, t)] = {s: v + shift + 0.5 * s for s, v in baseline.items()}
    text = write_grid_report(settings, scores)
    assert "Largest mean gain: alpha 0.9, T 1: +5.50" in text
    rows = {(float(r["alpha"]), float(r["temperature"])): r for r in csv.DictReader(open(settings.output_dir /
                                                                                        "kd_grid.csv"))}
    assert float(rows[0.9, 1.0]["gain_mean"]) == pytest.approx(5.5)
    assert float(rows[0.1, 10.0]["gain_mean"]) == pytest.approx(-0.5)
    assert float(rows[0.1, 10.0]["top1_mean"]) == pytest.approx((80 + 84 + 90) / 3 - 1.0 + 0.5)
    assert (settings.output_dir / "kd_grid.png").read_bytes()[:4] == b"\x89PNG"


def per_seed_table(run: Path, seed: int, accuracies: dict[str, float]) -> None:
    folder = run / f"seed_{seed}"
    folder.mkdir(parents=True)
    with open(folder / "paper_table.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "top1_accuracy_mean", "top1_accuracy_std"])
        writer.writerows([row, value, ""] for row, value in accuracies.items())


def test_paired_table_differences_and_gains_per_seed(tmp_path):
    for seed in (0, 1, 2):
        per_seed_table(tmp_path / "corrected", seed, {"TFS Teacher": 90 + seed, "Student w/o KD (equal budget)": 80,
                                                       "Student-TFS (T=10)": 78 + seed})
        per_seed_table(tmp_path / "original", seed, {"TFS Teacher": 90 + seed, "Student w/o KD (equal budget)": 80,
                                                      "Student-TFS (T=10)": 82 + 2 * seed})
    text, found = paired_table(tmp_path / "original", tmp_path / "corrected", [0, 1, 2], "original code",
                               "corrected", "Student w/o KD (equal budget)")
    difference, corrected_gain, original_gain = found["Student-TFS (T=10)"]
    assert difference.mean == pytest.approx(5.0) and difference.n == 3
    assert corrected_gain.mean == pytest.approx(-1.0) and original_gain.mean == pytest.approx(4.0)
    assert found["TFS Teacher"][0].mean == 0 and found["TFS Teacher"][1] is None
    assert "| Student-TFS (T=10) |" in text
    with pytest.raises(InputError, match="no row has results for seeds 3"):
        paired_table(tmp_path / "original", tmp_path / "corrected", [3], "a", "b", "Student w/o KD (equal budget)")


def test_the_reading_follows_the_intervals(tmp_path):
    """The paragraph on the published gains says a gain appears only with the original arithmetic exactly when
    its KD-gain intervals are above 0 and the corrected ones are not, and says "no difference" otherwise."""
    from utils.reproduction.paired_runs import what_it_shows

    def reading(original_student, corrected_student=lambda seed: 78 + seed + (seed == 1)):
        run = tmp_path / f"case_{len(list(tmp_path.iterdir()))}"
        for seed in (0, 1, 2):
            per_seed_table(run / "corrected", seed, {"Student w/o KD (equal budget)": 80 + seed,
                                                     "Student-TFS (T=10)": corrected_student(seed)})
            per_seed_table(run / "original", seed, {"Student w/o KD (equal budget)": 80 + seed,
                                                    "Student-TFS (T=10)": original_student(seed)})
        _, found = paired_table(run / "original", run / "corrected", [0, 1, 2], "original code", "corrected",
                                "Student w/o KD (equal budget)")
        return what_it_shows(found, "original code", "corrected", "Student w/o KD (equal budget)")

    raised = reading(lambda seed: 85 + seed + 0.5 * (seed == 2))  # +5 over its baseline in every seed
    assert "'original code' raises the distilled students (1 of 1 rows clearly" in raised
    assert "1 of 1 distilled students beat 'Student w/o KD (equal budget)'" in raised and "appears only with" in raised
    same = reading(lambda seed: 78 + seed + (seed == 2))  # within the corrected run's seed-to-seed variation
    assert "does not move the distilled students beyond seed-to-seed variation" in same
    assert "With neither arithmetic does a distilled student beat" in same and "appears only" not in same
    lowered = reading(lambda seed: 70 + seed)  # 8-10 points under the corrected run, 10 under the baseline
    assert "'original code' lowers the distilled students (1 of 1 rows clearly" in lowered
    assert "With neither arithmetic" in lowered
    only_corrected = reading(lambda seed: 70 + seed, lambda seed: 85 + seed + 0.5 * (seed == 1))
    assert "0 of 1 distilled students beat 'Student w/o KD (equal budget)' with 'original code' and 1 with " \
           "'corrected': the gain does not come from the arithmetic" in only_corrected


def test_models_trained_with_other_thread_pools_than_their_counterparts_are_named(tmp_path):
    one_thread = {"intra-op": "1", "inter-op": "1"}
    for run, pools in (("original", {"student": one_thread, "teacher_TFS": None}),
                       ("run", {"student": None, "teacher_TFS": None})):
        for name, recorded in pools.items():  # None: a sidecar from before the pools were recorded (one per core)
            fake_model(tmp_path / run / "seed_2" / "models" / f"{name}.keras",
                       {"role": "student"} if recorded is None else {"role": "student", "thread_pools": recorded})
    fake_model(tmp_path / "original" / "seed_2" / "models" / "student_TFS_T5.keras", {"thread_pools": one_thread})
    assert pool_mismatches(tmp_path / "original", tmp_path / "run", [2]) == ["seed 2 student"]  # no twin: not compared
    explicit = {"thread_pools": {"intra-op": "one per core", "inter-op": "one per core"}}
    fake_model(tmp_path / "run" / "seed_2" / "models" / "student.keras", explicit)
    fake_model(tmp_path / "original" / "seed_2" / "models" / "student.keras", explicit)
    assert pool_mismatches(tmp_path / "original", tmp_path / "run", [2]) == []

    # the paired comparison says so under its table
    from utils.data.splits import SplitSettings
    from utils.reproduction.protocol import ReproductionSettings
    from utils.reproduction.report import write_paired_comparison

    fake_model(tmp_path / "original" / "seed_2" / "models" / "student.keras", {"thread_pools": one_thread})
    for run, shift in (("run", 0), ("original", 3)):
        for seed in (2, 3):
            folder = tmp_path / run / f"seed_{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "paper_table.csv").write_text("model,top1_accuracy_mean,top1_accuracy_std\n"
                                                    f"Student w/o KD,{80 + seed},\nStudent-TFS (T=10),{75 + shift + seed},\n")
    settings = ReproductionSettings(data=tmp_path / "frames", annotations=None, weights=None,
                                    output_dir=tmp_path / "original", split=SplitSettings(), seeds=(2, 3),
                                    per_seed_folders=True, student_epochs=50, distill_epochs=50, original_code=True)
    text = write_paired_comparison(settings, tmp_path / "run").read_text()
    assert "Caution, trained with other TensorFlow thread pools than in the other run (1; `thread_pools` in their " \
           "sidecars): seed 2 student." in text


def test_the_teachers_get_their_own_learning_rate_and_the_students_keep_theirs(tmp_path):
    from reproduce_paper import build_parser
    from utils.reproduction.protocol import ReproductionSettings, plan

    def steps(*flags):
        parsed = build_parser().parse_args(["--data", str(tmp_path), "--weights", str(tmp_path / "w.h5"), "--lr", "1e-3",
                                            *flags])
        settings = ReproductionSettings.from_args(parsed)
        return settings, {step.title: step for step in plan(settings.for_seed(0))}

    def rate(step):
        (lr,) = [step.arguments[i + 1] for i, a in enumerate(step.arguments) if a == "--lr"]
        return float(lr)

    settings, by_title = steps("--teacher_lr", "5e-4")
    assert settings.teacher_lr == 5e-4
    for title, step in by_title.items():
        expected = 5e-4 if "Teacher" in title else 1e-3
        assert rate(step) == expected and step.expected["hyperparameters.lr"] == expected, title
    assert {"TFS Teacher", "TUTL Teacher", "Student w/o KD"} <= set(by_title)
    settings, by_title = steps("--teacher_lr", "1e-3")  # the same rate as the students': not a departure
    assert settings.teacher_lr is None and all(rate(step) == 1e-3 for step in by_title.values())
    settings, by_title = steps()
    assert settings.teacher_lr is None and all(rate(step) == 1e-3 for step in by_title.values())


def test_a_run_that_never_rose_above_chance_is_named_though_it_stopped_improving(tmp_path):
    # seed 1's TFS teacher at Adam 1e-3 in a two-at-a-time run: chance for 6 classes after its second epoch
    for seed in (1, 3):
        (tmp_path / f"seed_{seed}" / "models").mkdir(parents=True)
    stuck = history(tmp_path / "seed_1" / "models" / "teacher_TFS.history.csv", [0.17, 0.27, 0.17, 0.15] + [1 / 6] * 21)
    slow = history(tmp_path / "seed_3" / "models" / "teacher_TFS.history.csv",
                   [0.17, 0.33, 0.17, 0.3, 0.48, 0.5] + [0.8] * 19)
    assert convergence(stuck, 60).converged and convergence(slow, 60).converged
    sentence = convergence_sentence([(stuck, 60), (slow, 60)], classes=6)
    assert "for 2 of the 2 models" in sentence
    assert sentence.endswith(" 1 of them never rose above chance (16.7%) on their validation clips: seed_1/teacher_TFS.")
    assert "never rose" not in convergence_sentence([(stuck, 60), (slow, 60)])  # without the class count: not judged
    assert "never rose" not in convergence_sentence([(slow, 60)], classes=6)

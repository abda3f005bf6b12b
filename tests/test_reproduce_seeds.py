"""reproduce_paper.py --seeds on tiny frames: the protocol per seed, mean ± std, paired gains, time.

Its own file (pytest-xdist hands out whole files) so that it runs beside the killed-and-resumed
reproduction of tests/test_reproduce_paper.py instead of after it.
"""

import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import one_pixel_figures, run_in_process, steps_in_this_process
from tests.test_reproduce_paper import table_rows


@pytest.mark.timeout(900)
def test_seeds_repeat_the_protocol_per_seed_and_report_mean_std_gains_and_time(tmp_path, monkeypatch):
    steps_in_this_process(monkeypatch)
    one_pixel_figures(monkeypatch)
    frames = write_frames_folder(tmp_path / "frames", classes=("Bright", "Dark"), groups=3, clips=3,
                                 shape=(16, 16, 16))
    out = tmp_path / "out"
    args = ["--data", frames, "--output_dir", out, "--seeds", 3, 4, "--teacher_epochs", 1, "--student_epochs", 1,
            "--distill_epochs", 2, "--temperatures", 5, "--batch_size", 4, "--teacher_width", 0.125,
            "--student_width", 0.125, "--timing_runs", 0, "--init", "motion"]
    result = run_in_process("reproduce_paper.py", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    for seed in (3, 4):
        folder = out / f"seed_{seed}"
        names = sorted(m.name for m in (folder / "models").glob("*.keras"))
        assert names == ["student.keras", "student_TFS_T5.keras", "student_equal_budget.keras", "teacher_TFS.keras"]
        import json

        assert json.loads((folder / "models" / "student.json").read_text())["split"]["seed"] == seed
        assert json.loads((folder / "models" / "student_TFS_T5.json").read_text())["hyperparameters"]["init"] == \
            "motion"
        assert (folder / "paper_table.md").is_file() and (folder / "timings.json").is_file()
    text = (out / "paper_table.md").read_text()
    rows = {row[0]: row for row in table_rows(text)}
    assert "±" in rows["TFS Teacher"][1] and "±" in rows["Student-TFS (T=5)"][1]
    assert rows["TUTL Teacher"][1] == "not run"
    header = next(line for line in text.splitlines() if line.startswith("| model"))
    assert "KD gain (points), 95% CI" in header and "equal budget" in header
    assert "[" in rows["Student-TFS (T=5)"][-1] and "Student w/o KD (equal budget)" in rows
    assert "Mean ± standard deviation over 2 seeds (3, 4)" in text
    assert "Departures from the paper's protocol" in text and "initialisation motion" in text
    assert "h of wall time for training and evaluation on" in text
    assert (out / "accuracy_vs_temperature.png").read_bytes()[:4] == b"\x89PNG"
    from tests.test_tensorboard import hparams_runs

    runs = hparams_runs(out / "runs")  # one TensorBoard root: every model of every seed in the HParams view
    assert sorted(str(r.relative_to(out / "runs")) for r in runs) == sorted(
        f"seed_{s}/{name}" for s in (3, 4) for name in ("student", "student_TFS_T5", "student_equal_budget",
                                                         "teacher_TFS"))
    again = run_in_process("reproduce_paper.py", *args)
    assert again.returncode == 0 and again.stdout.count("done, skipping") == 2 * 5  # 4 steps and the evaluation, per seed

    # kd_grid.py over this reproduction: a cell it trained (alpha 0.1, T 5) is its model, another is trained
    grid = tmp_path / "grid"
    result = run_in_process("kd_grid.py", "--reproduction", out, "--alphas", 0.1, 0.5, "--temperatures", 5,
                            "--seeds", 3, 4, "--output_dir", grid)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (grid / "seed_3" / "models").glob("*.keras")) == ["student_a0.5_T5.keras"]
    rows = {row[0]: row for row in table_rows((grid / "kd_grid.md").read_text())}
    assert set(rows) >= {"alpha=0.1", "alpha=0.5"} and (grid / "kd_grid.png").is_file()

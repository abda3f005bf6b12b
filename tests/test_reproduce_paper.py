"""reproduce_paper.py end to end on tiny frames: all 13 rows, resumption, refusing mixed settings."""

import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import assert_one_line_error, run_script
from tests.sports1m_factory import constant_weights, port_shapes, write_keras2_file
from utils.paper_results import PUBLISHED, ROWS


def table_rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("| ")][1:]  # without the header
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


@pytest.mark.timeout(900)
def test_reproduction_writes_the_13_rows_and_resumes_without_redoing_finished_steps(tmp_path):
    frames = write_frames_folder(tmp_path / "UCF11_frames", classes=("Bright", "Dark"), groups=3, clips=3,
                                 shape=(16, 16, 16))
    weights = tmp_path / "sports1M_weights_tf.h5"  # full-size C3D layers for 16x16 clips, gzip: ~0.7 MB
    write_keras2_file(weights, constant_weights(port_shapes(flat_cells=1)), compression="gzip")
    out = tmp_path / "out"
    args = ["--data", frames, "--weights", weights, "--output_dir", out, "--epochs", 1, "--batch_size", 4,
            "--teacher_width", 0.125, "--student_width", 0.125, "--timing_runs", 0]

    first = run_script("reproduce_paper.py", *args, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = table_rows((out / "paper_table.md").read_text())
    assert [row[0] for row in rows] == list(ROWS) and len(rows) == 13
    for row in rows:  # ours (a number), then the published UCF11 value (guessed from the folder name)
        assert 0 <= float(row[1]) <= 100, row
        assert float(row[4]) == PUBLISHED[row[0]]["UCF11"]
    assert len((out / "paper_table.csv").read_text().splitlines()) == 14
    assert (out / "accuracy_vs_temperature.png").read_bytes()[:4] == b"\x89PNG"
    models = sorted((out / "models").glob("*.keras"))
    assert len(models) == 13 and all(m.with_suffix(".json").is_file() for m in models)

    # one distilled student lost (as if its run had been interrupted before the save)
    lost = out / "models" / "student_TUTL_T15.keras"
    lost.unlink()
    lost.with_suffix(".json").unlink()
    before = {m: m.stat().st_mtime_ns for m in models if m != lost}
    second = run_script("reproduce_paper.py", *args, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count("done, skipping") == 4  # both teachers, the baseline, the TFS students
    assert second.stdout.count("already exists, skipping") == 4  # distill.py: the other TUTL students
    assert lost.is_file()
    assert {m: m.stat().st_mtime_ns for m in before} == before

    third = run_script("reproduce_paper.py", *args, timeout=300)
    assert third.returncode == 0, third.stderr[-3000:]
    assert third.stdout.count("done, skipping") == 6  # five steps and the evaluation
    assert {m: m.stat().st_mtime_ns for m in before} == before

    changed = [str(a) for a in args]
    changed[changed.index("--epochs") + 1] = "2"
    assert_one_line_error(run_script("reproduce_paper.py", *changed), "teacher_TFS.keras exists but was made with",
                          "hyperparameters.epochs 1", "another --output_dir")

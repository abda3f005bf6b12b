"""reproduce_paper.py end to end on tiny frames: all 13 rows, killed and resumed, refusing mixed settings."""

import signal
import time

import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import (
    ROOT,
    assert_one_line_error,
    kill_point,
    one_pixel_figures,
    run_in_process,
    signal_group,
    start_code,
    steps_in_this_process,
    wait_until,
)
from tests.sports1m_factory import constant_weights, port_shapes, write_keras2_file
from utils.evaluation.paper_results import PUBLISHED, ROWS


def table_rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("| ")][1:]  # without the header
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


# reproduce_paper.py in a process of its own that takes the steps in itself, one at a time, with one-pixel figures:
# what the kill tests is what the files say afterwards; the steps' own processes are tested in
# tests/test_side_by_side.py
STEPS_IN_ITSELF = """
import runpy, sys
import pytest
from tests.scripts import one_pixel_figures, steps_in_this_process
with pytest.MonkeyPatch.context() as patch:
    steps_in_this_process(patch)
    one_pixel_figures(patch)
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.timeout(900)
def test_reproduction_killed_at_a_random_point_resumes_without_redoing_finished_models(tmp_path, monkeypatch):
    frames = write_frames_folder(tmp_path / "UCF11_frames", classes=("Bright", "Dark"), groups=3, clips=3,
                                 shape=(16, 16, 16))
    # the port's layout at 1/8 of its width (the TUTL teacher takes the width from the file): a full-size one
    # (46.6 M parameters, 186 MB as .keras) is saved, loaded and hashed several times per run; it stays covered
    # by tests/test_training.py and tests/test_models.py
    weights = tmp_path / "sports1M_weights_tf.h5"
    write_keras2_file(weights, constant_weights(port_shapes(flat_cells=1, filters=(8, 16, 32, 32, 64, 64, 64, 64),
                                                            fc=(512, 512))), compression="gzip")
    out = tmp_path / "out"
    args = ["--data", frames, "--weights", weights, "--output_dir", out, "--epochs", 1, "--batch_size", 4,
            "--teacher_width", 0.125, "--student_width", 0.125, "--timing_runs", 0]

    def complete_models():
        return {m: m.stat().st_mtime_ns for m in (out / "models").glob("*.keras") if m.with_suffix(".json").is_file()}

    # SIGKILL to the whole process group (the script and the step it runs) once a random number of
    # the 13 models is complete, plus a random delay: usually in the middle of a training step.
    rng = kill_point()
    log = (tmp_path / "killed_run.log").open("w")  # a pipe nobody reads would fill up and stall the run
    process = start_code(STEPS_IN_ITSELF, ROOT / "reproduce_paper.py", *args, stdout=log, stderr=log, new_session=True)
    complete = rng.randint(0, 12)
    wait_until(lambda: (out / "models").is_dir() and len(complete_models()) >= complete, process, timeout=900)
    time.sleep(rng.uniform(0, 3))
    if process.poll() is None:
        signal_group(process, signal.SIGKILL)
    process.wait()
    log.close()
    before = complete_models()
    print(f"killed with {len(before)} of 13 models complete")

    steps_in_this_process(monkeypatch)  # the killed run had its processes; the rest needs no more start-ups
    one_pixel_figures(monkeypatch)
    first = run_in_process("reproduce_paper.py", *args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert {m: m.stat().st_mtime_ns for m in before} == before  # nothing finished was trained again
    rows = table_rows((out / "paper_table.md").read_text())
    assert [row[0] for row in rows] == list(ROWS) and len(rows) == 13
    for row in rows:  # ours (a number), then the published UCF11 value (guessed from the folder name)
        assert 0 <= float(row[1]) <= 100, row
        assert float(row[4]) == PUBLISHED[row[0]]["UCF11"]
    assert len((out / "paper_table.csv").read_text().splitlines()) == 14
    assert (out / "accuracy_vs_temperature.png").read_bytes()[:4] == b"\x89PNG"
    models = sorted((out / "models").glob("*.keras"))
    assert len(models) == 13 and all(m.with_suffix(".json").is_file() for m in models)

    before = complete_models()
    again = run_in_process("reproduce_paper.py", *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("done, skipping") == 6  # five steps and the evaluation
    assert {m: m.stat().st_mtime_ns for m in before} == before

    changed = [str(a) for a in args]
    changed[changed.index("--epochs") + 1] = "2"
    assert_one_line_error(run_in_process("reproduce_paper.py", *changed),
                          "teacher_TFS.keras exists but was made with", "hyperparameters.epochs 1", "another --output_dir")

"""Steps of a reproduction two at a time (utils/reproduction/side_by_side.py): the same models as one at a time,
a distillation only after its teacher, and times that add up to the wall time."""

from __future__ import annotations

import datetime
import json
import shlex
import time

import numpy as np
import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import one_pixel_figures, run_in_process, run_script, start_script
from utils.reproduction.side_by_side import thread_share


@pytest.mark.timeout(600)
def test_two_steps_at_once_train_the_same_models_and_charge_the_wall_time_once(tmp_path, monkeypatch):
    import keras

    from utils.reproduction import protocol, side_by_side

    frames = write_frames_folder(tmp_path / "frames", classes=("Bright", "Dark"), groups=3, clips=3, shape=(16, 16, 16))
    args = ["--data", frames, "--epochs", 2, "--batch_size", 4, "--teacher_width", 0.125, "--student_width", 0.125,
            "--temperatures", 5, "--timing_runs", 0, "--mixed_precision", "off", "--init", "motion"]
    evaluations = []  # the evaluation in this process: only the steps need processes here
    one_pixel_figures(monkeypatch)
    monkeypatch.setattr(protocol, "script_in_new_process", lambda script, arguments: evaluations.append(
        run_in_process(script, *arguments)))
    monkeypatch.setattr(side_by_side, "start_step_process", lambda script, arguments, env: start_script(
        script, *arguments, stderr=None, env=env, new_session=False))
    start = time.perf_counter()
    two = run_in_process("reproduce_paper.py", *args, "--output_dir", tmp_path / "two", "--parallel_steps", 2)
    wall = time.perf_counter() - start
    assert two.returncode == 0, two.stderr[-3000:]
    assert [result.returncode for result in evaluations] == [0]
    steps = ("TFS Teacher", "Student w/o KD", "students distilled from the TFS teacher, T = 5")
    # each step's output lines carry its tag; the teacher and the student ran at once
    for number, title in enumerate(steps, 1):
        assert f"[{number}/3] {title}: python" in two.stdout
    tagged = [line.split("]")[0] for line in two.stdout.splitlines() if line.startswith("[") and "Epoch" in line]
    assert {"[1/3", "[2/3", "[3/3"} <= set(tagged)
    models = tmp_path / "two" / "models"
    teacher_done = (models / "teacher_TFS.keras").stat().st_mtime
    student_started = first_log_time(models / "student.log")
    distill_started = first_log_time(models / "student_TFS_T5.log")
    assert student_started < int(teacher_done) <= distill_started  # beside the teacher; after it (log: seconds)
    spent = json.loads((tmp_path / "two" / "timings.json").read_text())
    assert set(spent) == {*steps, "evaluation"}
    assert sum(spent.values()) <= wall  # the shares add up to the wall time, not to more
    assert sum(spent[title] for title in steps) > 0.5 * wall

    again = run_in_process("reproduce_paper.py", *args, "--output_dir", tmp_path / "two", "--parallel_steps", 2)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("done, skipping") == 4 and not evaluations[1:]  # three steps and the evaluation

    # each step had its share of the cores as TensorFlow's pools; the teacher trained alone with the same pools
    # (a process of its own: this one's pools are set) has the same weights
    share = thread_share(2)
    pools = f"threads: TensorFlow's pools intra-op {share['TF_NUM_INTRAOP_THREADS']}, inter-op " \
            f"{share['TF_NUM_INTEROP_THREADS']}"
    assert all(pools in (models / f"{name}.log").read_text() for name in ("teacher_TFS", "student", "student_TFS_T5"))
    assert json.loads((models / "student.json").read_text())["thread_pools"] == {
        "intra-op": share["TF_NUM_INTRAOP_THREADS"], "inter-op": share["TF_NUM_INTEROP_THREADS"]}
    command = (models / "teacher_TFS.log").read_text().splitlines()[0].split(" command: ", 1)[1]
    alone = tmp_path / "alone" / "teacher.keras"
    alone.parent.mkdir()
    flags = shlex.split(command)
    flags = flags[flags.index("train_teacher.py") + 1:]
    flags[flags.index("--output_path") + 1] = str(alone)
    flags[flags.index("--logdir") + 1] = str(tmp_path / "alone" / "tb")
    result = run_script("train_teacher.py", *flags, env=share)
    assert result.returncode == 0, result.stderr[-3000:]
    a = keras.models.load_model(alone, compile=False)
    b = keras.models.load_model(models / "teacher_TFS.keras", compile=False)
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def first_log_time(log) -> float:
    stamp = log.read_text().split(" ", 1)[0]
    return datetime.datetime.fromisoformat(stamp).timestamp()

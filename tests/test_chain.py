"""chain.py: scripts one after another in one process, and a command ending in & beside the others."""

from __future__ import annotations

import os
from pathlib import Path

from tests.frames_factory import write_frames_folder
from tests.scripts import assert_one_line_error, run_in_process

TINY = ["--width", "0.125", "--batch_size", "4", "--epochs", "1", "--mixed_precision", "off"]


def processes_naming(text: str) -> list[int]:
    """Live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                if "Z" not in (entry / "stat").read_text().split(")")[-1].split()[:1]:  # a zombie is gone
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_background_command_runs_beside_the_next_ones_at_the_lowest_priority_and_reports_at_wait(tmp_path,
                                                                                                 monkeypatch):
    import chain

    frames = write_frames_folder(tmp_path / "frames", classes=("Bright", "Dark"), groups=3, clips=3, shape=(16, 16, 16))
    priorities = []
    start = chain.start_in_background

    def start_and_look(command):
        run = start(command)
        priorities.append(os.getpriority(os.PRIO_PROCESS, run.process.pid))
        return run

    monkeypatch.setattr(chain, "start_in_background", start_and_look)
    student, teacher = tmp_path / "student.keras", tmp_path / "teacher.keras"
    result = run_in_process(
        "chain.py",
        f"train_student.py --data {frames} {' '.join(TINY)} --output_path {student} --logdir {tmp_path / 'tb_s'} &",
        f"train_teacher.py --data {frames} {' '.join(TINY)} --output_path {teacher} --logdir {tmp_path / 'tb_t'}",
        "wait",
        f"evaluate.py --data {frames} --recognizer {teacher} {student} --output_dir {tmp_path / 'evaluation'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert priorities == [chain.LOWEST_PRIORITY]
    out = result.stdout
    assert out.index("$ python train_student.py") < out.index("$ python train_teacher.py") < out.index("$ wait")
    # its own output, whole, after the wait and before the evaluation that needs its model
    background = out.index("(output of train_student.py, which ran in the background)")
    assert out.index("$ wait") < background < out.index("student saved to") < out.index("$ python evaluate.py")
    assert "(train_student.py, in the background: " in out and "(train_teacher.py: " in out
    assert (tmp_path / "evaluation" / "student" / "metrics.json").is_file()


def test_a_failed_background_command_stops_the_chain_with_its_status_and_line(tmp_path):
    result = run_in_process("chain.py", f"train_student.py --data {tmp_path / 'missing'} &", "wait",
                            f"evaluate.py --data {tmp_path / 'missing'} --recognizer {tmp_path / 'a.keras'}")
    assert_one_line_error(result, "train_student.py in the background ended with exit status 2", "missing")
    assert "$ python evaluate.py" not in result.stdout


def test_a_chain_that_fails_interrupts_its_background_command_instead_of_leaving_it_running(tmp_path):
    frames = write_frames_folder(tmp_path / "frames", classes=("Bright", "Dark"), groups=3, clips=3, shape=(16, 16, 16))
    student = tmp_path / "long_student.keras"
    result = run_in_process(
        "chain.py", f"train_student.py --data {frames} {' '.join(TINY)} --epochs 500 --output_path {student} &",
        f"evaluate.py --data {tmp_path / 'missing'} --recognizer {student}")
    assert result.returncode == 2 and "missing" in result.stderr
    assert processes_naming(str(student)) == []
    assert not student.exists()


def test_wait_and_the_ampersand_are_checked_before_anything_runs(tmp_path):
    for bad in ("wait &", "sleep 1 &", "& train_student.py"):
        result = run_in_process("chain.py", f"make_synthetic_dataset.py --output_path {tmp_path / 'v'}", bad)
        assert_one_line_error(result, "must start with one of", "or be 'wait'")
        assert not (tmp_path / "v").exists()

"""chain.py: scripts one after another in one process, and a command ending in & beside the others."""

from __future__ import annotations

import os
from pathlib import Path

from tests.scripts import assert_one_line_error, run_in_process


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


def videos_command(folder: Path, groups: int = 1) -> str:
    """A short command without TensorFlow: the chain's mechanics do not depend on what a script computes."""
    return (f"make_synthetic_dataset.py --output_path {folder} --classes 2 --groups {groups} --clips_per_group 1 "
            "--frame_width 32 --frame_height 32 --min_seconds 0.4 --max_seconds 0.4 --workers 1")


def test_a_background_command_runs_beside_the_next_ones_at_the_lowest_priority_and_reports_at_wait(tmp_path,
                                                                                                 monkeypatch):
    import chain

    priorities = []
    start = chain.start_in_background

    def start_and_look(command):
        run = start(command)
        priorities.append(os.getpriority(os.PRIO_PROCESS, run.process.pid))
        return run

    monkeypatch.setattr(chain, "start_in_background", start_and_look)
    result = run_in_process(
        "chain.py", videos_command(tmp_path / "beside") + " &", videos_command(tmp_path / "here"), "wait",
        f"video_to_frames.py --input_path {tmp_path / 'beside'} --output_path {tmp_path / 'frames'} "
        "--sequence_length 4 --frame_height 16 --frame_width 16 --no_progress --workers 1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert priorities == [chain.LOWEST_PRIORITY]
    out = result.stdout
    assert out.index("$ python make_synthetic_dataset.py") < out.index("$ wait")
    # its own output, whole, after the wait and before the command that needs its files
    background = out.index("(output of make_synthetic_dataset.py, which ran in the background)")
    assert out.index("$ wait") < background < out.index("$ python video_to_frames.py")
    assert str(tmp_path / "beside") in out[background:out.index("$ python video_to_frames.py")]
    assert "(make_synthetic_dataset.py, in the background: " in out and "(make_synthetic_dataset.py: " in out
    assert (tmp_path / "frames" / "frames.npy").is_file() and (tmp_path / "here").is_dir()


def test_a_failed_background_command_stops_the_chain_with_its_status_and_line(tmp_path):
    result = run_in_process("chain.py", f"train_student.py --data {tmp_path / 'missing'} &", "wait",
                            f"evaluate.py --data {tmp_path / 'missing'} --recognizer {tmp_path / 'a.keras'}")
    assert_one_line_error(result, "train_student.py in the background ended with exit status 2", "missing")
    assert "$ python evaluate.py" not in result.stdout


def test_a_chain_that_fails_interrupts_its_background_command_instead_of_leaving_it_running(tmp_path):
    many = tmp_path / "many_videos"
    result = run_in_process("chain.py", videos_command(many, groups=200) + " &",
                            f"video_to_frames.py --input_path {tmp_path / 'missing'} --output_path {tmp_path / 'f'}")
    assert result.returncode == 2 and "missing" in result.stderr
    assert processes_naming(str(many)) == []
    assert len(list(many.rglob("*.avi"))) < 400  # stopped before it was done


def test_wait_and_the_ampersand_are_checked_before_anything_runs(tmp_path):
    for bad in ("wait &", "sleep 1 &", "& train_student.py"):
        result = run_in_process("chain.py", f"make_synthetic_dataset.py --output_path {tmp_path / 'v'}", bad)
        assert_one_line_error(result, "must start with one of", "or be 'wait'")
        assert not (tmp_path / "v").exists()

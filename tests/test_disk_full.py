"""Running out of disk: one line, exit status 2, nothing partial left, earlier outputs untouched.

A real small file system (tmpfs) is used where this machine lets the tests mount one (root in a
container usually can); the write failures themselves are also injected, as ENOSPC raised by the
project's one commit step (utils/atomic_files.commit), so the cases run everywhere.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import ROOT, assert_one_line_error, run_code, run_in_process, snapshot

SHAPE = (16, 16, 16)
TINY = ["--width", "0.125", "--batch_size", "4", "--epochs", "1", "--mixed_precision", "off"]

# Runs a script with every commit (the rename that publishes a finished file) whose name ends in argv[1]
# failing as on a full disk.
FULL_DISK = """
import errno, runpy, sys
import utils.atomic_files as files
publish, ending = files.commit, sys.argv[1]
def full(temporary, final):
    if not str(final).endswith(ending):
        return publish(temporary, final)
    raise OSError(errno.ENOSPC, "No space left on device", str(final))
files.commit = full
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_on_full_disk(script: str, *args, failing: str = "") -> subprocess.CompletedProcess:
    """``script`` with every publishing rename failing, or only those of names ending in ``failing``."""
    return run_code(FULL_DISK, failing, ROOT / script, *args)




@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("disk_full")
    frames = write_frames_folder(root / "frames", groups=4, clips=3, shape=SHAPE)
    model = root / "models" / "student.keras"
    model.parent.mkdir()
    result = run_in_process("train_student.py", "--data", frames, "--output_path", model, "--logdir", root / "tb",
                            *TINY)
    assert result.returncode == 0, result.stderr
    return root, frames, model


def test_overwrite_on_a_disk_too_full_to_record_what_it_moves_moves_nothing(trained):
    root, frames, model = trained
    before = snapshot(model.parent)
    result = run_on_full_disk("train_student.py", "--data", frames, "--output_path", model, "--logdir", root / "tb2",
                              "--overwrite", *TINY)
    assert_one_line_error(result, "disk full")
    assert snapshot(model.parent) == before and not (model.parent / "student.previous").exists()


def test_training_that_cannot_write_its_model_ends_in_one_line_and_keeps_the_earlier_model(trained):
    root, frames, model = trained
    before = snapshot(model.parent)
    result = run_on_full_disk("train_student.py", "--data", frames, "--output_path", model, "--logdir", root / "tb2",
                              "--overwrite", *TINY, failing="student.json")  # the finished model cannot be published
    assert_one_line_error(result, "disk full", "Free some space")
    assert not list(model.parent.rglob("*.partial"))
    # the earlier model waits, complete, in student.previous/ (--overwrite moved it there before training)
    previous = model.parent / "student.previous"
    assert {name: digest for name, digest in snapshot(previous).items() if not name.startswith(".")} == {
        name: digest for name, digest in before.items() if "/" not in name}
    rerun = run_in_process("train_student.py", "--data", frames, "--output_path", model, "--logdir", root / "tb2",
                           "--overwrite", *TINY)
    assert rerun.returncode == 0, rerun.stderr
    assert not previous.exists() and json.loads(model.with_suffix(".json").read_text())["metrics"]


def test_evaluation_that_cannot_write_ends_in_one_line_without_partial_files(trained):
    root, frames, model = trained
    out = root / "evaluation"
    result = run_on_full_disk("evaluate.py", "--data", frames, "--recognizer", model, "--output_dir", out,
                              "--timing_runs", "0")
    assert_one_line_error(result, "disk full")
    assert not list(out.rglob("*.partial"))


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs, or a skip where this machine does not allow mounting one."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the injected-ENOSPC tests cover the same paths")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_training_onto_a_disk_too_small_is_refused_before_any_work(trained, small_disk):
    root, frames, model = trained
    earlier = small_disk / "earlier.txt"
    earlier.write_text("an earlier result")
    result = run_in_process("train_teacher.py", "--data", frames, "--output_path", small_disk / "teacher.keras",
                            "--logdir", root / "tb3", *TINY)
    assert_one_line_error(result, f"--output_path {small_disk}/teacher.keras", "MiB free", "needs about")
    assert sorted(p.name for p in small_disk.iterdir()) == ["earlier.txt"]
    assert earlier.read_text() == "an earlier result"


def test_a_disk_that_fills_during_evaluation_ends_in_one_line(trained, small_disk):
    root, frames, model = trained
    (small_disk / "filler").write_bytes(b"\0" * (4 * 2**20 - 96 * 2**10))  # leaves ~96 KiB: the plots do not fit
    result = run_in_process("evaluate.py", "--data", frames, "--recognizer", model, "--output_dir",
                            small_disk / "evaluation", "--timing_runs", "0")
    assert_one_line_error(result, "disk full")
    assert not list(small_disk.rglob("*.partial"))

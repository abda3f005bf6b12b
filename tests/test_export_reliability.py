"""export_student.py over an earlier export, under hostile conditions: killed at a random moment or at
the swap, interrupted with Ctrl-C, on a file system that cannot exchange two folders; and an
--output_dir holding a user's files, which is refused before any work."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import (
    ROOT,
    assert_one_line_error,
    kill_point,
    run_in_process,
    run_script,
    signal_group,
    snapshot,
    start_script,
)
from utils.export.export_set import check_output_folder, verified_manifest, verify_contents

OLD_CLIPS = 2  # the earlier export compares on 2 test clips, the new one on all of them


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_reliability")
    frames = write_frames_folder(root / "frames", classes=("Bright", "Dark", "Red"), groups=3, clips=2,
                                 shape=(16, 16, 16))
    model = root / "student.keras"
    result = run_in_process("train_student.py", "--data", frames, "--epochs", 1, "--output_path", model, "--logdir",
                            root / "tb", "--width", "0.125", "--batch_size", "4", "--val_size", "0")
    assert result.returncode == 0, result.stderr
    return root, frames, model


def export_arguments(model, out, old=False):
    root, frames, recognizer = model
    return ["--data", frames, "--recognizer", recognizer, "--output_dir", out, "--timing_runs", 0,
            "--calibration_clips", 2, "--max_clips", OLD_CLIPS if old else 0]


@pytest.fixture(scope="module")
def earlier_export(model, tmp_path_factory):
    """A complete earlier export, and the seconds an export takes (the window for a random kill)."""
    out = tmp_path_factory.mktemp("earlier") / "export"
    start = time.monotonic()
    assert run_script("export_student.py", *export_arguments(model, out, old=True)).returncode == 0
    return out, time.monotonic() - start


def copy_of(folder, tmp_path):
    import shutil

    shutil.copytree(folder, tmp_path / "export")
    return tmp_path / "export"


def which_set(out):
    """'old' or 'new' when ``out`` is wholly one complete export (every file as its manifest lists it,
    nothing else there); anything else fails the test."""
    assert check_output_folder(out) == "set"
    manifest = verified_manifest(out)
    verify_contents(out, manifest, *manifest["files"])
    clips = json.loads((out / "export_report.json").read_text())["test_clips"]
    return "old" if clips == OLD_CLIPS else "new"


def leftovers(out):
    return [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.export-")]


def test_sigkill_at_a_random_moment_leaves_the_old_or_the_new_set_and_the_rerun_succeeds(model, earlier_export,
                                                                                       tmp_path):
    out = copy_of(earlier_export[0], tmp_path)
    delay = kill_point().uniform(0, 1.2 * earlier_export[1])
    process = start_script("export_student.py", *export_arguments(model, out))
    time.sleep(delay)
    signal_group(process, signal.SIGKILL)
    process.communicate()
    print(f"killed after {delay:.1f} s: the folder holds the {which_set(out)} set")
    rerun = run_in_process("export_student.py", *export_arguments(model, out))  # the kill was the process's
    assert rerun.returncode == 0, rerun.stderr
    assert which_set(out) == "new" and not leftovers(out)


# The swap alone, without a model: a set of two files ("old" or "new" in each) staged by export_set and
# swapped over the earlier one, the process killed just before or just after the one rename that swaps it
# in, or (``fallback``: a file system without RENAME_EXCHANGE) between the two renames that replace it.
KILLED_AT_THE_SWAP = textwrap.dedent("""
    import errno, os, signal, sys
    from pathlib import Path
    sys.path.insert(0, os.getcwd())
    when, output, label = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    from utils import folder_set
    from utils.export import export_set
    real_exchange, real_rename = folder_set.exchange, os.rename

    def exchange(first, second):
        if when == "fallback":
            raise OSError(errno.EINVAL, "exchange not supported here")
        if when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real_exchange(first, second)
        if when == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    def rename(source, destination):
        if when == "fallback" and os.path.realpath(destination) == os.path.realpath(output):
            os.kill(os.getpid(), signal.SIGKILL)
        real_rename(source, destination)

    folder_set.exchange, os.rename = exchange, rename
    export_set.recover(output)
    before = export_set.check_output_folder(output)
    with export_set.staged_export(output, before) as staged:
        for name in ("export_report.json", "model.json"):
            (staged.folder / name).write_text(label)
""")


def swap(out, when, label):
    return subprocess.run([sys.executable, "-c", KILLED_AT_THE_SWAP, when, str(out), label], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def which_small_set(out):
    assert check_output_folder(out) == "set"
    manifest = verified_manifest(out)
    verify_contents(out, manifest, *manifest["files"])
    labels = {(out / name).read_text() for name in manifest["files"]}
    assert len(labels) == 1, labels
    return labels.pop()


@pytest.mark.parametrize("when, expected", [("before", "old"), ("after", "new"), ("fallback", None)])
def test_sigkill_at_the_swap_leaves_a_complete_set(tmp_path, when, expected):
    out = tmp_path / "export"
    assert swap(out, "none", "old").returncode == 0 and which_small_set(out) == "old"
    result = swap(out, when, "new")
    assert result.returncode == -signal.SIGKILL, result.stderr
    if expected:
        assert which_small_set(out) == expected
    else:  # the earlier set was renamed aside, the new one is not in yet: no folder, the earlier set whole
        aside, = [name for name in leftovers(out) if ".export-previous-" in name]
        assert not out.exists()
        os.rename(out.parent / aside, out)
        assert which_small_set(out) == "old"
        os.rename(out, out.parent / aside)  # as the killed run left it: the next run puts it back first
    assert swap(out, "none", "newer").returncode == 0
    assert which_small_set(out) == "newer" and not leftovers(out)


def test_ctrl_c_says_what_is_on_disk(model, earlier_export, tmp_path):
    out = copy_of(earlier_export[0], tmp_path)
    process = start_script("export_student.py", *export_arguments(model, out))
    time.sleep(kill_point().uniform(0.5, earlier_export[1]))
    signal_group(process, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    if process.returncode == 0:  # it had finished
        assert which_set(out) == "new"
        return
    assert process.returncode == 130, stderr
    line, = stderr.strip().splitlines()
    assert line.startswith("export_student.py: interrupted; ")
    assert line.endswith("Run the same command again to export.")
    if "still holds the earlier export, unchanged" in line or "nothing was changed in" in line:
        assert which_set(out) == "old"
    else:
        assert "holds the new export, complete" in line and which_set(out) == "new"
    assert str(out) in line and not leftovers(out)


def test_a_ctrl_c_that_tensorflows_bindings_turned_into_an_error_says_what_is_on_disk(model, earlier_export, tmp_path,
                                                                                    monkeypatch):
    from tests.test_interruptions import PYBIND11_CTRL_C_ERROR
    from utils.export import report

    def interrupted_conversion(*args, **kwargs):
        raise RuntimeError(PYBIND11_CTRL_C_ERROR)

    monkeypatch.setattr(report, "export_all", interrupted_conversion)
    out = copy_of(earlier_export[0], tmp_path)
    result = run_in_process("export_student.py", *export_arguments(model, out))
    assert result.returncode == 130, result.stderr
    line, = result.stderr.strip().splitlines()
    assert line == (f"export_student.py: interrupted; {out.resolve()} still holds the earlier export, unchanged (a new "
                    "one is swapped in only once complete). Run the same command again to export.")
    assert which_set(out) == "old" and not leftovers(out)


@pytest.mark.parametrize("layout, named", [
    ({"notes.txt": "mine"}, "notes.txt"),
    ({"export_report.json": "{}", "model.keras": "not an export's"}, "model.keras"),
    (None, "notes.txt"),  # an earlier export with a user's file added
], ids=["a user's folder", "an export-like folder", "an export with a user's file"])
def test_a_folder_holding_a_users_file_is_refused_and_left_as_it_was(model, earlier_export, tmp_path, layout, named):
    if layout is None:
        out = copy_of(earlier_export[0], tmp_path)
        (out / "notes.txt").write_text("mine")
    else:
        out = tmp_path / "export"
        out.mkdir()
        for name, text in layout.items():
            (out / name).write_text(text)
    before = snapshot(out)
    result = run_in_process("export_student.py", *export_arguments(model, out))
    assert_one_line_error(result, f"--output_dir {out}", f"holds {named}", "nothing was written")
    assert snapshot(out) == before and not leftovers(out)


def test_an_output_that_is_a_file_is_refused(model, tmp_path):
    out = tmp_path / "export"
    out.write_text("a user's file")
    result = run_in_process("export_student.py", *export_arguments(model, out))
    assert_one_line_error(result, f"--output_dir {out}", "is a file")
    assert out.read_text() == "a user's file"

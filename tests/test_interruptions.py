"""Distillation killed (SIGKILL) and training stopped with Ctrl-C at random points, then resumed.

Extraction and teacher training are killed in tests/test_video_to_frames.py and
tests/test_training.py, the paper reproduction in tests/test_reproduce_paper.py. The random
point is drawn from a seed printed in the test output (HAR_KD_KILL_SEED sets it), so a failure
can be replayed.
"""

import json
import os
import signal
import time

import keras
import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import (
    history_epochs,
    kill_point,
    run_code,
    run_in_process,
    signal_group,
    start_script,
    wait_until,
)
from utils.atomic_files import interrupts_deferred

# --mixed_precision off: float32, the same numbers on CPUs with and without bfloat16 units
FAST = ["--width", "0.125", "--batch_size", "4", "--lr", "1e-3", "--mixed_precision", "off"]
EPOCHS = 4


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interrupt")
    frames = write_frames_folder(folder / "frames", classes=("Bright", "Dark"), groups=4, clips=4, shape=(16, 16, 16))
    teacher = folder / "teacher.keras"
    result = run_in_process("train_teacher.py", "--data", frames, "--epochs", 1, "--output_path", teacher,
                            "--logdir", folder / "tb", *FAST)
    assert result.returncode == 0, result.stderr
    return frames, teacher


def test_distillation_killed_at_a_random_point_resumes_and_ends_with_every_epoch(teacher, tmp_path):
    frames, teacher_path = teacher
    output = tmp_path / "student.keras"
    command = ["distill.py", "--data", frames, "--source", teacher_path, "--epochs", EPOCHS, "--output_path", output,
               "--logdir", tmp_path / "tb", *FAST]
    rng = kill_point()
    after_epochs = rng.randint(0, EPOCHS - 1)  # finished epochs logged before the kill, then a random delay
    process = start_script(*command)
    history = tmp_path / "student.history.csv"
    wait_until(lambda: len(history_epochs(history)) >= after_epochs, process)
    time.sleep(rng.uniform(0, 1.0))
    signal_group(process, signal.SIGKILL)
    process.wait()
    assert not output.exists() or output.with_suffix(".json").exists()  # never a model without its sidecar

    result = run_in_process(*command)  # the resumed run needs no process of its own
    assert result.returncode == 0, result.stderr
    assert history_epochs(history) == list(range(EPOCHS))  # each epoch once, none lost, none repeated
    record = json.loads(output.with_suffix(".json").read_text())
    assert record["hyperparameters"]["epochs"] == EPOCHS and record["role"] == "distilled_student"
    keras.models.load_model(output)
    assert not list(tmp_path.glob("*.partial*")) and not (tmp_path / "student.backup").exists()


def test_ctrl_c_waits_for_a_checkpoint_write_to_finish():
    written = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal is delivered here, mid-"write"
            written.append("whole")
    assert written == ["whole"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_stops_training_cleanly_and_the_same_command_resumes(teacher, tmp_path):
    frames, _ = teacher
    output = tmp_path / "student.keras"
    command = ["train_student.py", "--data", frames, "--epochs", EPOCHS, "--output_path", output,
               "--logdir", tmp_path / "tb", *FAST]
    process = start_script(*command)
    history = tmp_path / "student.history.csv"
    # The history row of an epoch is written just before its backup: a Ctrl-C now lands in or
    # near the backup write, where an unprotected write used to leave a backup that cannot load.
    rng = kill_point()
    wait_until(lambda: len(history_epochs(history)) >= rng.randint(1, EPOCHS - 1), process)
    time.sleep(rng.uniform(0, 0.05))
    signal_group(process, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == ("train_student.py: interrupted; the epochs finished so far are kept. "
                                               "Run the same command again to resume from the last one.")
    if not output.exists():  # stopped before the end (a Ctrl-C during the final save may come too late)
        assert (tmp_path / "student.backup").is_dir()

    result = run_in_process(*command)  # the resumed run needs no process of its own
    assert result.returncode == 0, result.stderr
    assert history_epochs(history) == list(range(EPOCHS))
    assert json.loads(output.with_suffix(".json").read_text())["hyperparameters"]["epochs"] == EPOCHS


SHUTDOWN_CTRL_C = """
import atexit, os, signal, sys, time
sys.path.insert(0, {root!r})
from utils.cli import entry_point
def ctrl_c_while_shutting_down():  # as a user's Ctrl-C that lands after the run's last line
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)
atexit.register(ctrl_c_while_shutting_down)
def main():
    print("done")
    if {interrupted!r}:
        raise KeyboardInterrupt
entry_point(main, "script.py")
"""


@pytest.mark.parametrize("interrupted, status, stderr", [(False, 0, ""), (True, 130, "script.py: interrupted; ")],
                         ids=["after a finished run", "after an interruption was reported"])
def test_ctrl_c_during_the_interpreters_shutdown_changes_nothing(interrupted, status, stderr):
    import subprocess
    import sys
    from pathlib import Path

    code = SHUTDOWN_CTRL_C.format(root=str(Path(__file__).parents[1]), interrupted=interrupted)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (status, "done\n"), result.stderr
    assert result.stderr.strip().startswith(stderr) and len(result.stderr.strip().splitlines()) == (1 if stderr else 0)


LOST_IN_A_FINALIZER = """
import signal, sys, time
from utils.cli import entry_point
class Finalized:
    def __del__(self):  # a Ctrl-C that lands while a finalizer runs, as in importlib's module-lock callback
        {lost}
def main():
    Finalized()
    for _ in range(500):  # 5 s of work
        time.sleep(0.01)
    print("finished")
entry_point(main, "script.py")
"""


@pytest.mark.parametrize("lost, status, stdout, stderr", [
    ("signal.raise_signal(signal.SIGINT)", 130, "", "script.py: interrupted; nothing incomplete was kept. Run the "
                                                   "same command again."),
    ("raise ValueError('a bug of the finalizer')", 0, "finished\n", "Exception ignored in"),
], ids=["a Ctrl-C stops the run", "another error is still only printed"])
def test_a_ctrl_c_dropped_by_a_finalizer_still_stops_the_run(lost, status, stdout, stderr):
    result = run_code(LOST_IN_A_FINALIZER.format(lost=lost))
    assert (result.returncode, result.stdout) == (status, stdout), result.stderr
    assert result.stderr.strip().startswith(stderr), result.stderr
    if status == 130:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_script_called_in_process_keeps_the_callers_ctrl_c():
    from utils.cli import entry_point

    entry_point(lambda: None, "script.py", ends_process=False)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# what pybind11 raised when a Ctrl-C landed while TensorFlow converted one of its own errors (a TFLite conversion
# loading its SavedModel, seen once in this suite)
PYBIND11_CTRL_C_ERROR = ("pybind11::error_already_set: MISMATCH of original and normalized active exception types: "
                         "ORIGINAL InvalidArgumentError REPLACED BY KeyboardInterrupt: <EMPTY MESSAGE>")


def test_a_ctrl_c_that_tensorflows_bindings_turned_into_an_error_is_still_a_ctrl_c(capsys):
    from utils.cli import EXIT_INTERRUPTED, INTERRUPTED_TRAINING, entry_point

    def main():
        raise RuntimeError(PYBIND11_CTRL_C_ERROR)

    with pytest.raises(SystemExit) as ended:
        entry_point(main, "script.py", INTERRUPTED_TRAINING, ends_process=False)
    assert ended.value.code == EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip() == f"script.py: {INTERRUPTED_TRAINING}"

    def other():
        raise RuntimeError("pybind11::error_already_set: something else")

    with pytest.raises(RuntimeError, match="something else"):  # any other RuntimeError is a bug: its traceback
        entry_point(other, "script.py", ends_process=False)

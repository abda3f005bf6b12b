"""Run the project's scripts as a user would: a new Python process in the repository root (forked from one
that has imported TensorFlow: tests/preloaded.py), or the script's main() in the test's own process."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from tests import preloaded
from tests.preloaded import ROOT

# They never import TensorFlow and run pools of spawned processes: a new interpreter, as a user starts them
WITHOUT_TENSORFLOW = {"video_to_frames.py", "make_synthetic_dataset.py"}


def run_script(script: str, *args, timeout: float = 300, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS`` in a new process: for what truly needs one (kills, crashes, locks, a clean
    TensorFlow)."""
    argv = [str(ROOT / script), *map(str, args)]
    if script in WITHOUT_TENSORFLOW:
        return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env=env)
    return preloaded.run(argv, timeout=timeout, env=env)


def run_code(code: str, *args, timeout: float = 300, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess:
    """``python -c CODE ARGS`` in a new process, in the repository root."""
    return preloaded.run(["-c", code, *map(str, args)], timeout=timeout, env=env)


def start_code(code: str, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, new_session: bool = False
               ) -> preloaded.ForkedPython:
    """``python -c CODE ARGS`` started in a new process, in the repository root."""
    return preloaded.ForkedPython(["-c", code, *map(str, args)], stdout=stdout, stderr=stderr,
                                  start_new_session=new_session)


def start_script(script: str, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 env: dict[str, str] | None = None, new_session: bool = True
                 ) -> subprocess.Popen | preloaded.ForkedPython:
    """Start ``python SCRIPT ARGS``; in a new session (default), so that a test can signal the whole process
    group as a terminal does (``signal_group``)."""
    argv = [str(ROOT / script), *map(str, args)]
    if script in WITHOUT_TENSORFLOW:
        return subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=env, stdout=stdout, stderr=stderr, text=True,
                                start_new_session=new_session)
    return preloaded.ForkedPython(argv, env=env, stdout=stdout, stderr=stderr, start_new_session=new_session)


def signal_group(process: subprocess.Popen | preloaded.ForkedPython, number: int) -> None:
    """Signal a started script's process group, as a terminal does; nothing once the script has ended (a forked
    one is reaped by its server at once, and its group is gone with it)."""
    try:
        os.killpg(process.pid, number)
    except ProcessLookupError:
        if process.poll() is None:
            raise


def run_in_process(script: str, *args, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The script's main() in this process, inside the scripts' own error boundary (utils/cli.entry_point), with
    stdout and stderr captured and ``env`` (variables to set, None values to remove) in force meanwhile: the same
    exit status and lines as ``run_script`` without a TensorFlow start-up per call."""
    import importlib
    import io

    from utils.cli import entry_point

    module = importlib.import_module(script.removesuffix(".py"))
    out, err = io.StringIO(), io.StringIO()
    saved = {name: os.environ.get(name) for name in (env or {})}
    status = 0
    try:
        for name, value in (env or {}).items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                entry_point(lambda: module.main([str(a) for a in args]), script, ends_process=False)
            except SystemExit as exit_:
                status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        if "keras" in sys.modules:  # the next test starts from Keras's defaults, as a new process would; without
            # the full garbage collection clear_session would add (0.45 s a call: most of a bad-flag case's time)
            sys.modules["keras"].backend.clear_session(free_memory=False)
            sys.modules["keras"].mixed_precision.set_global_policy("float32")
    return subprocess.CompletedProcess([script, *map(str, args)], status, out.getvalue(), err.getvalue())


def steps_in_this_process(monkeypatch) -> None:
    """reproduce_paper.py and kd_grid.py, called with run_in_process, take each step by calling the step's
    script here too, one at a time: one TensorFlow start-up for a whole reproduction. Their steps' own
    processes (output, exit status, a kill, two at once) are tested in tests/test_reproduce_paper.py and
    tests/test_side_by_side.py."""
    from utils.reproduction import kd_grid, protocol, side_by_side

    def run_step(script: str, arguments: list[str]) -> None:
        result = run_in_process(script, *arguments)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.returncode != 0:
            sys.exit(result.returncode)

    monkeypatch.setattr(protocol, "script_in_new_process", run_step)
    monkeypatch.setattr(kd_grid, "script_in_new_process", run_step)
    monkeypatch.setattr(side_by_side, "script_in_new_process", run_step)
    monkeypatch.setattr(side_by_side, "default_side_by_side", lambda: 1)  # one step at a time: this process


def one_pixel_figures(monkeypatch) -> None:
    """Each model's confusion matrix, ROC and training curves written as a valid 1×1 PNG in this process, for
    scenario tests that train and score many models and look at none of those figures (about 0.4 s each); the
    figures themselves are tested in tests/test_model_complexity.py, tests/test_training.py and
    tests/test_evaluate.py. The reproduction's own figures (temperature sweep, alpha × T grid) stay real."""
    import cv2
    import numpy as np

    from utils import atomic_files
    from utils.evaluation import plots
    from utils.training import curves

    png = cv2.imencode(".png", np.full((1, 1, 3), 255, np.uint8))[1].tobytes()

    def write(path: Path) -> Path:
        with atomic_files.atomic_path(Path(path)) as temporary:
            temporary.write_bytes(png)
        return Path(path)

    monkeypatch.setattr(plots, "confusion_matrix_png", lambda labels, predictions, classes, path, title: write(path))
    monkeypatch.setattr(plots, "roc_png", lambda labels, probabilities, classes, path, title, class_aucs=None:
                        write(path))
    monkeypatch.setattr(curves, "training_curves_png", lambda history_csv, path, title: write(path))


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes: what "left untouched" is checked against."""
    return {str(p.relative_to(folder)): file_digest(p) for p in sorted(Path(folder).rglob("*")) if p.is_file()}


_digests: dict[tuple, str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes. A digest is reused while the file keeps its inode, size, modification and
    change times (every write moves the change time, which no program can set back) and was last changed over
    a second before it was hashed (file times advance by the kernel's clock tick, a few milliseconds): the
    bad-flag cases check the same shared files about 1,500 times."""
    status = path.stat()
    key = (str(path), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
    if key in _digests:
        return _digests[key]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if time.time_ns() - max(status.st_mtime_ns, status.st_ctime_ns) > 1_000_000_000:
        _digests[key] = digest
    return digest


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """The bad-input contract: exit status 2, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# --- interrupting a run at a random point ------------------------------------------------------


def kill_point() -> random.Random:
    seed = int(os.environ.get("HAR_KD_KILL_SEED", time.time_ns() % 100_000))
    print(f"kill point seed: {seed} (HAR_KD_KILL_SEED={seed} replays it)")
    return random.Random(seed)


def history_epochs(path):
    return [int(row["epoch"]) for row in csv.DictReader(path.open())] if path.exists() else []


def wait_until(condition, process, timeout=240.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.02)


@contextlib.contextmanager
def lock_held_by_another_process(output: Path):
    """Another process holding ``output`` the way a running script does (utils/atomic_files.output_lock);
    yields that process."""
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from utils.atomic_files import output_lock\n"
        "with output_lock(Path(sys.argv[1]), 'test'):\n print('held', flush=True); time.sleep(600)"), str(output)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()

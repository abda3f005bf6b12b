"""tests/preloaded.py: a process forked from the TensorFlow server starts as ``python ...`` would."""

import json
import os
import signal
import subprocess
import sys

from tests.scripts import run_code, signal_group, start_code

REPORT = """
import json, os, signal, sys, tempfile
import numpy as np
print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "pid": os.getpid(), "group": os.getpgid(0),
                  "threads": len(os.listdir("/proc/self/task")), "variable": os.environ.get("PRELOADED_TEST"),
                  "tmp": tempfile.gettempdir(), "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
                  "sigterm": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, "draw": int(np.random.randint(1 << 30)),
                  "project_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("utils", "models", "tests")),
                  "tensorflow": "tensorflow" in sys.modules}))
print("to stderr", file=sys.stderr)
sys.exit(3)
"""


def test_a_forked_process_has_the_callers_environment_folder_argv_and_streams_and_a_new_interpreters_state(tmp_path):
    env = {**os.environ, "PRELOADED_TEST": "yes", "TMPDIR": str(tmp_path)}
    first, second = (run_code(REPORT, "a b", 2, env=env) for _ in range(2))
    for result in (first, second):
        assert result.returncode == 3 and result.stderr == "to stderr\n", result.stderr
    report = json.loads(first.stdout)
    assert report["argv"] == ["-c", "a b", "2"] and report["variable"] == "yes" and report["tmp"] == str(tmp_path)
    assert report["pid"] not in (os.getpid(), json.loads(second.stdout)["pid"]) and report["group"] == os.getpgid(0)
    assert report["threads"] == 1  # forked from a single-threaded server
    assert report["sigint"] and report["sigterm"] and report["tensorflow"]
    assert report["project_modules"] == []  # each script imports the project afresh, under its own environment
    assert report["draw"] != json.loads(second.stdout)["draw"]  # NumPy's global state is not the server's
    fresh = subprocess.run([sys.executable, "-c", REPORT, "a b", "2"], env=env, capture_output=True, text=True)
    assert json.loads(fresh.stdout)["argv"] == report["argv"]


def test_a_process_started_in_its_own_session_takes_a_signal_to_its_group_and_reports_it():
    process = start_code("import time; print('ready', flush=True); time.sleep(60)", new_session=True)
    assert process.stdout.readline() == "ready\n"
    assert os.getpgid(process.pid) == process.pid
    signal_group(process, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    signal_group(process, signal.SIGKILL)  # ended and reaped: nothing to signal, no error
    assert process.communicate() == ("", "")

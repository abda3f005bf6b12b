"""Script processes that skip TensorFlow's start-up: forked from a server process that has imported it.

Importing TensorFlow and Keras takes about 6 s of CPU, most of what a small test run in a new process
costs. A process forked from a Python that has imported them, and nothing else of the project, is a
new process all the same (its own pid, session, signals, exit status and files), started as
``python SCRIPT ARGS`` would be: the environment, working directory, argv, stdout and stderr of the
call, Python's default signal handlers, and the project's modules imported afresh, so ``utils`` sets
TensorFlow's options from that environment. TensorFlow has made no thread, device or session yet at
the fork (its runtime starts at the first operation), which is what makes the fork safe; the server
imports it with OpenBLAS at one thread, so that it forks as a single-threaded process.

The server is multiprocessing's forkserver, one per test worker: forked from the worker itself right after its
own import of TensorFlow (``fork_server_from_here``, called by tests/conftest.py), so that TensorFlow is imported
once per worker, not twice; or else started on first use, importing it anew. What a fresh
interpreter reads only at import (TF_ENABLE_ONEDNN_OPTS, TF_CPP_MIN_LOG_LEVEL, HAR_KD_TF_LOGS) is the
server's: a test that varies those starts a new interpreter (``subprocess.run([sys.executable, ...])``), as
tests/test_interruptions.py does for the interpreter's own shutdown.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing import reduction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRELOAD = "tests.preload_tensorflow"
_context = multiprocessing.get_context("forkserver")


class _PassedFd:
    """A file descriptor sent to the forked process with its start request (SCM_RIGHTS)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __reduce__(self):
        return _received_fd, (reduction.DupFd(self.fd),)


def _received_fd(dup) -> int:
    return dup.detach()


def _as_text_stream(fd: int, line_buffered: bool) -> io.TextIOWrapper:
    """What a new interpreter makes of a non-interactive fd 1 or 2."""
    return io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8",
                            errors="backslashreplace" if fd == 2 else "strict", line_buffering=line_buffered)


def _run_as_python(argv: list[str], cwd: str, env: dict[str, str], out: int, err: int, new_session: bool) -> None:
    """In the forked process: become ``python *argv`` started with this environment, folder and output."""
    import atexit
    import runpy
    import tempfile

    import numpy as np

    if new_session:
        os.setsid()
    os.dup2(out, 1)
    os.dup2(err, 2)
    for fd in {out, err} - {1, 2}:
        os.close(fd)
    sys.stdout = sys.__stdout__ = _as_text_stream(1, line_buffered=False)
    sys.stderr = sys.__stderr__ = _as_text_stream(2, line_buffered=True)
    for number in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    tempfile.tempdir = None  # TMPDIR is read again
    np.random.seed()  # a new interpreter's global NumPy state is drawn afresh
    for name in [name for name in sys.modules if name == "tests" or name.startswith("tests.")]:
        del sys.modules[name]  # only TensorFlow and Keras stay imported
    sys.argv = ["-c", *argv[2:]] if argv[0] == "-c" else list(argv)
    try:
        if argv[0] == "-c":
            sys.path[0] = ""
            exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
        else:
            sys.path[0] = str(Path(argv[0]).resolve().parent)
            runpy.run_path(argv[0], run_name="__main__")
    finally:
        threading._shutdown()  # as at an interpreter's exit: wait for its threads, then the atexit handlers
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()


class ForkedPython:
    """The parts of subprocess.Popen the tests use, for a process forked from the TensorFlow server."""

    def __init__(self, argv: list[str], cwd=ROOT, env: dict[str, str] | None = None, stdout=None, stderr=None,
                 start_new_session: bool = False):
        start_server()
        self.args = argv
        self.returncode = None
        ends = [_child_end(target, default) for target, default in ((stdout, 1), (stderr, 2))]
        self.stdout, self.stderr = ends[0][1], ends[1][1]
        environment = dict(os.environ if env is None else env)
        self._process = _context.Process(target=_run_as_python, daemon=False, args=(
            [str(a) for a in argv], str(cwd), environment, _PassedFd(ends[0][0]), _PassedFd(ends[1][0]),
            start_new_session))
        try:
            self._process.start()
        finally:
            for fd, _ in ends:
                os.close(fd)
        self.pid = self._process.pid
        if start_new_session:  # a test may signal the group as soon as this returns
            while self.poll() is None and _group_of(self.pid) != self.pid:
                time.sleep(0.001)

    def poll(self):
        if self.returncode is None and not self._process.is_alive():
            self.returncode = self._process.exitcode
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self.poll() is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str | None, str | None]:
        texts = {}

        def read(name, stream):
            texts[name] = stream.read()
            stream.close()

        readers = [threading.Thread(target=read, args=(name, stream), daemon=True)
                   for name, stream in (("out", self.stdout), ("err", self.stderr)) if stream is not None]
        for reader in readers:
            reader.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        for reader in readers:
            reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if reader.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout)
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return texts.get("out"), texts.get("err")

    def send_signal(self, number: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, number)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _child_end(target, default: int) -> tuple[int, io.TextIOWrapper | None]:
    """(the fd the process writes to, our end to read when ``target`` is subprocess.PIPE); None: ours."""
    if target == subprocess.PIPE:
        read, write = os.pipe()
        return write, open(read, encoding="utf-8", errors="replace")
    return os.dup(default if target is None else target.fileno()), None


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def start_server() -> None:
    """The server: the one forked at the test worker's start (fork_server_from_here), or else multiprocessing's own,
    started by the first process of this test worker, which waits for its import."""
    _context.set_forkserver_preload([PRELOAD])
    from multiprocessing import forkserver

    forkserver.ensure_running()


def fork_server_from_here() -> None:
    """Fork the server from this process, which has imported TensorFlow as the server's preload does and nothing
    has run yet (no TensorFlow thread, device or session; NumPy's BLAS at one thread: the caller says so), instead
    of a server that imports TensorFlow again (4.3-5.1 s of its CPU per test worker, docs/testing.md).
    multiprocessing then uses it as its own. The server keeps only its listening socket, its end of the "alive"
    pipe and stdin/stdout/stderr (not pytest-xdist's channel), and forgets the project's modules, as the preload
    does. Nothing is forked when a server already runs."""
    import faulthandler
    import socket
    from multiprocessing import connection, forkserver, resource_tracker

    server = forkserver._forkserver
    with server._lock:
        if server._forkserver_pid is not None:
            return
        resource_tracker.ensure_running()
        listener = socket.socket(socket.AF_UNIX)
        address = connection.arbitrary_address("AF_UNIX")
        listener.bind(address)
        os.chmod(address, 0o600)
        listener.listen()
        alive_r, alive_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the server: never returns
            status = 1
            try:
                faulthandler.disable()  # pytest's, on a copy of the worker's stderr
                low = 3
                for fd in sorted({listener.fileno(), alive_r}):
                    os.closerange(low, fd)
                    low = fd + 1
                os.closerange(low, os.sysconf("SC_OPEN_MAX"))
                for name in [name for name in sys.modules if name.split(".")[0] in ("utils", "models", "tests")]:
                    del sys.modules[name]
                _interpreters_warning_filters()  # not pytest's, in force while it configures
                forkserver.main(listener.fileno(), alive_r, [])
            except SystemExit:
                status = 0  # every client gone: the way forkserver.main ends
            finally:
                os._exit(status)
        os.close(alive_r)
        listener.close()
        server._forkserver_address = address
        server._forkserver_alive_fd = alive_w
        server._forkserver_pid = pid


def _interpreters_warning_filters() -> None:
    """The warning filters a new interpreter starts with: Python's defaults (a release build's), then those of -W and
    PYTHONWARNINGS (sys.warnoptions), as CPython sets them up."""
    import warnings

    warnings.resetwarnings()
    if not hasattr(sys, "gettotalrefcount"):
        warnings.filters[:] = [("default", None, DeprecationWarning, "__main__", 0)] + [
            ("ignore", None, category, None, 0)
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)]
        warnings._filters_mutated()
    warnings._processoptions(sys.warnoptions)


def run(argv: list[str], timeout: float = 300, env: dict[str, str] | None = None, cwd=ROOT,
        capture_output: bool = True) -> subprocess.CompletedProcess:
    """subprocess.run(..., text=True) of ``python *argv``, forked from the server."""
    pipe = subprocess.PIPE if capture_output else None
    process = ForkedPython(argv, cwd=cwd, env=env, stdout=pipe, stderr=pipe)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)

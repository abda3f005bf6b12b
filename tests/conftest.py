import gc
import os
import signal
import sys

import pytest

import utils  # noqa: F401  sets TensorFlow's CPU options (utils/__init__.py) before any test imports it

# A suite started in the background (nohup, `cmd &`, some CI runners) inherits SIGINT ignored, and so would every
# script it starts: the Ctrl-C tests need what a terminal gives. A handler (unlike "ignored") is reset by exec,
# so the scripts these tests start get Python's default KeyboardInterrupt again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The longest files, each one or two tests of minutes, run first: pytest-xdist hands whole files
# out (--dist loadfile) in collection order (the Makefile turns off its reordering by test count,
# which put these single-test files last, so that one worker ran them alone at the end).
LONGEST_FIRST = ("test_reproduce_paper.py", "test_reproduce_seeds.py", "test_distribution.py")


def pytest_configure(config):
    """Import TensorFlow as the scripts do (utils/garbage.py: its objects frozen, so that the full collections of
    the tests' in-process runs skip them), except in pytest-xdist's controller, which runs no test. Each worker's
    TensorFlow pools (and those of the scripts it starts) get the cores divided among the workers, as the steps of
    a reproduction run side by side do: pools of one thread per core each, in every worker, put twice as many
    busy threads as cores on the CPUs (docs/testing.md)."""
    runs_tests = hasattr(config, "workerinput") or not config.getoption("numprocesses", None)
    # as the fork server's preload: NumPy's BLAS pool would be a second thread at the fork
    one_blas_thread = runs_tests and "numpy" not in sys.modules and "OPENBLAS_NUM_THREADS" not in os.environ
    if one_blas_thread:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    if hasattr(config, "workerinput"):
        from utils.reproduction.side_by_side import thread_share

        os.environ.update(thread_share(int(config.workerinput["workercount"])))  # variables set by hand win
    if runs_tests:
        from tests.preloaded import fork_server_from_here
        from utils.tensorflow_runtime import import_tensorflow

        import_tensorflow()
        if one_blas_thread:
            del os.environ["OPENBLAS_NUM_THREADS"]
            fork_server_from_here()  # this process is now what the server's preload makes: no second import


def pytest_collection_modifyitems(session, config, items):
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a test module (its fixtures gone), one full collection, then what is still alive frozen, as the
    scripts freeze TensorFlow's import (utils/garbage.py): what earlier modules leave alive in a worker grew from
    about 170,000 to 700,000 objects over a run, and every later full collection walked it all again (about 90
    in a run, many from Keras's clear_session: 0.2 s each on average; docs/testing.md)."""
    yield
    if nextitem is None or nextitem.path != item.path:
        gc.collect()
        gc.freeze()

"""Importing TensorFlow without its start-up chatter on stderr.

TensorFlow 2.21 writes lines about oneDNN and CUDA probing straight to file descriptor 2 while it
loads, before its log settings apply (TF_CPP_MIN_LOG_LEVEL cannot hide them). They say nothing a
user must act on, and they would turn the scripts' one-line errors into several lines, so the
scripts import TensorFlow through ``import_tensorflow``. Set HAR_KD_TF_LOGS=1 to see them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from utils.garbage import paused_then_frozen


@contextlib.contextmanager
def native_stderr_hidden() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null meanwhile (C++ log lines that no setting silences);
    HAR_KD_TF_LOGS=1 leaves it alone."""
    if os.environ.get("HAR_KD_TF_LOGS"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def import_tensorflow() -> None:
    """Import tensorflow and keras with file descriptor 2 pointed at /dev/null meanwhile, and their objects
    kept out of the garbage collector's way (utils/garbage.py)."""
    if "tensorflow" in sys.modules:
        return
    with native_stderr_hidden(), paused_then_frozen():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401

"""Write-then-rename, so a file that exists under its final name is always complete.

An interrupted run leaves only ``*.partial`` files behind, which no step ever reads; a previous
complete output stays untouched until the new one is whole.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

PARTIAL_SUFFIX = ".partial"


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL_SUFFIX)


def commit(temporary: Path, final: Path) -> None:
    """Flush ``temporary`` to disk and atomically give it the name ``final``."""
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``final``, on error it is removed."""
    temporary = partial_path(final)
    try:
        yield temporary
        commit(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def require_writable_folder(folder: Path, what: str, create: bool = True) -> None:
    """Make sure outputs can be written to ``folder`` before any work; InputError naming ``what``.

    A real write is tried (``os.access`` misses read-only mounts and some network file systems).
    """
    from utils.errors import InputError

    folder = Path(folder)
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            raise InputError(f"{what}: folder {folder} does not exist")
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise InputError(f"{what}: cannot write to {folder} ({error.strerror})") from None


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) until the block ends, then raise it.

    For writes that cannot go through a rename, such as Keras's epoch backup: a KeyboardInterrupt
    in the middle of an HDF5 write closes the file cleanly with weights missing, which the resumed
    run cannot load. A second Ctrl-C is held as well; SIGKILL cannot be held by anything.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


LOCK_SUFFIX = ".lock"


@contextlib.contextmanager
def output_lock(output: Path, what: str) -> Iterator[Path]:
    """Hold an exclusive lock on ``output`` (a file or folder to be written) for the block; a second run
    asking for the same output meanwhile gets InputError naming ``what`` and the holder's process.

    The lock is ``fcntl.flock`` on a small file beside the output (``NAME.lock``, or ``.lock`` inside
    an output folder): the kernel releases it when the holder exits, however it exits, so a killed
    run never leaves a stale lock. The file itself stays (empty but for the holder's pid).
    """
    import fcntl

    from utils.errors import InputError

    output = Path(output)
    path = output / LOCK_SUFFIX if output.is_dir() else output.with_name(output.name + LOCK_SUFFIX)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise InputError(f"{what}: {output} is being written by another run ({holder}); wait for it to end or "
                         "choose another output") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield path
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()

"""Write-then-rename, so a file that exists under its final name is always complete.

An interrupted run leaves only ``*.partial`` files behind, which no step ever reads; a previous
complete output stays untouched until the new one is whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
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
def atomic_path(final: Path, temporary: Path | None = None) -> Iterator[Path]:
    """Yield a temporary path to write (``final``'s partial name unless given); on success it replaces ``final``,
    on error it is removed."""
    temporary = temporary or partial_path(final)
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
    except OSError as error:
        raise InputError(f"{what}: cannot write to {folder} ({error.strerror})") from None
    _take_a_file(folder, folder, what)


def _take_a_file(existing: Path, folder: Path, what: str) -> None:
    """Write and remove a probe file in the ``existing`` folder; InputError naming ``folder`` if it cannot."""
    from utils.errors import InputError

    try:
        probe = existing / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise InputError(f"{what}: cannot write to {folder} ({error.strerror})") from None


def require_folder_can_be_made(folder: Path, what: str) -> None:
    """require_writable_folder that creates nothing: ``folder`` if it exists, else the nearest folder above it,
    must take a file, so that the work can come first and the folder be made afterwards."""
    import errno

    from utils.errors import InputError

    folder, existing = Path(folder), Path(folder)
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{what}: cannot write to {folder} ({os.strerror(errno.ENOTDIR)})")
    _take_a_file(existing, folder, what)


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
LOCK_RECORD = re.compile(r"(pid \d+)?")  # what a lock file holds: its holder, or nothing once released


def _head(path: Path, size: int = 64) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(size).decode("ascii", "replace").strip()
    except OSError:
        return ""


@contextlib.contextmanager
def output_lock(output: Path, what: str) -> Iterator[Path]:
    """Hold an exclusive lock on ``output`` (a file or folder to be written) for the block; a second run
    asking for the same output meanwhile gets InputError naming ``what`` and the holder's process.

    The lock is ``fcntl.flock`` on a small file beside the output (``NAME.lock``, for a folder too, so
    that the lock's name does not depend on whether the folder exists yet): the kernel releases it when
    the holder exits, however it exits, so a killed run never leaves a stale lock, only at worst an
    unlocked ``NAME.lock`` file that the next run takes over. The holder removes the file when it is
    done; a run that locked a file which was removed meanwhile tries again, so two runs never each hold
    a lock on a different file of the same name.
    """
    import fcntl

    from utils.errors import InputError

    output = Path(output)
    path = output.with_name(output.name + LOCK_SUFFIX)
    if path.is_dir() or (path.is_file() and not LOCK_RECORD.fullmatch(_head(path))):
        raise InputError(f"{what}: {path} is in the way of this run's lock (it is not a lock this project wrote); "
                         "move it away or choose another output")
    while True:
        try:
            handle = open(path, "a+")
        except OSError as error:
            raise InputError(f"{what}: cannot write to {output.parent} ({error.strerror})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise InputError(f"{what}: {output} is being written by another run ({holder}); wait for it to end "
                             "or choose another output") from None
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()  # the file was removed by the run that held it: lock the new one
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield path
    finally:
        path.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def check_outputs_apart(outputs: dict[str, Path], inputs: dict[str, Path]) -> None:
    """InputError unless every output differs from every other output and from every input, and no
    output (a folder such as a TensorBoard log folder) contains an input: a run must never overwrite
    what it reads, such as a teacher replaced by its own student. Keys name the flag or file."""
    from utils.errors import InputError

    resolved_inputs = {what: Path(path).resolve() for what, path in inputs.items() if path is not None}
    seen: dict[Path, str] = {}
    for what, path in outputs.items():
        if path is None:
            continue
        target = Path(path).resolve()
        if target in seen:
            raise InputError(f"{what} {path}: the same file as {seen[target]}; give each output its own name")
        seen[target] = what
        for source, source_path in resolved_inputs.items():
            if target == source_path or target in source_path.parents:
                relation = "is" if target == source_path else "contains"
                raise InputError(f"{what} {path}: {relation} {source} {source_path}, which this run reads; "
                                 "choose another output")


def check_free_space(folder: Path, needed_bytes: int, what: str) -> None:
    """InputError before the work starts when ``folder``'s file system has less than ``needed_bytes`` free."""
    import shutil

    from utils.errors import InputError

    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise InputError(f"{what}: {folder} has {size_text(free)} free, and this run needs about "
                         f"{size_text(needed_bytes)}; free some space or choose another folder")


def size_text(size_bytes: float) -> str:
    """A size as a person reads it: MiB up to 10 GiB, GiB above."""
    return f"{size_bytes / 2**30:.1f} GiB" if size_bytes >= 10 * 2**30 else f"{size_bytes / 2**20:.0f} MiB"


def disk_full_error(error: BaseException) -> OSError | None:
    """The 'no space left' error behind ``error`` (libraries such as h5py wrap it), or None."""
    import errno

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return error
        if "No space left on device" in str(error) or "Disk quota exceeded" in str(error):
            return error if isinstance(error, OSError) else OSError(errno.ENOSPC, str(error).splitlines()[0][:200])
        error = error.__cause__ or error.__context__
    return None


def fsync_path(path: Path) -> None:
    """Flush a file (or a folder's entries) to the disk: a later rename must not publish a file still in the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_synced(path: Path, record: dict) -> None:
    """A manifest written in place and flushed: the staged-set swaps order their steps by these."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(record, indent=1) + "\n")
        handle.flush()
        os.fsync(handle.fileno())

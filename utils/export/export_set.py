"""export_student.py's output folder as one set: written beside it, then swapped in whole.

The new export is written into a staging folder next to --output_dir (``.NAME.export-staging-PID``),
its manifest (export.json: every file with its size and SHA-256, "state": "complete") last; then one
rename exchanges the two folders (Linux's renameat2 RENAME_EXCHANGE), so that at every moment
--output_dir holds the earlier complete export or the new complete one, whatever stops the run; the
earlier set, left under the staging name, is then removed. Where a file system cannot exchange two
folders, the earlier set is first renamed aside (``.NAME.export-previous-PID``): a run killed between
the two renames leaves no --output_dir and the earlier set aside, which the next run puts back first.

Readers (predict.py) check a folder with a manifest against it: a set mixed by hand (a file copied in
from another export), truncated or damaged is refused in one line naming the folder.

A run writes only its own files: it refuses, before any work, an --output_dir holding anything that
is not part of an earlier export of this project (an entry its export.json does not list), so a
user's file is never overwritten or deleted. The manifest and fsync helpers are the extraction's
(utils/data/output_set.py), whose frames folder is replaced the same way but file by file.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from utils import atomic_files
from utils.data.frames_data import MANIFEST_COMPLETE
from utils.data.output_set import _fsync, _write_json
from utils.errors import InputError

MANIFEST_FILE = "export.json"
REPORT_FILE = "export_report.json"
WRITTEN_BY = "export_student.py"
# What exports of earlier versions (no manifest) held: such a folder is an export of this project too.
EARLIER_EXPORT_NAMES = {"saved_model", "saved_model.partial", "model_float32.tflite", "model_dynamic_int8.tflite",
                        "model_int8.tflite", "model.json", "export_report.md", REPORT_FILE}


def _siblings(output: Path, kind: str) -> list[Path]:
    """This output's leftover staging ("staging") or set-aside ("previous") folders, of killed runs."""
    pattern = re.compile(re.escape(f".{output.name}.export-{kind}-") + r"\d+")
    if not output.parent.is_dir():
        return []
    return sorted(p for p in output.parent.iterdir() if pattern.fullmatch(p.name))


def _entries(folder: Path) -> list[str]:
    """Every file and folder under ``folder``, as relative paths, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def read_manifest(folder: Path) -> dict | None:
    """``folder``'s export.json when it is a complete manifest written here; None when absent or not one."""
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None
    if (not isinstance(manifest, dict) or manifest.get("state") != MANIFEST_COMPLETE
            or manifest.get("written_by") != WRITTEN_BY or not isinstance(manifest.get("files"), dict)):
        return None
    return manifest


def check_output_folder(output: Path, what: str = "--output_dir") -> str:
    """What ``output`` holds now: "absent", "empty" or "export" (an earlier export of this project);
    InputError naming the first entry that is none of these, so nothing of a user's is ever touched."""
    output = Path(output)
    if not output.exists():
        return "absent"
    if not output.is_dir():
        raise InputError(f"{what} {output}: is a file, not a folder")
    entries = _entries(output)
    if not entries:
        return "empty"
    manifest = read_manifest(output)
    if manifest is not None:
        ours = {MANIFEST_FILE, *manifest["files"], *manifest.get("folders", [])}
        foreign = [entry for entry in entries if entry not in ours]
        if foreign:
            raise InputError(f"{what} {output}: holds {foreign[0]}, which its {MANIFEST_FILE} does not list (not "
                             f"written by {WRITTEN_BY}); move it away or choose another folder, nothing was written")
        return "export"
    earlier = (output / REPORT_FILE).is_file() and not (output / MANIFEST_FILE).exists()
    foreign = [entry for entry in entries if not earlier or not (
        entry.split(os.sep)[0] in EARLIER_EXPORT_NAMES or entry.endswith(atomic_files.PARTIAL_SUFFIX))]
    if foreign:
        raise InputError(f"{what} {output}: holds {foreign[0]}, which is not part of an export of this project; "
                         "choose an empty or new folder (nothing was written)")
    return "export"


def recover(output: Path) -> None:
    """Undo what a killed run left (we hold the output's lock, so no live run owns these): an earlier set
    renamed aside goes back when --output_dir is missing, staging folders are removed."""
    output = Path(output)
    aside = _siblings(output, "previous")
    if aside and not output.exists():
        os.rename(aside.pop(), output)
    for leftover in _siblings(output, "staging") + aside:
        shutil.rmtree(leftover, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path) -> None:
    """List every file of the staged set (size, SHA-256) and every folder, each file on disk first."""
    files, folders = {}, []
    for entry in _entries(folder):
        path = folder / entry
        if path.is_dir():
            folders.append(entry)
        else:
            _fsync(path)
            files[entry] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    for entry in [*folders, "."]:
        _fsync(folder / entry)
    _write_json(folder / MANIFEST_FILE, {"state": MANIFEST_COMPLETE, "written_by": WRITTEN_BY, "files": files,
                                         "folders": folders})


RENAME_EXCHANGE = 2
AT_FDCWD = -100


def exchange(first: Path, second: Path) -> None:
    """Swap two folders' names in one step (Linux renameat2 RENAME_EXCHANGE); OSError (ENOSYS, EINVAL,
    EOPNOTSUPP, ...) where the system or file system cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available here")
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(first), None, str(second))


CANNOT_EXCHANGE = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EPERM}


def swap_in(staging: Path, output: Path) -> None:
    """Put the staged set in ``output``'s place in one step and remove the earlier set."""
    parent = output.parent
    if not output.exists():
        os.rename(staging, output)
    else:
        os.chmod(staging, stat.S_IMODE(output.stat().st_mode))  # the folder keeps its permissions
        try:
            exchange(staging, output)
        except OSError as error:
            if error.errno not in CANNOT_EXCHANGE:
                raise
            aside = parent / f".{output.name}.export-previous-{os.getpid()}"
            os.rename(output, aside)
            _fsync(parent)
            os.rename(staging, output)
            _fsync(parent)
            staging = aside
        shutil.rmtree(staging, ignore_errors=True)
    _fsync(parent)


@dataclass
class StagedExport:
    output: Path  # absolute, symbolic links resolved
    folder: Path  # where the new set is written
    before: str  # what the output held: "absent", "empty" or "export"
    swapped: bool = False

    def on_disk(self) -> str:
        """What --output_dir holds now, for the line an interruption prints."""
        if self.swapped:
            return f"{self.output} holds the new export, complete"
        if self.before == "export":
            return (f"{self.output} still holds the earlier export, unchanged (a new one is swapped in only once "
                    "complete)")
        return f"nothing was written to {self.output}"


@contextlib.contextmanager
def staged_export(output: Path, before: str) -> Iterator[StagedExport]:
    """A staging folder for the new set (``before``: check_output_folder's answer, given under the
    output's lock); on success the set is swapped into ``output``, on any error or interruption the
    staging folder is removed and ``output`` is as it was."""
    output = Path(output).resolve()
    staged = StagedExport(output, output.parent / f".{output.name}.export-staging-{os.getpid()}", before)
    with atomic_files.interrupts_deferred():
        staged.folder.mkdir(parents=True)
    try:
        yield staged
        write_manifest(staged.folder)
        check_output_folder(output)  # a file the user put there meanwhile would be deleted by the swap
        # Once begun, the swap is finished: a Ctrl-C meanwhile is dropped, the run having ended.
        with contextlib.suppress(KeyboardInterrupt), atomic_files.interrupts_deferred():
            swap_in(staged.folder, output)
            staged.swapped = True
    finally:
        if not staged.swapped:
            with atomic_files.interrupts_deferred():
                shutil.rmtree(staged.folder, ignore_errors=True)


# --- reading -----------------------------------------------------------------------------------


def _incomplete(folder: Path, detail: str) -> InputError:
    return InputError(f"{folder}: the export there is incomplete or mixed ({detail}); run export_student.py again "
                      "to write it whole")


def verified_manifest(folder: Path) -> dict | None:
    """The manifest of export folder ``folder`` when every file it lists is there with its size; None for a
    folder without export.json (an export of an earlier version); InputError naming the folder otherwise."""
    folder = Path(folder)
    if not (folder / MANIFEST_FILE).exists():
        return None
    manifest = read_manifest(folder)
    if manifest is None:
        raise _incomplete(folder, f"{MANIFEST_FILE} is not a complete manifest written by {WRITTEN_BY}")
    for name, listed in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise _incomplete(folder, f"{name} is missing")
        if path.stat().st_size != listed.get("bytes"):
            raise _incomplete(folder, f"{name} has {path.stat().st_size} bytes, {MANIFEST_FILE} lists "
                                      f"{listed.get('bytes')}")
    return manifest


def verify_contents(folder: Path, manifest: dict, *names: str) -> None:
    """InputError unless the files ``names`` (a folder: every file under it) hold the bytes the manifest
    lists: what a reader is about to use was not swapped for another export's file of the same size."""
    folder = Path(folder)
    for name in names:
        listed = [entry for entry in manifest["files"] if entry == name or entry.startswith(name + os.sep)]
        if not listed:
            raise _incomplete(folder, f"{MANIFEST_FILE} does not list {name}")
        for entry in listed:
            if _sha256(folder / entry) != manifest["files"][entry].get("sha256"):
                raise _incomplete(folder, f"{entry} differs from the file {MANIFEST_FILE} lists")

"""A folder written as one set: staged beside its final place, then swapped in whole, under a manifest.

The new set is written into a staging folder next to the output (``.NAME.TAG-staging-PID``), its
manifest (every file with its size and SHA-256, "state": "complete") last; then one rename exchanges
the two folders (Linux's renameat2 RENAME_EXCHANGE), so that at every moment the output holds the
earlier complete set or the new complete one, whatever stops the run; the earlier set, left under the
staging name, is then removed. Where a file system cannot exchange two folders, the earlier set is
first renamed aside (``.NAME.TAG-previous-PID``): a run killed between the two renames leaves no
output and the earlier set aside, which the next run puts back first.

Readers check a folder with a manifest against it: a set mixed by hand (a file copied in from another
set), truncated or damaged is refused in one line naming the folder. A run writes only its own files:
it refuses, before any work, an output holding anything that is not part of an earlier set of its own
kind (an entry its manifest does not list), so a user's file is never overwritten or deleted.

The export folder (utils/export/export_set.py) and the synthetic video set
(utils/data/synthetic_dataset.py) are such sets; the frames folder is replaced file by file under a
manifest of its own (utils/data/output_set.py).
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from utils import atomic_files
from utils.atomic_files import fsync_path, write_json_synced
from utils.errors import InputError
from utils.frames_layout import MANIFEST_COMPLETE

RENAME_EXCHANGE = 2
AT_FDCWD = -100
CANNOT_EXCHANGE = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EPERM}


def exchange(first: Path, second: Path) -> None:
    """Swap two folders' names in one step (Linux renameat2 RENAME_EXCHANGE); OSError (ENOSYS, EINVAL,
    EOPNOTSUPP, ...) where the system or file system cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available here")
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(first), None, str(second))


def _entries(folder: Path) -> list[str]:
    """Every file and folder under ``folder``, as relative paths, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Staged:
    """A set being written: ``folder`` is where; ``before`` what the output held ("absent", "empty", "set")."""

    kind: FolderSet
    output: Path  # absolute, symbolic links resolved
    folder: Path
    before: str
    swapped: bool = False

    def on_disk(self) -> str:
        """What the output holds now, for the line an interruption prints."""
        noun = self.kind.noun
        if self.swapped:
            return f"{self.output} holds the new {noun}, complete"
        if self.before == "set":
            return (f"{self.output} still holds the earlier {noun}, unchanged (a new one is swapped in only once "
                    "complete)")
        return f"nothing was written to {self.output}"


@dataclass(frozen=True)
class FolderSet:
    """One kind of set: its manifest's name, the script that writes it, how messages call it, the tag of its
    staging folders, and how a set of an earlier version without a manifest is recognised: every entry passes
    ``earlier_entry`` (a path relative to the folder), and the file ``earlier_marker`` is there if one is named."""

    manifest: str
    written_by: str
    noun: str
    tag: str
    earlier_entry: Callable[[str], bool] = lambda entry: False
    earlier_marker: str | None = None

    def siblings(self, output: Path, state: str) -> list[Path]:
        """This output's leftover staging ("staging") or set-aside ("previous") folders, of killed runs."""
        pattern = re.compile(re.escape(f".{output.name}.{self.tag}-{state}-") + r"\d+")
        if not output.parent.is_dir():
            return []
        return sorted(p for p in output.parent.iterdir() if pattern.fullmatch(p.name))

    def read_manifest(self, folder: Path) -> dict | None:
        """``folder``'s manifest when it is a complete one of this kind; None when absent or not one."""
        path = Path(folder) / self.manifest
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            return None
        if (not isinstance(manifest, dict) or manifest.get("state") != MANIFEST_COMPLETE
                or manifest.get("written_by") != self.written_by or not isinstance(manifest.get("files"), dict)):
            return None
        return manifest

    def check_output_folder(self, output: Path, what: str = "--output_dir") -> str:
        """What ``output`` holds now: "absent", "empty" or "set" (an earlier set of this kind); InputError naming
        the first entry that is none of these, so nothing of a user's is ever touched."""
        output = Path(output)
        if not output.exists():
            return "absent"
        if not output.is_dir():
            raise InputError(f"{what} {output}: is a file, not a folder")
        entries = _entries(output)
        if not entries:
            return "empty"
        manifest = self.read_manifest(output)
        if manifest is not None:
            ours = {self.manifest, *manifest["files"], *manifest.get("folders", [])}
            foreign = [entry for entry in entries if entry not in ours]
            if foreign:
                raise InputError(f"{what} {output}: holds {foreign[0]}, which its {self.manifest} does not list (not "
                                 f"written by {self.written_by}); move it away or choose another folder, nothing was "
                                 "written")
            return "set"
        earlier = ((self.earlier_marker is None or (output / self.earlier_marker).is_file())
                   and not (output / self.manifest).exists())
        foreign = [entry for entry in entries if not earlier or not (
            self.earlier_entry(entry) or entry.endswith(atomic_files.PARTIAL_SUFFIX))]
        if foreign:
            raise InputError(f"{what} {output}: holds {foreign[0]}, which is not part of a {self.noun} of this "
                             "project; choose an empty or new folder (nothing was written)")
        return "set"

    def recover(self, output: Path) -> None:
        """Undo what a killed run left (the caller holds the output's lock, so no live run owns these): an earlier
        set renamed aside goes back when the output is missing, staging folders are removed."""
        output = Path(output)
        aside = self.siblings(output, "previous")
        if aside and not output.exists():
            os.rename(aside.pop(), output)
        for leftover in self.siblings(output, "staging") + aside:
            shutil.rmtree(leftover, ignore_errors=True)

    def write_manifest(self, folder: Path, extra: dict | None = None) -> None:
        """List every file of the staged set (size, SHA-256) and every folder, each file on disk first."""
        files, folders = {}, []
        for entry in _entries(folder):
            path = folder / entry
            if path.is_dir():
                folders.append(entry)
            else:
                fsync_path(path)
                files[entry] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
        for entry in [*folders, "."]:
            fsync_path(folder / entry)
        write_json_synced(folder / self.manifest, {"state": MANIFEST_COMPLETE, "written_by": self.written_by,
                                                   **(extra or {}), "files": files, "folders": folders})

    def swap_in(self, staging: Path, output: Path) -> None:
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
                aside = parent / f".{output.name}.{self.tag}-previous-{os.getpid()}"
                os.rename(output, aside)
                fsync_path(parent)
                os.rename(staging, output)
                fsync_path(parent)
                staging = aside
            shutil.rmtree(staging, ignore_errors=True)
        fsync_path(parent)

    @contextlib.contextmanager
    def staged(self, output: Path, before: str, manifest_extra: dict | None = None) -> Iterator[Staged]:
        """A staging folder for the new set (``before``: check_output_folder's answer, given under the output's
        lock); on success the set is swapped into ``output``, on any error or interruption the staging folder is
        removed and ``output`` is as it was."""
        output = Path(output).resolve()
        staged = Staged(self, output, output.parent / f".{output.name}.{self.tag}-staging-{os.getpid()}", before)
        with atomic_files.interrupts_deferred():
            staged.folder.mkdir(parents=True)
        try:
            yield staged
            self.write_manifest(staged.folder, manifest_extra)
            self.check_output_folder(output)  # a file the user put there meanwhile would be deleted by the swap
            # Once begun, the swap is finished: a Ctrl-C meanwhile is dropped, the run having ended.
            with contextlib.suppress(KeyboardInterrupt), atomic_files.interrupts_deferred():
                self.swap_in(staged.folder, output)
                staged.swapped = True
        finally:
            if not staged.swapped:
                with atomic_files.interrupts_deferred():
                    shutil.rmtree(staged.folder, ignore_errors=True)

    # --- reading ---------------------------------------------------------------------------------

    def incomplete(self, folder: Path, detail: str) -> InputError:
        return InputError(f"{folder}: the {self.noun} there is incomplete or mixed ({detail}); run "
                          f"{self.written_by} again to write it whole")

    def verified_manifest(self, folder: Path) -> dict | None:
        """The manifest of ``folder`` when every file it lists is there with its size; None for a folder without
        a manifest (a set of an earlier version, or not a set); InputError naming the folder otherwise."""
        folder = Path(folder)
        if not (folder / self.manifest).exists():
            return None
        manifest = self.read_manifest(folder)
        if manifest is None:
            raise self.incomplete(folder, f"{self.manifest} is not a complete manifest written by {self.written_by}")
        for name, listed in manifest["files"].items():
            path = folder / name
            if not path.is_file():
                raise self.incomplete(folder, f"{name} is missing")
            if path.stat().st_size != listed.get("bytes"):
                raise self.incomplete(folder, f"{name} has {path.stat().st_size} bytes, {self.manifest} lists "
                                              f"{listed.get('bytes')}")
        return manifest

    def verify_contents(self, folder: Path, manifest: dict, *names: str) -> None:
        """InputError unless the files ``names`` (a folder: every file under it) hold the bytes the manifest lists:
        what a reader is about to use was not swapped for another set's file of the same size."""
        folder = Path(folder)
        for name in names:
            listed = [entry for entry in manifest["files"] if entry == name or entry.startswith(name + os.sep)]
            if not listed:
                raise self.incomplete(folder, f"{self.manifest} does not list {name}")
            for entry in listed:
                if _sha256(folder / entry) != manifest["files"][entry].get("sha256"):
                    raise self.incomplete(folder, f"{entry} differs from the file {self.manifest} lists")

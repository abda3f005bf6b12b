"""Write only what is yours: every file and folder a run will write, checked before any work.

Each name a run writes is either free (absent), or this project's file *for this same output*,
recognised by its content (a sidecar's schema, a backup's record, a lock's record, a manifest) or by
the run's own records naming it (the sidecar and the backup list the history, log, curves and
TensorBoard folder they own). Anything else is the user's, or another run's: it is refused in one
line naming the file. With ``--overwrite`` the user's files are moved aside into ``NAME.previous/``
(never deleted); files that belong to another run, or to a frames folder, are never written.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from utils.errors import InputError
from utils.frames_layout import FRAMES_FILE, MANIFEST_FILE

MODEL_FORMAT = "har-kd-model/1"  # utils/sidecar.py writes it into every sidecar
ASIDE_RECORD = ".har-kd-previous.json"  # in NAME.previous/: which of its files were this project's own


@dataclass(frozen=True)
class Target:
    """One name a run will write."""

    path: Path
    what: str  # how a message names it: "--output_path", "its sidecar", ...
    folder: bool = False
    ours: Callable[[Path], bool] = lambda path: False  # this project's, for this same output


def json_object(path: Path) -> dict | None:
    """The JSON object in ``path``, or None (unreadable, not JSON, not an object)."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def is_sidecar(path: Path) -> bool:
    return (json_object(path) or {}).get("format") == MODEL_FORMAT


def same_path(a, b) -> bool:
    return a is not None and b is not None and Path(a).resolve() == Path(b).resolve()


def frames_folder_of(path: Path) -> Path | None:
    """The frames folder ``path`` lies in (a folder video_to_frames.py wrote: frames.npy or its manifest), or None."""
    for folder in Path(path).resolve().parents:
        if (folder / FRAMES_FILE).is_file() or (folder / MANIFEST_FILE).is_file():
            return folder
        if folder == folder.parent:
            break
    return None


def other_model_beside(path: Path, own_output: Path) -> Path | None:
    """The model of another run whose companion ``path`` is (``X.history.csv``, ``X.log``, ``X.json`` ... beside
    ``X.keras`` with its sidecar), or None."""
    name = Path(path).name
    for suffix in (".history.csv", ".curves.png", ".log", ".best.keras", ".json"):
        if name.endswith(suffix):
            model = Path(path).with_name(name[: -len(suffix)] + ".keras")
            if not same_path(model, own_output) and model.is_file() and is_sidecar(model.with_suffix(".json")):
                return model
    return None


def claim(targets: list[Target], overwrite: bool, aside: Path | None, own_output: Path | None = None) -> None:
    """InputError (one line, naming the file) unless every target is free for this run; with ``overwrite``,
    the user's files in the way are moved into ``aside`` first. See the module docstring."""
    blocking = []
    for target in targets:
        path = target.path
        under = next((parent for parent in path.parents if parent.exists()), None)
        if under is not None and not under.is_dir():
            raise InputError(f"{target.what} {path}: is under {under}, which is a file, not a folder; choose another "
                             "name")
        if not path.exists() and not path.is_symlink():
            continue
        if path.is_dir() != target.folder:
            kind = "a folder" if path.is_dir() else "a file"
            raise InputError(f"{target.what} {path}: is {kind}, where this run writes a "
                             f"{'folder' if target.folder else 'file'}; choose another name")
        if target.ours(path):
            continue
        frames = frames_folder_of(path) if not target.folder else None
        owner = other_model_beside(path, own_output) if own_output is not None else None
        if frames is not None or owner is not None:
            whose = f"the frames folder {frames}" if frames is not None else f"the model {owner}"
            raise InputError(f"{target.what} {path}: belongs to {whose}, which this run never writes; "
                             "choose another name")
        blocking.append(target)
    if not blocking:
        return
    if not overwrite or aside is None:
        first = blocking[0]
        hint = (f"; give --overwrite to move it into {aside.name}/ (nothing is deleted)" if aside is not None
                else "; move it away or choose another name")
        raise InputError(f"{first.what} {first.path}: {'a folder' if first.folder else 'a file'} this run did not "
                         f"write is in the way{hint}")
    set_aside([target.path for target in blocking], aside, ours=False)
    for target in blocking:
        print(f"{target.what}: moved {target.path} into {aside}/", flush=True)


def set_aside(paths: list[Path], aside: Path, ours: bool) -> None:
    """Move ``paths`` into the folder ``aside``, recording whether they were this project's own earlier result
    (discard_aside removes only those). The record is written before anything moves: a full disk stops the run
    with every file still in its place."""
    from utils.atomic_files import write_text

    aside.mkdir(parents=True, exist_ok=True)
    record = json_object(aside / ASIDE_RECORD) or {"ours": [], "kept": []}
    moves, taken = [], set()
    for path in paths:
        destination = aside / path.name
        number = 0
        while destination.exists() or destination.is_symlink() or destination in taken:  # an older copy: numbered
            number += 1
            destination = aside / f"{path.name}.{number}"
        taken.add(destination)
        moves.append((path, destination))
        record["ours" if ours else "kept"].append(destination.name)
    try:
        write_text(aside / ASIDE_RECORD, json.dumps(record, indent=1))
    except OSError:
        if not any(aside.iterdir()):
            aside.rmdir()
        raise
    for path, destination in moves:
        shutil.move(str(path), str(destination))


def is_aside_folder(path: Path) -> bool:
    """A NAME.previous/ folder this project made (its record is there), or an empty one."""
    return path.is_dir() and ((path / ASIDE_RECORD).is_file() or not any(path.iterdir()))


def discard_aside(aside: Path) -> list[str]:
    """The new result is complete: remove the earlier results this project set aside; the user's files stay
    (returned, so the run can say where they are). The folder goes when nothing of the user's is in it."""
    record = json_object(aside / ASIDE_RECORD)
    if not aside.is_dir():
        return []
    if record is None:
        return [p.name for p in aside.iterdir()]
    for name in record.get("ours", []):
        target = aside / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
    kept = [name for name in record.get("kept", []) if (aside / name).exists()]
    if kept:
        from utils.atomic_files import write_text

        write_text(aside / ASIDE_RECORD, json.dumps({"ours": [], "kept": kept}, indent=1))
    else:
        shutil.rmtree(aside, ignore_errors=True)
    return kept


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ")


def is_run_log(path: Path) -> bool:
    """A NAME.log this project writes: every line starts with its time stamp."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return bool(LOG_LINE.match(first))


def is_history(path: Path) -> bool:
    """A training history this project writes (Keras's CSVLogger): its header starts with the epoch column, or
    it is still empty (the logger opens it when training starts and writes the header after the first epoch)."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return False
    header = first.strip().split(",")
    return first == "" or (header[:1] == ["epoch"] and "loss" in header)


def is_run_folder(folder: Path, manifest: str, written_by: str) -> bool:
    """A folder a multi-step command writes (reproduce_paper.py, kd_grid.py): empty, or holding its manifest, or
    (written before manifests were) its per-seed timings."""
    if not folder.is_dir():
        return False
    record = json_object(folder / manifest)
    if record is not None:
        return record.get("written_by") == written_by
    return not any(folder.iterdir()) or (folder / "timings.json").is_file() or any(folder.glob("seed_*/timings.json"))


def claim_run_folder(folder: Path, what: str, manifest: str, written_by: str) -> None:
    """Refuse a folder of someone else's as a multi-step command's output; mark it as this command's."""
    from utils.atomic_files import require_writable_folder, write_text

    claim([Target(folder, what, folder=True, ours=lambda path: is_run_folder(path, manifest, written_by))],
          overwrite=False, aside=None)
    require_writable_folder(folder, f"{what} {folder}")
    if not (folder / manifest).is_file():
        write_text(folder / manifest, json.dumps({"written_by": written_by}) + "\n")


def only_tensorboard_events(folder: Path) -> bool:
    """A folder holding nothing but TensorBoard event files (in any sub-folder)."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return all(p.name.startswith("events.out.tfevents.") for p in files)

"""What a training run settles before it touches anything: whether its output is already done, whether a
backup left by a killed run may be resumed, and where the earlier result waits while it is redone.

A run is identified by what changes its result (``run_identity``): the model and task, the
hyper-parameters (the number of epochs included), the split settings and a digest of the frames. The identity
is stored in the backup (``NAME.backup/run.json``) when a run starts, and read back from the sidecar of a
finished model, so that:

- a finished output with the same identity is skipped (as the reproduction skips its finished steps);
  with another identity it is refused in one line, unless ``--overwrite``;
- a backup is resumed only by a run of the same identity (a rerun with another seed would otherwise
  resume silently and test on clips it trained on); another is refused in one line naming what differs,
  or, with ``--overwrite``, discarded;
- with ``--overwrite``, the finished model and its files move to ``NAME.previous/`` and stay there until
  the new model is complete: nothing is deleted before its replacement exists.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from utils.errors import InputError
from utils.training.outputs import BACKUP_METADATA, RunPaths

RUN_RECORD = "run.json"
OWNED_RECORD = "owned.json"  # the files beside the model the run writes: recognised as its own on resumption
SKIP, RESUME, START = "skip", "resume", "start"
# Hyper-parameters that do not change what is learnt: how the epochs were asked for (--steps), and the compute
# settings that only change speed. The epochs are part of a run: a model of other epochs is another model (a
# decaying learning rate is spread over them), trained again only with --overwrite.
NOT_IDENTITY = ("steps", "jit_compile", "strategy", "replicas", "mixed_precision_flag", "optimizer")


def run_identity(record: dict) -> dict:
    """The part of a sidecar record (or of the record a run is about to write) that decides its result."""
    hyperparameters = {"lr_schedule": "constant", **(record.get("hyperparameters") or {})}  # older sidecars: constant
    split = record.get("split") or {}
    distillation = record.get("distillation") or {}
    return {
        "role": record.get("role"), "task": record.get("task"), "architecture": record.get("architecture"),
        "width": record.get("width"), "weights": record.get("weights"), "weights_pretext": record.get("weights_pretext"),
        "original_code": bool(record.get("original_code")),
        "hyperparameters": {k: v for k, v in hyperparameters.items() if k not in NOT_IDENTITY},
        "split": {k: v for k, v in split.items() if not k.endswith("_indices")},
        "distillation": {k: distillation.get(k) for k in ("temperature", "alpha", "teacher_sha256")
                         if distillation},
        "frames_digest": (record.get("data") or {}).get("digest"),
        "classes": record.get("classes"), "input_shape": record.get("input_shape"),
    }


def differences(recorded: dict, wanted: dict, prefix: str = "") -> list[str]:
    """'seed 0 → 1'-style lines for the fields that differ (nested dictionaries flattened)."""
    lines = []
    for key in sorted(set(recorded) | set(wanted)):
        old, new = recorded.get(key), wanted.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            lines += differences(old, new, f"{prefix}{key}.")
        elif old != new:
            shown = [json.dumps(v)[:40] if not isinstance(v, (str, int, float)) or isinstance(v, bool) else str(v)
                     for v in (old, new)]
            lines.append(f"{prefix}{key} {shown[0]} → {shown[1]}")
    return lines


def finished_files(paths: RunPaths) -> list[Path]:
    from utils.sidecar import sidecar_path

    return [paths.output, sidecar_path(paths.output), paths.history, paths.curves, paths.log, paths.tensorboard]


def finished(paths: RunPaths) -> bool:
    """A complete model with no run going on (a backup beside a complete model is a clean-up that
    was interrupted, which utils/training/trainer.py finishes first)."""
    return paths.is_complete() and not paths.backup.exists()


def read_backup_identity(paths: RunPaths) -> dict | None:
    """The identity a backup was started with; None for a backup written before identities were kept."""
    path = paths.backup / RUN_RECORD
    if not path.is_file():
        return None
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError):
        raise InputError(f"{path}: damaged (not the JSON this project writes); delete {paths.backup} to start the "
                         "run over, or give --overwrite") from None
    if not isinstance(recorded, dict):
        raise InputError(f"{path}: damaged (not a JSON object); delete {paths.backup} or give --overwrite")
    return recorded


def decide(paths: RunPaths, wanted: dict, overwrite: bool) -> str:
    """SKIP, RESUME or START for a run of identity ``wanted`` on ``paths``; InputError when the files there
    belong to another run and ``overwrite`` was not given. Moves nothing (``prepare`` does)."""
    from utils.sidecar import read_sidecar

    if finished(paths):
        if overwrite:
            return START
        done = run_identity(read_sidecar(paths.output))
        changed = differences(done, wanted)
        if not changed:
            return SKIP
        raise InputError(f"--output_path {paths.output}: already holds a model trained with other settings "
                         f"({'; '.join(changed[:4])}); give --overwrite to replace it (kept in "
                         f"{paths.previous.name}/ until the new one is complete), or another --output_path")
    if paths.backup.is_dir():
        recorded = read_backup_identity(paths)
        if recorded is None or recorded == wanted:
            return RESUME
        if overwrite:
            return START
        raise InputError(f"{paths.backup}: the interrupted run there had other settings "
                         f"({'; '.join(differences(recorded, wanted)[:4])}); run its command again to resume it, "
                         "or give --overwrite to start over")
    return START


def prepare(paths: RunPaths, wanted: dict, decision: str) -> None:
    """Carry out ``decision``: set a finished model aside, or drop another run's backup, and record the
    identity of the run that now owns the backup and the files it writes (utils/ownership.py)."""
    from utils import atomic_files
    from utils.ownership import set_aside

    if decision == SKIP:
        return
    if decision == START:
        if finished(paths):
            set_aside([path for path in finished_files(paths) if path.exists()], paths.previous, ours=True)
        shutil.rmtree(paths.backup, ignore_errors=True)
        paths.best.unlink(missing_ok=True)
        paths.history.unlink(missing_ok=True)
    paths.backup.mkdir(parents=True, exist_ok=True)
    atomic_files.write_text(paths.backup / RUN_RECORD, json.dumps(wanted, indent=1))
    atomic_files.write_text(paths.backup / OWNED_RECORD, json.dumps(
        {key: str(path.resolve()) for key, path in owned_companions(paths).items()}, indent=1))


def owned_companions(paths: RunPaths) -> dict[str, Path]:
    """The files beside the model a run writes and records as its own (the sidecar records them too)."""
    return {"history": paths.history, "curves": paths.curves, "log": paths.log, "tensorboard": paths.tensorboard}


def discard_previous(paths: RunPaths) -> None:
    """The new model is complete: the one it replaced goes; files of the user's that --overwrite moved aside stay."""
    from utils.ownership import discard_aside

    kept = discard_aside(paths.previous)
    if kept:
        print(f"your files moved aside by --overwrite are in {paths.previous}/: {', '.join(kept)}", flush=True)


def run_targets(paths: RunPaths) -> list:
    """Every name a training run writes, with how it recognises its own there (utils/ownership.py)."""
    from utils.ownership import Target, is_aside_folder, is_history, is_run_log, is_sidecar, json_object, same_path
    from utils.sidecar import sidecar_path

    own_backup = is_backup(paths.backup)
    own_model = is_sidecar(sidecar_path(paths.output))
    recorded = {**(json_object(paths.backup / OWNED_RECORD) or {})}
    if own_model:
        recorded.update((json_object(sidecar_path(paths.output)) or {}))

    def recorded_as(key: str, default: Path):  # a copied model folder keeps its companions at their default names
        return lambda path: same_path(recorded.get(key), path) or ((own_backup or own_model) and key != "tensorboard"
                                                                   and same_path(path, default))

    return [
        Target(paths.output, "--output_path", ours=lambda path: is_sidecar(sidecar_path(path))),
        Target(sidecar_path(paths.output), "the sidecar of --output_path", ours=is_sidecar),
        Target(paths.history, "--log_path", ours=lambda path: recorded_as("history", paths.history)(path)
               and is_history(path)),
        Target(paths.log, "the log of --output_path", ours=is_run_log),
        Target(paths.curves, "the curves of --output_path", ours=recorded_as("curves", paths.curves)),
        Target(paths.best, "the best model of --output_path", ours=lambda path: own_backup),
        Target(paths.backup, "the backup of --output_path", folder=True, ours=is_backup),
        Target(paths.tensorboard, "--logdir", folder=True,
               ours=lambda path: same_path(recorded.get("tensorboard"), path) or (own_backup and not (
                   paths.backup / OWNED_RECORD).is_file())),
        Target(paths.previous, "the set-aside folder of --output_path", folder=True, ours=is_aside_folder),
    ]  # the lock (NAME.lock) is checked when it is taken: utils/atomic_files.output_lock


def is_backup(folder: Path) -> bool:
    """A backup folder this project writes: its records, and nothing but its weights files beside them; or what
    a kill while ``prepare`` writes the records leaves (the folder empty, or holding their partial files)."""
    from utils.atomic_files import PARTIAL_SUFFIX

    if not folder.is_dir():
        return False
    records = {RUN_RECORD, OWNED_RECORD}
    being_written = {name + PARTIAL_SUFFIX for name in records}
    names = {p.name for p in folder.iterdir()}
    if not names & {RUN_RECORD, BACKUP_METADATA}:
        return names <= being_written
    return all(name in records | being_written or name.startswith(BACKUP_METADATA) or ".weights.h5" in name
               for name in names)


def check_run_outputs(paths: RunPaths, data, annotations: Path | None, inputs: dict[str, Path] | None) -> None:
    """InputError when a file or folder the run writes is, or holds, one it reads (utils/atomic_files.py)."""
    from utils.atomic_files import check_outputs_apart
    from utils.data.frames_data import CLASSES_FILE, LABELS_FILE, PATHS_FILE
    from utils.sidecar import sidecar_path

    folder = data.frames_path.parent
    check_outputs_apart(
        {"--output_path": paths.output, "its sidecar": sidecar_path(paths.output), "--log_path": paths.history,
         "--logdir": paths.tensorboard, "its curves": paths.curves, "its log": paths.log, "its best model": paths.best,
         "its backup": paths.backup, "its previous copy": paths.previous},
        {"--data": data.frames_path, "--annotations": annotations or folder / LABELS_FILE,
         "the video paths": folder / PATHS_FILE, "the class list": folder / CLASSES_FILE, **(inputs or {})})


def estimated_bytes(parameters: int) -> int:
    """Disk a run needs at its peak: the best model, the backup's two copies of weights and Adam's two
    moments, the final model, and some room for logs."""
    return parameters * 4 * 9 + 32 * 2**20

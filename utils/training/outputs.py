"""The files one training run writes, and whether a finished run's output is complete.

For ``--output_path models/teacher.keras``:

    models/teacher.keras          the model with the best validation accuracy (the final output)
    models/teacher.json           its sidecar (utils/sidecar.py)
    models/teacher.history.csv    per-epoch loss, accuracy, val_loss, val_accuracy, learning_rate
                                  (or --log_path)
    models/teacher.curves.png     loss and accuracy per epoch, drawn from the history
    models/teacher.log            the run's log: command line, settings, every epoch, the result
                                  (appended to when the run resumes)
    runs/teacher/                 TensorBoard logs (or --logdir)
    models/teacher.best.keras     while training: the best model so far
    models/teacher.backup/        while training: last finished epoch (weights, optimizer state)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from utils import atomic_files
from utils.errors import InputError

BACKUP_METADATA = "training_metadata.json"  # in NAME.backup/: the last finished epoch and its weights file


@dataclass(frozen=True)
class RunPaths:
    output: Path
    history: Path
    tensorboard: Path

    @property
    def best(self) -> Path:
        return self.output.with_name(self.output.stem + ".best.keras")

    @property
    def log(self) -> Path:
        """NAME.log: the command line, settings, every epoch and the result, appended on resumption."""
        return self.output.with_name(self.output.stem + ".log")

    @property
    def curves(self) -> Path:
        return self.output.with_name(self.output.stem + ".curves.png")

    @property
    def backup(self) -> Path:
        return self.output.with_name(self.output.stem + ".backup")

    def is_complete(self) -> bool:
        return output_is_complete(self.output)

    @classmethod
    def for_files_of(cls, output: Path) -> RunPaths:
        """The names beside a model that follow from its own (best, backup, log, curves), whatever its history
        and TensorBoard folder were: for reading a finished run's state."""
        return cls(Path(output), Path(output).with_name(Path(output).stem + ".history.csv"), Path("runs") / output.stem)

    @property
    def previous(self) -> Path:
        """NAME.previous/: what --overwrite sets aside (the model it replaces, a user's files in the way)."""
        return self.output.with_name(self.output.stem + ".previous")

    @classmethod
    def for_output(cls, output_path: Path, log_path: Path | None = None, logdir: Path | None = None,
                   create: bool = False) -> RunPaths:
        """The files of a run writing ``output_path``; InputError (naming the flag) for a name or a
        folder the run could not write. ``create`` makes a missing folder (for a default path)."""
        output = Path(output_path)
        if output.suffix not in (".keras", ".h5"):
            raise InputError(f"--output_path {output}: use a .keras (or legacy .h5) file name")
        atomic_files.require_writable_folder(output.parent, f"--output_path {output}", create=create)
        history = Path(log_path) if log_path else output.with_name(output.stem + ".history.csv")
        tensorboard = Path(logdir) if logdir else Path("runs") / output.stem
        return cls(output, history, tensorboard)


def output_is_complete(output: Path) -> bool:
    """True when a training run finished ``output``: the model and its sidecar exist, and no backup
    says the run is still going. A backup without the running best model is the exception: the
    best is saved before the backup in every epoch, so it is gone only because the final step
    moved it into place and was stopped while removing the backup."""
    from utils.sidecar import sidecar_path

    paths = RunPaths.for_files_of(Path(output))
    if not (paths.output.is_file() and sidecar_path(paths.output).is_file()):
        return False
    return not paths.backup.exists() or not paths.best.exists()

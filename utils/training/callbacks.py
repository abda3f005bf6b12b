"""The callbacks of a training run: learning rate in the logs, the epoch backup, the best checkpoint.

Both checkpoints hold Ctrl-C while they write (utils/atomic_files.interrupts_deferred), so an
interrupted run never leaves a file the next run cannot load.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import keras

from utils.atomic_files import commit, interrupts_deferred, write_text
from utils.training.outputs import BACKUP_METADATA

MONITOR = "val_accuracy"


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's learning rate to the epoch logs, so TensorBoard and the CSV show it."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Ends the run in one line at the end of the first epoch whose loss is NaN or infinite (a diverged run
    would otherwise go on, save a model of NaN weights and report its accuracy). First in the list, so
    nothing of that epoch is written; the backup keeps the last finite epoch."""

    def on_epoch_end(self, epoch, logs=None):
        from utils.errors import InputError

        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            raise InputError(f"the training loss became {loss} in epoch {epoch + 1} (learning rate {rate:.3g} at the "
                             "time): the run diverged and nothing of it was saved as a model; train again with a "
                             "smaller --lr (and --overwrite, to start over instead of resuming)")


class EpochTimer(keras.callbacks.Callback):
    """Adds the epoch's wall time (training and validation) to the logs, as ``epoch_seconds``."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class EpochLog(keras.callbacks.Callback):
    """Appends one line per finished epoch to the run's log file (NAME.log)."""

    def __init__(self, path: Path, epochs: int):
        super().__init__()
        self.path, self.epochs = Path(path), epochs

    def on_epoch_end(self, epoch, logs=None):
        values = " ".join(f"{name} {value:.4g}" for name, value in (logs or {}).items()
                          if name not in ("epoch_seconds", "learning_rate"))
        seconds = (logs or {}).get("epoch_seconds")
        append_log(self.path, f"epoch {epoch + 1}/{self.epochs}: {values}" + (f" ({seconds:.1f} s)" if seconds else ""))


def append_log(path: Path, *lines: str) -> None:
    """Lines appended to a run's log file, each with the time it was written."""
    import datetime

    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    with open(path, "a", encoding="utf-8") as handle:
        handle.writelines(f"{stamp} {line}\n" for line in lines)


class EpochBackup(keras.callbacks.Callback):
    """The last finished epoch's weights and optimizer state, to resume an interrupted run from.

    Keras's BackupAndRestore writes its weights file in place, and its second copy exists only from
    the second epoch on: a SIGKILL while the first epoch is saved leaves a backup nothing can load
    (the reproduction's kill test met it). Here each epoch's weights go to a new file, and the
    metadata naming it is replaced atomically afterwards, so whenever the process dies the metadata
    names a complete file of the epoch it states. Ctrl-C is held while it writes.
    """

    def __init__(self, backup_dir: str | Path, write: bool = True):
        super().__init__()
        self.backup = Path(backup_dir)
        self.write = write  # False on workers other than the chief: they only read the chief's backup
        self.restored_epoch = 0

    def on_train_begin(self, logs=None):
        """Restore the last finished epoch; ``restored_epoch`` is then the epoch to start from."""
        from utils.errors import InputError

        epoch, weights = backup_state(self.backup)
        if weights is None:
            return
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:  # its variables must exist to be loaded into
            optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(weights)
        except (OSError, ValueError) as error:
            reason = " ".join(str(error).split())[:200]
            raise InputError(f"{self.backup}: the backup of the interrupted run cannot be loaded ({reason}); "
                             "delete this folder to train from the start") from None
        self.restored_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if not self.write:
            return
        name = f"epoch-{epoch + 1}.weights.h5"
        with interrupts_deferred():
            self.backup.mkdir(parents=True, exist_ok=True)
            partial = self.backup / f"epoch-{epoch + 1}.partial.weights.h5"  # Keras wants the .weights.h5 suffix
            self.model.save_weights(str(partial), overwrite=True)
            commit(partial, self.backup / name)  # on disk before the record that names it
            write_text(self.backup / BACKUP_METADATA, json.dumps({"epoch": epoch + 1, "batch": 0, "weights": name}))
            for stale in self.backup.glob("*.weights.h5*"):  # earlier epochs, and a kill's partial file
                if stale.name != name:
                    stale.unlink()


LEGACY_WEIGHTS = "latest.weights.h5"  # the weights file of backups written by Keras's BackupAndRestore


def backed_up_epochs(backup: Path) -> int:
    """Finished epochs in an interrupted run's backup (0 without one)."""
    return backup_state(backup)[0]


def backup_state(backup: Path) -> tuple[int, Path | None]:
    """The finished epochs an interrupted run's backup holds and the weights file that holds them
    ((0, None) without a backup). A backup written by Keras's BackupAndRestore (before this project
    wrote its own) names no file: its weights are ``latest.weights.h5``, and when a kill left its
    metadata empty, the earlier copy Keras kept beside it (``.bkp``) is used. InputError when the
    backup names nothing that can be resumed."""
    from utils.errors import InputError

    metadata = backup / BACKUP_METADATA
    if not metadata.exists():
        return 0, None
    record = _metadata_in(metadata)
    if record is None:
        previous = backup / (BACKUP_METADATA + ".bkp")
        if _metadata_in(previous) is not None and (backup / (LEGACY_WEIGHTS + ".bkp")).exists():
            shutil.copy(backup / (LEGACY_WEIGHTS + ".bkp"), backup / LEGACY_WEIGHTS)
            shutil.copy(previous, metadata)
            record = _metadata_in(metadata)
        else:
            raise InputError(f"{backup}: the backup of the interrupted run is damaged ({metadata.name} holds no "
                             "epoch, and no earlier copy does); delete this folder to train from the start")
    weights = backup / record.get("weights", LEGACY_WEIGHTS)
    if record["epoch"] and not weights.is_file():
        raise InputError(f"{backup}: the backup of the interrupted run is damaged ({weights.name}, which "
                         f"{metadata.name} names, is missing); delete this folder to train from the start")
    return record["epoch"], (weights if record["epoch"] else None)


def _metadata_in(metadata: Path) -> dict | None:
    """A backup's metadata when it holds a finished-epoch count (and, if any, a plain weights file
    name); None otherwise."""
    from utils.data.splits import is_integer

    try:
        record = json.loads(metadata.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    epoch, weights = record.get("epoch"), record.get("weights", LEGACY_WEIGHTS)
    if not (is_integer(epoch) and epoch >= 0):
        return None
    if not (isinstance(weights, str) and weights.endswith(".weights.h5") and Path(weights).name == weights):
        return None
    return record


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model whenever ``monitor`` improves, via a temporary file and a rename.

    Keras's ModelCheckpoint writes in place, so a kill during the save leaves a broken best model;
    this one also starts from the best value of the epochs before a resumption.
    """

    def __init__(self, path: Path, monitor: str = MONITOR, best: float = -math.inf):
        super().__init__()
        self.path, self.monitor, self.best = Path(path), monitor, best
        self._copy = None  # the float32, optimizer-free model that is saved, built once per run

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:  # no validation data: keep the latest epoch
            value = float(epoch)
        if value > self.best:
            self.best = float(value)
            network = deployable(self.model)
            if self._copy is None:
                self._copy = inference_copy(network)
            elif self._copy is not network:
                self._copy.set_weights(network.get_weights())
            with interrupts_deferred():  # no .partial file left behind by a Ctrl-C
                save_model(self._copy, self.path)
            if self._copy is not network:  # a copy keeps the saved weights (the network itself trains on)
                _saved_here[self.path] = (file_identity(self.path), self._copy)


_saved_here: dict[Path, tuple[tuple, keras.Model]] = {}


def file_identity(path: Path) -> tuple:
    status = Path(path).stat()
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def saved_best(path: Path) -> keras.Model | None:
    """The model BestCheckpoint wrote to ``path`` in this process, while the file there is still the one it wrote
    (the model as loading that file gives it, without the 0.5 s of loading a small one); None otherwise."""
    identity, model = _saved_here.pop(Path(path), (None, None))
    try:
        return model if identity == file_identity(path) else None
    except FileNotFoundError:
        return None


def inference_copy(model: keras.Model) -> keras.Model:
    """The model without its optimizer, in float32: a compiled model's file also holds the Adam
    moments, two more copies of every weight, which a saved result never needs (resumption uses
    the backup)."""
    from utils.training.precision import float32_config, float32_policy

    mixed = model.dtype_policy.name != "float32"
    if getattr(model, "optimizer", None) is None and not mixed:
        return model
    with float32_policy():  # mixed-precision training still saves a float32 model
        copy = type(model).from_config(float32_config(model.get_config()))  # clone_model would compile it too
    copy.set_weights(model.get_weights())
    return copy


def save_model(model: keras.Model, path: Path) -> None:
    """model.save under a temporary name with the same suffix (Keras picks the format by it), then rename."""
    path = Path(path)
    temporary = path.with_name(path.stem + ".partial" + path.suffix)
    model.save(temporary)
    shutil.move(temporary, path)


def deployable(model: keras.Model) -> keras.Model:
    """The network to save and score: what a model that trains another says it deploys (a Distiller, its
    student: models/distiller.py), or the model itself."""
    return getattr(model, "deployable", model)

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

from utils.atomic_files import interrupts_deferred

MONITOR = "val_accuracy"


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's learning rate to the epoch logs, so TensorBoard and the CSV show it."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


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


class EpochBackup(keras.callbacks.BackupAndRestore):
    """Keras's BackupAndRestore with Ctrl-C held while it writes.

    Its weights file is written in place: a SIGKILL mid-write leaves a damaged HDF5 file, which
    Keras detects and replaces by the previous epoch's copy (``double_checkpoint``), but a Ctrl-C
    mid-write leaves a well-formed file with weights missing that it cannot recover from.
    """

    def __init__(self, *args, write: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.write = write  # False on workers other than the chief: they only read the chief's backup
        self.restored_epoch = 0

    def on_epoch_end(self, epoch, logs=None):  # the backup is saved here (save_freq "epoch")
        if not self.write:
            return
        with interrupts_deferred():
            super().on_epoch_end(epoch, logs)

    def on_train_begin(self, logs=None):
        """Restore the last finished epoch; ``restored_epoch`` is then the epoch to start from."""
        from utils.errors import InputError

        metadata = Path(self.backup_dir) / "training_metadata.json"
        backed_up_epochs(Path(self.backup_dir))
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError) as error:
            reason = " ".join(str(error).split())[:200]
            raise InputError(f"{self.backup_dir}: the backup of the interrupted run cannot be loaded ({reason}); "
                             "delete this folder to train from the start") from None
        self.restored_epoch = (_epoch_in(metadata) or 0) if metadata.exists() else 0


def backed_up_epochs(backup: Path) -> int:
    """Finished epochs in an interrupted run's backup (0 without one). A metadata file left empty or
    damaged (a kill between truncating and writing it) falls back to the earlier copy Keras keeps
    beside it (double_checkpoint); without one, InputError: the backup cannot be resumed."""
    from utils.errors import InputError

    metadata, previous = backup / "training_metadata.json", backup / "training_metadata.json.bkp"
    if not metadata.exists():
        return 0
    if _epoch_in(metadata) is None:
        if previous.exists() and _epoch_in(previous) is not None and (backup / "latest.weights.h5.bkp").exists():
            shutil.copy(backup / "latest.weights.h5.bkp", backup / "latest.weights.h5")
            shutil.copy(previous, metadata)
        else:
            raise InputError(f"{backup}: the backup of the interrupted run is damaged ({metadata.name} holds no "
                             "epoch, and no earlier copy does); delete this folder to train from the start")
    return _epoch_in(metadata)


def _epoch_in(metadata: Path) -> int | None:
    """The finished-epoch count a backup's training_metadata.json holds; None if it holds none."""
    try:
        epoch = json.loads(metadata.read_text()).get("epoch")
    except (OSError, ValueError, AttributeError):
        return None
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0 else None


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
    """The model to save: a Distiller's student, or the model itself."""
    return getattr(model, "student", model)

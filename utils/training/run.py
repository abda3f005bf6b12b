"""One training run: callbacks, resumption, the best checkpoint, and the final model with its sidecar.

Every run writes, for ``--output_path models/teacher.keras``:

    models/teacher.keras          the model with the best validation accuracy (the final output)
    models/teacher.json           its sidecar (utils/sidecar.py)
    models/teacher.history.csv    per-epoch loss, accuracy, val_loss, val_accuracy, learning_rate
                                  (or --log_path)
    models/teacher.curves.png     loss and accuracy per epoch, drawn from the history
    runs/teacher/                 TensorBoard logs (or --logdir)
    models/teacher.best.keras     while training: the best model so far
    models/teacher.backup/        while training: last finished epoch (Keras BackupAndRestore)

Killed and started again with the same command, a run restores the last finished epoch (weights,
optimizer state, epoch number), drops history rows of unfinished epochs, remembers the best
validation accuracy so far, and trains the remaining epochs. The backup and the running best are
removed once the final model and sidecar are written.

The epochs run in ``run_epochs``, one loop for every tf.distribute strategy (utils/training/distribution.py);
under several workers only the chief writes the files above.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import numpy as np

from utils.atomic_files import interrupts_deferred
from utils.cli import jit_compile_value
from utils.machine import peak_rss_mib
from utils.training.run_setup import RunPaths

MONITOR = "val_accuracy"


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's learning rate to the epoch logs, so TensorBoard and the CSV show it."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class EpochBackup(keras.callbacks.BackupAndRestore):
    """Keras's BackupAndRestore with Ctrl-C held while it writes.

    Its weights file is written in place: a SIGKILL mid-write leaves a damaged HDF5 file, which
    Keras detects and replaces by the previous epoch's copy (``double_checkpoint``), but a Ctrl-C
    mid-write leaves a well-formed file with weights missing that it cannot recover from.
    """

    def __init__(self, *args, write: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.write = write  # False on workers other than the chief: they only read the chief's backup

    def _save_model(self):
        if not self.write:
            return
        with interrupts_deferred():
            super()._save_model()

    def on_train_begin(self, logs=None):
        from utils.errors import InputError

        try:
            super().on_train_begin(logs)
        except (OSError, ValueError) as error:
            reason = " ".join(str(error).split())[:200]
            raise InputError(f"{self.backup_dir}: the backup of the interrupted run cannot be loaded ({reason}); "
                             "delete this folder to train from the start") from None


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


def finished_epochs(paths: RunPaths) -> int:
    """Epochs the backup of an interrupted run holds (0 without one)."""
    metadata = paths.backup / "training_metadata.json"
    return json.loads(metadata.read_text())["epoch"] if metadata.is_file() else 0


def resume_state(paths: RunPaths) -> tuple[int, float]:
    """(epochs already finished, best monitored value among them) of an interrupted run, or (0, -inf).

    Also drops history rows of epochs that did not finish, so the CSV has each epoch once.
    """
    finished = finished_epochs(paths)
    best = -math.inf
    if paths.history.is_file():
        rows = list(csv.DictReader(paths.history.open()))
        kept = [row for row in rows if int(row["epoch"]) < finished]
        if kept != rows:
            with paths.history.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()))
                writer.writeheader()
                writer.writerows(kept)
        values = [float(row[MONITOR]) for row in kept if row.get(MONITOR)]
        best = max(values, default=-math.inf)
    if finished == 0:
        paths.best.unlink(missing_ok=True)
        if paths.history.is_file():
            paths.history.unlink()
    return finished, best


def fit(model: keras.Model, train_input: Callable, validation, epochs: int, paths: RunPaths, strategy,
        chief: bool = True, steps: int | None = None) -> int:
    """Train a compiled model for ``epochs`` (resuming if a backup exists); return epochs done now.

    ``train_input(input_context)`` builds this worker's training batches (clip_dataset with
    ``share``); ``validation`` is a plain dataset every worker scores whole. A worker other than the
    chief writes nothing: it resumes from a copy of the chief's backup (``worker_paths``).
    """
    from utils.training.distribution import chief_decides

    finished, best = resume_state(paths) if chief else (finished_epochs(paths), -math.inf)
    if chief_decides(strategy, finished >= epochs and paths.best.is_file()):
        return 0
    if finished:
        print(f"resuming from the end of epoch {finished} (backup in {paths.backup})", flush=True)
    callbacks = [LearningRateLogger()]
    if chief:
        paths.history.parent.mkdir(parents=True, exist_ok=True)
        callbacks += [keras.callbacks.TensorBoard(log_dir=str(paths.tensorboard)),
                      BestCheckpoint(paths.best, best=best),
                      keras.callbacks.CSVLogger(str(paths.history), append=True)]
    # Last, so an epoch counts as finished only once everything above is written. Its files
    # outlive the loop (finish() removes them): a kill between the last epoch and the final save
    # then resumes straight to the save instead of training again from scratch.
    callbacks.append(EpochBackup(str(paths.backup), double_checkpoint=True, delete_checkpoint=False, write=chief))
    return run_epochs(model, strategy, train_input, validation, epochs, callbacks, steps)


def run_epochs(model: keras.Model, strategy, train_input: Callable, validation, epochs: int, callbacks: list,
               steps: int | None = None) -> int:
    """Model.fit's epoch loop for every tf.distribute strategy: ``strategy.run`` of the model's own
    ``train_step`` (so a Distiller's loss and Keras's loss scaling apply unchanged) on batches from
    ``distribute_datasets_from_function``. Keras 3.15's fit fails under MultiWorkerMirroredStrategy."""
    import tensorflow as tf

    verbose = 1 if sys.stdout.isatty() else 2
    callback_list = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=True, model=model,
                                                 verbose=verbose, epochs=epochs, steps=steps)
    batches = strategy.distribute_datasets_from_function(train_input)
    # As Keras's own fit: AutoGraph left off the train step (converting the optimizer's Python
    # branches breaks its conditional updates under a MirroredStrategy).
    replica_step = tf.autograph.experimental.do_not_convert(model.train_step)
    if model.jit_compile:
        replica_step = tf.function(replica_step, jit_compile=True, reduce_retracing=True)

    @tf.function(reduce_retracing=True)
    def train_step(batch):
        strategy.run(replica_step, args=(batch,))

    network = deployable(model)  # traced once per run, not once per epoch
    predict = tf.function(lambda clips: network(clips, training=False), reduce_retracing=True)
    model.stop_training = False
    callback_list.on_train_begin()
    first = getattr(model, "_initial_epoch", None) or 0  # set by the backup callback when resuming
    done, logs = 0, {}
    for epoch in range(first, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for number, batch in enumerate(batches):
            callback_list.on_train_batch_begin(number)
            train_step(batch)
            callback_list.on_train_batch_end(number, _floats(model.get_metrics_result()) if verbose == 1 else None)
        logs = _floats(model.get_metrics_result())
        if validation is not None:
            logs.update(validation_scores(predict, validation))
        callback_list.on_epoch_end(epoch, logs)
        done += 1
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return done


def _floats(logs: dict) -> dict:
    return {name: float(np.asarray(value)) for name, value in logs.items()}


def validation_scores(predict: Callable, dataset) -> dict:
    """val_loss (cross-entropy of the logits ``predict`` gives) and val_accuracy over every clip of
    ``dataset``, computed on this worker alone: each worker gets the same numbers, so all pick the
    same best epoch."""
    import tensorflow as tf

    losses, correct, count = 0.0, 0, 0
    for inputs, labels in dataset:
        clips = inputs["frames"] if isinstance(inputs, dict) else inputs
        logits = tf.cast(predict(clips), tf.float32)
        losses += float(tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)))
        correct += int(tf.reduce_sum(tf.cast(tf.argmax(logits, -1) == labels, tf.int32)))
        count += int(labels.shape[0])
    return {"val_loss": losses / count, "val_accuracy": correct / count}


def finish(paths: RunPaths, record_for: Callable[[keras.Model], dict]) -> tuple[keras.Model, dict]:
    """Load the best checkpoint, let ``record_for(model)`` compute the sidecar, write both, clean up."""
    from utils.sidecar import write_sidecar

    best = keras.models.load_model(paths.best)
    record = record_for(best)
    write_sidecar(paths.output, record)
    if paths.output.suffix == ".keras":
        shutil.move(paths.best, paths.output)
    else:
        save_model(best, paths.output)
        paths.best.unlink()
    shutil.rmtree(paths.backup, ignore_errors=True)
    return best, record


@contextlib.contextmanager
def worker_paths(paths: RunPaths, chief: bool) -> Iterator[RunPaths]:
    """The run's paths for the chief; for another worker, a temporary folder holding a copy of the
    chief's backup (so that it resumes from the same epoch without touching the chief's files),
    removed afterwards whatever happens."""
    if chief:
        yield paths
        return
    folder = Path(tempfile.mkdtemp(prefix="har_kd_worker_"))
    try:
        own = RunPaths(folder / paths.output.name, folder / paths.history.name, folder / "tensorboard")
        if paths.backup.is_dir():
            shutil.copytree(paths.backup, own.backup)
        yield own
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def compile_classifier(model: keras.Model, learning_rate: float, jit_compile="auto") -> None:
    """Adam and cross-entropy on logits, as the paper (the networks end in logits, not softmax)."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )


def evaluate(model: keras.Model, dataset) -> dict:
    """Loss and accuracy of a compiled model over a dataset, as plain floats."""
    values = model.evaluate(dataset, verbose=0, return_dict=True)
    return {name: float(np.asarray(value)) for name, value in values.items()}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow: call before building the model (its initial weights
    are drawn then), so that a run repeats on CPU: same weights, dropout masks and shuffling."""
    keras.utils.set_random_seed(seed)


def deployable(model: keras.Model) -> keras.Model:
    """The model to save: a Distiller's student, or the model itself."""
    return getattr(model, "student", model)


def train_and_save(model: keras.Model, data, split, args, record: dict, paths: RunPaths | None = None,
                   teacher_logits: np.ndarray | None = None, strategy=None) -> dict | None:
    """The whole run shared by the training and distillation scripts; returns the sidecar record
    (None on a worker other than the chief, which writes nothing that stays).

    ``model`` is a classifier (compiled here) or a compiled Distiller, whose student is what gets
    saved, built under ``strategy.scope()`` (default: no distribution); ``teacher_logits`` (rows of
    frames.npy) feed a Distiller cached teacher outputs. ``record`` holds the sidecar keys the
    script knows (role, architecture, ...); this adds the data fingerprint, split indices,
    hyper-parameters, metrics and library versions.
    """
    import tensorflow as tf

    from utils.training.distribution import check_batch_size, chief_decides, is_chief
    from utils.training.input_pipeline import ClipReader, clip_dataset
    from utils.sidecar import library_versions, read_sidecar

    strategy = strategy or tf.distribute.get_strategy()
    check_batch_size(args.batch_size, strategy)
    paths = paths or RunPaths.from_args(args.output_path, args.log_path, args.logdir)
    chief = is_chief(strategy)
    if chief_decides(strategy, paths.backup.exists() and paths.is_complete()):  # finish() stopped cleaning up
        if not chief:
            return None
        shutil.rmtree(paths.backup, ignore_errors=True)
        print(f"{paths.output} was complete; removed the backup left by an interrupted clean-up", flush=True)
        return read_sidecar(paths.output)
    reader = ClipReader(data)

    def train_input(context: tf.distribute.InputContext):
        here = context.num_replicas_in_sync // context.num_input_pipelines
        share = (context.input_pipeline_id * here, here, context.num_replicas_in_sync)
        return clip_dataset(data, split.train, args.batch_size, shuffle=True, seed=args.seed, reader=reader,
                            teacher_logits=teacher_logits, share=share)

    validation = None
    if len(split.val):
        validation = clip_dataset(data, split.val, args.batch_size, shuffle=False, reader=reader)
    with strategy.scope():
        if not model.compiled:
            compile_classifier(model, args.lr, jit_compile_value(args.jit_compile))
        # Every variable (optimizer slots, metric totals) made now, under the scope, as fit does:
        # created inside the compiled training step they would break it under a MirroredStrategy.
        sample = next(iter(clip_dataset(data, split.train[:1], 1, shuffle=False, reader=reader,
                                        teacher_logits=teacher_logits)))
        model._symbolic_build(data_batch=sample)
    start = time.perf_counter()
    replicas = strategy.num_replicas_in_sync
    steps = len(split.train) // args.batch_size if replicas > 1 else math.ceil(len(split.train) / args.batch_size)
    with worker_paths(paths, chief) as own_paths:
        fit(model, train_input, validation, args.epochs, own_paths, strategy, chief, steps)
    train_seconds = time.perf_counter() - start  # this invocation only, when resumed
    if not chief:
        return None

    def with_metrics(best: keras.Model) -> dict:
        if not best.compiled:
            compile_classifier(best, args.lr)
        validation = clip_dataset(data, split.val, args.batch_size, shuffle=False, reader=reader)
        test = evaluate(best, clip_dataset(data, split.test, args.batch_size, shuffle=False, reader=reader))
        metrics = {"test_accuracy": test["accuracy"], "test_loss": test["loss"], "test_clips": int(len(split.test)),
                   "peak_rss_mib": peak_rss_mib(), "train_seconds": train_seconds}
        if len(split.val):
            val = evaluate(best, validation)
            metrics.update(val_accuracy=val["accuracy"], val_loss=val["loss"])
        return {
            **record,
            "classes": data.classes,
            "input_shape": list(data.clip_shape),
            "data": data.fingerprint(),
            "split": {**args.split_settings.to_json(), "train_indices": split.train.tolist(),
                      "val_indices": split.val.tolist(), "test_indices": split.test.tolist()},
            "hyperparameters": {"batch_size": args.batch_size, "epochs": args.epochs, "lr": args.lr,
                                "width": args.width, "seed": args.seed, "optimizer": "adam", "init": args.init,
                                "mixed_precision": args.mixed_precision, "jit_compile": args.jit_compile,
                                "strategy": args.strategy, "replicas": replicas},
            "metrics": metrics,
            "history": str(paths.history),
            "curves": str(paths.curves),
            "tensorboard": str(paths.tensorboard),
            "versions": library_versions(),
        }

    from utils.evaluation.plots import training_curves_png

    training_curves_png(paths.history, paths.curves, f"{paths.output.stem} ({record['role']})")
    _, final = finish(paths, with_metrics)
    metrics = final["metrics"]
    print(f"{record['role']} saved to {paths.output}: test accuracy {metrics['test_accuracy']:.4f} "
          f"on {metrics['test_clips']} clips")
    return final

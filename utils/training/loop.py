"""The epoch loop, for every tf.distribute strategy, and resuming it from the backup of an interrupted run.

Killed and started again with the same command, a run restores the last finished epoch (weights,
optimizer state, epoch number), drops history rows of unfinished epochs, remembers the best
validation accuracy so far, and trains the remaining epochs.
"""

from __future__ import annotations

import contextlib
import csv
import math
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import numpy as np

from models.distiller import FRAMES_KEY
from models.logits import inference_call
from models.original_code import logits_part
from utils.training.callbacks import (
    MONITOR,
    BestCheckpoint,
    EpochBackup,
    EpochLog,
    EpochTimer,
    LearningRateLogger,
    StopOnNonFiniteLoss,
    append_log,
    backed_up_epochs,
    deployable,
)
from utils.training.input_pipeline import clips_spec
from utils.training.outputs import RunPaths


def finished_epochs(paths: RunPaths) -> int:
    """Epochs the backup of an interrupted run holds (0 without one)."""
    return backed_up_epochs(paths.backup)


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


def train_epochs(model: keras.Model, train_input: Callable, validation, epochs: int, paths: RunPaths, strategy,
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
        if chief:
            append_log(paths.log, f"resuming from the end of epoch {finished} (backup in {paths.backup})")
    callbacks = [StopOnNonFiniteLoss(), EpochTimer(), LearningRateLogger()]
    if chief:
        paths.history.parent.mkdir(parents=True, exist_ok=True)
        callbacks += [keras.callbacks.TensorBoard(log_dir=str(paths.tensorboard)),
                      BestCheckpoint(paths.best, best=best),
                      keras.callbacks.CSVLogger(str(paths.history), append=True),
                      EpochLog(paths.log, epochs)]
    # Last, so an epoch counts as finished only once everything above is written. Its files
    # outlive the loop (finish() removes them): a kill between the last epoch and the final save
    # then resumes straight to the save instead of training again from scratch.
    callbacks.append(EpochBackup(paths.backup, write=chief))
    return epoch_loop(model, strategy, train_input, validation, epochs, callbacks, steps)


def epoch_loop(model: keras.Model, strategy, train_input: Callable, validation, epochs: int, callbacks: list,
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

    # Traced once, for any batch size: with the shapes of the first batch, the smaller last one of each epoch
    # would trace the step a second time (1.4 s for the demo's student). A worker of several replicas never
    # sees a smaller batch (clip_dataset drops it) and keeps tf.function's own tracing.
    single = strategy.num_replicas_in_sync == 1

    @tf.function(reduce_retracing=True, input_signature=[batches.element_spec] if single else None,
                 autograph=False)
    def train_step(batch):
        strategy.run(replica_step, args=(batch,))

    network = logits_part(deployable(model))  # traced once per run, not once per epoch
    predict = inference_call(network, reduce_retracing=True,
                             input_signature=None if validation is None else [clips_spec(validation)])
    model.stop_training = False
    callback_list.on_train_begin()
    first = next((c.restored_epoch for c in callbacks if isinstance(c, EpochBackup)), 0)  # set by its on_train_begin
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
        clips = inputs[FRAMES_KEY] if isinstance(inputs, dict) else inputs
        logits = tf.cast(predict(clips), tf.float32)
        losses += float(tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)))
        correct += int(tf.reduce_sum(tf.cast(tf.argmax(logits, -1) == labels, tf.int32)))
        count += int(labels.shape[0])
    return {"val_loss": losses / count, "val_accuracy": correct / count}


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

"""One training run from start to saved model: decide (skip, resume or start), train (resuming if a
backup exists), record (the best epoch, scored on the test clips, written with its sidecar).

The files a run writes are listed in utils/training/outputs.py; the epoch loop and resumption are
utils/training/loop.py, one loop for every tf.distribute strategy (utils/training/distribution.py);
under several workers only the chief writes files.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from utils import atomic_files
from utils.cli import jit_compile_value
from utils.machine import peak_rss_mib, thread_pools
from utils.ownership import claim
from utils.training import preflight
from utils.training.callbacks import append_log, deployable, save_model, saved_best
from utils.training.loop import train_epochs, worker_paths
from utils.training.outputs import RunPaths
from utils.training.settings import TrainSettings


def finish(paths: RunPaths, record_for: Callable[[keras.Model], dict]) -> tuple[keras.Model, dict]:
    """The best checkpoint (the copy that saved it, when this process did: callbacks.saved_best; else loaded from
    its file), ``record_for(model)`` computing the sidecar, both written, the rest cleaned up."""
    from utils.sidecar import write_sidecar

    best = saved_best(paths.best)
    if best is None:
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


def compile_classifier(model: keras.Model, optimizer: keras.optimizers.Optimizer | float,
                       jit_compile="auto", training: bool = True) -> None:
    """Cross-entropy on logits, as the paper (the networks end in logits, not softmax); ``optimizer``
    may be Adam's learning rate. For ``training``, the optimizer's slots are made now (a built model):
    Keras's fit and train_on_batch make them inside the first traced step otherwise, which TensorFlow then
    traces twice (docs/performance.md)."""
    model.compile(
        optimizer=keras.optimizers.Adam(optimizer) if isinstance(optimizer, (int, float)) else optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    if training and model.built:
        model.optimizer.build(model.trainable_variables)


def evaluate(model: keras.Model, dataset) -> dict:
    """Loss and accuracy of a compiled model over a dataset, as plain floats."""
    values = model.evaluate(dataset, verbose=0, return_dict=True)
    return {name: float(np.asarray(value)) for name, value in values.items()}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow: call before building the model (its initial weights
    are drawn then), so that a run repeats on CPU: same weights, dropout masks and shuffling."""
    keras.utils.set_random_seed(seed)


def train_and_save(model: keras.Model, data, split, settings: TrainSettings, record: dict,
                   teacher_logits: np.ndarray | None = None, strategy=None,
                   inputs: dict[str, Path] | None = None) -> dict | None:
    """The whole run shared by the training and distillation scripts, in three steps: decide (skip, resume
    or start), train, record (the best epoch's model and its sidecar); returns the sidecar record (None on
    a worker other than the chief, which writes nothing that stays).

    ``model`` is a classifier (compiled here) or a compiled Distiller, whose deployable network is what
    gets saved, built under ``strategy.scope()`` (default: no distribution); ``teacher_logits`` (rows of
    frames.npy) feed a Distiller cached teacher outputs. ``record`` holds the sidecar keys the script
    knows (role, architecture, ...); the rest (data fingerprint, split indices, hyper-parameters,
    metrics, library versions) is added here. The files go to ``settings.paths``; ``inputs`` (flag →
    path: a teacher, a weights file) are what the run reads besides the frames, which no output may
    overwrite. The chief holds a lock on the output for the whole run (a second run on it is refused).
    """
    import tensorflow as tf

    from utils.training.distribution import check_batch_size, is_chief

    strategy = strategy or tf.distribute.get_strategy()
    check_batch_size(settings.batch_size, strategy)
    chief = is_chief(strategy)
    preflight.check_run_outputs(settings.paths, data, settings.annotations, inputs)
    with atomic_files.output_lock(settings.paths.output, "--output_path") if chief else contextlib.nullcontext():
        decision, done = decide(model, data, split, settings, record, strategy, chief)
        if decision == preflight.SKIP:
            return done
        seconds = train(model, data, split, settings, teacher_logits, strategy, chief)
        return save_result(data, split, settings, record, seconds, strategy.num_replicas_in_sync) if chief else None


def decide(model: keras.Model, data, split, settings: TrainSettings, record: dict, strategy,
           chief: bool) -> tuple[str, dict | None]:
    """(SKIP, the finished model's sidecar) when there is nothing to train (None on a worker); otherwise
    (RESUME or START, None), with the output folder made ready for it (utils/training/preflight.py)."""
    from utils.sidecar import read_sidecar
    from utils.training.distribution import chief_decides

    paths = settings.paths
    if chief_decides(strategy, paths.backup.exists() and paths.is_complete()):  # save_result stopped cleaning up
        if chief:
            shutil.rmtree(paths.backup, ignore_errors=True)
            preflight.discard_previous(paths)
            print(f"{paths.output} was complete; removed the backup left by an interrupted clean-up", flush=True)
        return preflight.SKIP, read_sidecar(paths.output) if chief else None
    wanted = preflight.run_identity(
        {**record, "classes": data.classes, "input_shape": list(data.clip_shape), "data": {"digest": data.digest},
         "split": settings.split.to_json(), "hyperparameters": settings.hyperparameters(1)})
    decision = preflight.decide(paths, wanted, settings.overwrite) if chief else preflight.START
    if chief_decides(strategy, decision == preflight.SKIP):
        if not chief:
            return preflight.SKIP, None
        done = read_sidecar(paths.output)
        accuracy = (done.get("metrics") or {}).get("test_accuracy")
        print(f"{paths.output} is already trained with these settings (test accuracy "
              f"{accuracy if accuracy is None else f'{accuracy:.4f}'}); skipped. --overwrite trains it again", flush=True)
        return preflight.SKIP, done
    if chief:
        claim(preflight.run_targets(paths), settings.overwrite, paths.previous, paths.output)
        atomic_files.check_free_space(paths.output.parent, preflight.estimated_bytes(deployable(model).count_params()),
                                      f"--output_path {paths.output}")
        preflight.prepare(paths, wanted, decision)
        _log_start(settings, record, data, split, strategy.num_replicas_in_sync)
    return decision, None


def _log_start(settings: TrainSettings, record: dict, data, split, replicas: int) -> None:
    """The run's command line and settings in NAME.log, and its HParams record in TensorBoard."""
    from utils.training.hparams import hparam_values, write_hparams

    paths, described_split = settings.paths, settings.split.to_json()
    described = {key: value for key, value in record.items() if key in ("role", "task", "width", "distillation")}
    command = [sys.executable, *settings.command_line] if settings.command_line else [sys.executable, *sys.argv]
    append_log(paths.log, "command: " + shlex.join(command),
               f"run: {json.dumps(described)}", f"settings: {json.dumps(settings.hyperparameters(replicas))}",
               f"data: {data.frames_path} {list(data.frames.shape)}; split: {json.dumps(described_split)} "
               f"({len(split.train)} train, {len(split.val)} val, {len(split.test)} test clips)",
               "threads: TensorFlow's pools " + ", ".join(f"{kind} {size}" for kind, size in thread_pools().items()))
    write_hparams(paths.tensorboard, hparam_values(record, settings.hyperparameters(replicas), described_split),
                  trial=paths.output.stem)


def train(model: keras.Model, data, split, settings: TrainSettings, teacher_logits, strategy, chief: bool) -> float:
    """Compile (a classifier), build every variable under the strategy, and train the epochs not yet done
    (utils/training/loop.py); returns the seconds this invocation trained."""
    import tensorflow as tf

    from utils.training.input_pipeline import ClipReader, clip_dataset

    reader = ClipReader(data)

    def train_input(context: tf.distribute.InputContext):
        here = context.num_replicas_in_sync // context.num_input_pipelines
        share = (context.input_pipeline_id * here, here, context.num_replicas_in_sync)
        return clip_dataset(data, split.train, settings.batch_size, shuffle=True, seed=settings.seed, reader=reader,
                            teacher_logits=teacher_logits, share=share)

    validation = None
    if len(split.val):
        validation = clip_dataset(data, split.val, settings.batch_size, shuffle=False, reader=reader)
    replicas = strategy.num_replicas_in_sync
    with strategy.scope():
        if not model.compiled:
            compile_classifier(model, settings.optimizer(len(split.train), replicas),
                               jit_compile_value(settings.jit_compile))
        # Every variable (optimizer slots, metric totals) made now, under the scope, as fit does:
        # created inside the compiled training step they would break it under a MirroredStrategy.
        sample = next(iter(clip_dataset(data, split.train[:1], 1, shuffle=False, reader=reader,
                                        teacher_logits=teacher_logits)))
        model._symbolic_build(data_batch=sample)
    start = time.perf_counter()
    with worker_paths(settings.paths, chief) as own_paths:
        train_epochs(model, train_input, validation, settings.epochs, own_paths, strategy, chief,
                     settings.steps_per_epoch(len(split.train), replicas))
    return time.perf_counter() - start


def save_result(data, split, settings: TrainSettings, record: dict, train_seconds: float, replicas: int) -> dict:
    """The best epoch's model scored on the validation and test clips, saved with its sidecar and curves;
    the run's temporary files and the model it replaced are removed."""
    from utils.sidecar import library_versions
    from utils.training.curves import training_curves_png
    from utils.training.input_pipeline import ClipReader, clip_dataset

    paths, reader = settings.paths, ClipReader(data)

    def scores(best: keras.Model, indices: np.ndarray) -> dict:
        if not best.compiled:
            compile_classifier(best, settings.lr, training=False)  # for evaluate(): no step is taken
        return evaluate(best, clip_dataset(data, indices, settings.batch_size, shuffle=False, reader=reader))

    def with_metrics(best: keras.Model) -> dict:
        test = scores(best, split.test)
        metrics = {"test_accuracy": test["accuracy"], "test_loss": test["loss"], "test_clips": int(len(split.test)),
                   "peak_rss_mib": peak_rss_mib(), "train_seconds": train_seconds}
        if len(split.val):
            val = scores(best, split.val)
            metrics.update(val_accuracy=val["accuracy"], val_loss=val["loss"])
        return {**record, "classes": data.classes, "input_shape": list(data.clip_shape),
                "data": {**data.fingerprint(), "digest": data.digest},
                "split": {**settings.split.to_json(), "train_indices": split.train.tolist(),
                          "val_indices": split.val.tolist(), "test_indices": split.test.tolist()},
                "hyperparameters": settings.hyperparameters(replicas), "metrics": metrics,
                "history": str(paths.history.resolve()), "curves": str(paths.curves.resolve()),
                "log": str(paths.log.resolve()),
                "tensorboard": str(paths.tensorboard.resolve()),  # evaluate.py adds the test scores here
                "versions": library_versions(), "thread_pools": thread_pools()}

    training_curves_png(paths.history, paths.curves, f"{paths.output.stem} ({record['role']})")
    _, final = finish(paths, with_metrics)
    preflight.discard_previous(paths)
    metrics = final["metrics"]
    result = (f"{record['role']} saved to {paths.output}: test accuracy {metrics['test_accuracy']:.4f} "
              f"on {metrics['test_clips']} clips")
    append_log(paths.log, result)
    print(result)
    return final

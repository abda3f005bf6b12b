"""TensorBoard as the lab notebook: each run's hyperparameters, in the HParams dashboard.

Training and distillation write, when they start, the run's HParams record into its TensorBoard
folder; evaluate.py adds the test scores to the same folder (utils/evaluation/tensorboard.py), under
the metric tags declared here. ``tensorboard --logdir`` over the folder holding several runs (the
reproduction's ``runs/``) then lists them in the HParams dashboard as one sortable table.
"""

from __future__ import annotations

from pathlib import Path

# metric tag -> what the HParams table calls it; validation accuracy is the Keras TensorBoard
# callback's "epoch_accuracy" in the run's validation/ folder
TEST_METRICS = {"test/top1_accuracy": "test top-1", "test/top5_accuracy": "test top-5",
                "test/mean_class_accuracy": "test mean class accuracy", "test/macro_f1": "test macro F1"}


def _hparams_api():
    from tensorboard.plugins.hparams import api

    return api


def hparam_values(record: dict, hyperparameters: dict, split: dict) -> dict:
    """One run's HParams, from what its sidecar records (every value a str, int or float)."""
    distillation = record.get("distillation") or {}
    return {
        "role": str(record.get("role", "")), "task": str(record.get("task", "")),
        "width": float(record.get("width", 1.0)), "temperature": float(distillation.get("temperature", 0.0)),
        "alpha": float(distillation.get("alpha", 1.0)), "lr": float(hyperparameters.get("lr", 0.0)),
        "lr_schedule": str(hyperparameters.get("lr_schedule", "constant")),
        "batch_size": int(hyperparameters.get("batch_size", 0)), "epochs": int(hyperparameters.get("epochs", 0)),
        "init": str(hyperparameters.get("init", "glorot")), "precision": str(hyperparameters.get("mixed_precision", "")),
        "split": str(split.get("protocol", "")), "seed": int(split.get("seed", 0)),
        "teacher": Path(str(distillation.get("teacher", ""))).name,
        "original_code": bool(record.get("original_code", False)),
    }


def write_hparams(logdir: Path, values: dict, trial: str) -> None:
    """The run's HParams and the experiment's columns (the same in every run, so runs line up)."""
    import tensorflow as tf

    hp = _hparams_api()
    columns = [hp.HParam(name) for name in values]
    metrics = [hp.Metric("epoch_accuracy", group="validation", display_name="validation accuracy")]
    metrics += [hp.Metric(tag, display_name=name) for tag, name in TEST_METRICS.items()]
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        hp.hparams_config(hparams=columns, metrics=metrics)
        hp.hparams(values, trial_id=trial)
    writer.close()



"""The one private Keras member the training loop relies on, checked so that a Keras upgrade that
changes it fails here, loudly, instead of breaking training silently (requirements.txt pins Keras to
the tested minor version; README, "Keras versions")."""

import inspect

import keras
import numpy as np

from models.c3d import student_c3d
from utils.training.trainer import compile_classifier


def test_symbolic_build_still_creates_the_optimizer_and_metric_variables_before_the_first_step():
    """utils/training/trainer.py calls ``model._symbolic_build(data_batch=...)`` under the tf.distribute
    scope so that every variable exists before the step is traced (as Model.fit does)."""
    assert "data_batch" in inspect.signature(keras.Model._symbolic_build).parameters
    keras.utils.set_random_seed(0)
    model = student_c3d(3, (16, 16, 16, 3), width=0.125)
    compile_classifier(model, 1e-3)
    assert not model.optimizer.built
    batch = (np.zeros((1, 16, 16, 16, 3), np.uint8), np.zeros((1,), np.int64))
    model._symbolic_build(data_batch=batch)
    assert model.optimizer.built and len(model.optimizer.variables) > len(model.trainable_variables)
    assert all(metric.variables for metric in model.metrics if metric.name == "accuracy")


def test_the_keras_in_use_is_the_tested_minor_version():
    major, minor = (int(part) for part in keras.__version__.split(".")[:2])
    assert (major, minor) == (3, 15), f"Keras {keras.__version__}: re-run this file's checks, then move the pin"

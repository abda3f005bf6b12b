"""The one private Keras member the training code relies on (``Model._symbolic_build``: utils/training/trainer.py,
Distiller.compile), and the Keras behaviour that makes it worth calling, checked so that a Keras upgrade that
changes it fails here, loudly, instead of breaking training silently (requirements.txt pins Keras to
the tested minor version; README, "Keras versions")."""

import inspect

import keras
import numpy as np
import pytest

from models.c3d import student_c3d
from models.distiller import Distiller
from utils.training.trainer import compile_classifier


def test_symbolic_build_still_creates_the_optimizer_and_metric_variables_before_the_first_step():
    """utils/training/trainer.py calls ``model._symbolic_build(data_batch=...)`` under the tf.distribute
    scope so that every variable exists before the step is traced (as Model.fit does)."""
    assert "data_batch" in inspect.signature(keras.Model._symbolic_build).parameters
    keras.utils.set_random_seed(0)
    model = student_c3d(3, (16, 16, 16, 3), width=0.125)
    compile_classifier(model, 1e-3, training=False)  # compiled to be scored: its optimizer left unbuilt
    assert not model.optimizer.built
    batch = (np.zeros((1, 16, 16, 16, 3), np.uint8), np.zeros((1,), np.int64))
    model._symbolic_build(data_batch=batch)
    assert model.optimizer.built and len(model.optimizer.variables) > len(model.trainable_variables)
    assert all(metric.variables for metric in model.metrics if metric.name == "accuracy")


def small_network(name: str) -> keras.Model:
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)],
                            name=name)


def compiled(kind: str, early: bool) -> keras.Model:
    """A network compiled by compile_classifier, or a Distiller by its compile; ``early`` False leaves the
    training variables to Keras, as the code did before."""
    keras.utils.set_random_seed(0)
    if kind == "classifier":
        model = small_network("student")
        compile_classifier(model, 1e-3, training=early)
        return model
    model = Distiller(small_network("student"), small_network("teacher"))
    with pytest.MonkeyPatch.context() as patch:
        if not early:
            patch.setattr(model, "_symbolic_build", lambda **_: None)
        model.compile(keras.optimizers.Adam(1e-3))
    return model


@pytest.mark.parametrize("kind", ["classifier", "distiller"])
def test_a_model_compiled_for_training_traces_its_first_step_once_and_takes_the_same_steps(kind):
    """Without a distribution strategy Keras's train_on_batch and fit make unbuilt optimizer slots and metric
    totals inside the first traced step, and TensorFlow then traces that step twice; compile_classifier and
    Distiller.compile make them first."""
    rng = np.random.default_rng(4)
    features, labels = rng.normal(size=(4, 6)).astype("float32"), np.array([0, 1, 2, 0])
    traces, weights = {}, {}
    for early in (True, False):
        model = compiled(kind, early)
        assert model.optimizer.built is early
        traced, step = [], model.train_step
        model.train_step = lambda data, step=step, traced=traced: (traced.append(1), step(data))[1]  # tracing only
        for _ in range(2):
            model.train_on_batch(features, labels)
        traces[early], weights[early] = len(traced), model.get_weights()
    assert traces == {True: 1, False: 2}, traces  # Keras changed: is the early build still needed?
    for ours, keras_own in zip(weights[True], weights[False], strict=True):
        np.testing.assert_array_equal(ours, keras_own)


def test_the_keras_in_use_is_the_tested_minor_version():
    major, minor = (int(part) for part in keras.__version__.split(".")[:2])
    assert (major, minor) == (3, 15), f"Keras {keras.__version__}: re-run this file's checks, then move the pin"

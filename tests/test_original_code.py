"""--original_code computes the authors' arithmetic (models/original_code.py), checked against NumPy."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.c3d import student_c3d, teacher_c3d
from models.distiller import Distiller
from models.logits import ends_in_softmax
from models.original_code import logits_part, quiet_from_logits_warning, with_softmax
from utils.errors import InputError
from utils.training.trainer import compile_classifier

SHAPE = (16, 16, 16, 3)
EPSILON = 1e-7  # Keras's, with which KLDivergence clips both sides


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def authors_loss(labels, student_logits, teacher_probabilities, alpha, t):
    """KD_training.py and distiller.py of the authors' code, written out: networks ending in softmax, the hard
    cross-entropy taken (by Keras 2.7, from the logits the softmax cached) of the student's logits, the
    temperature dividing the two networks' probabilities, Keras's KLDivergence (clipped, batch mean), T²."""
    hard = np.mean(-np.log(softmax(student_logits)[np.arange(len(labels)), labels]))
    soft_teacher = np.clip(softmax(teacher_probabilities / t), EPSILON, 1)
    soft_student = np.clip(softmax(softmax(student_logits) / t), EPSILON, 1)
    kl = np.mean(np.sum(soft_teacher * np.log(soft_teacher / soft_student), axis=1))
    return alpha * hard + (1 - alpha) * kl * t ** 2, hard


def networks(seed=0, classes=5):
    keras.utils.set_random_seed(seed)
    student = with_softmax(student_c3d(classes, SHAPE, width=0.125))
    teacher = with_softmax(teacher_c3d(classes, SHAPE, width=0.125))
    return student, teacher


@pytest.mark.parametrize("alpha, temperature", [(0.1, 10.0), (0.1, 1.0), (0.5, 20.0), (0.0, 5.0)])
def test_distillation_loss_is_the_authors_arithmetic(alpha, temperature):
    quiet_from_logits_warning()
    student, teacher = networks()
    for offset, network in enumerate((student, teacher)):  # an untrained head's logits are all near 0
        kernel, bias = network.get_layer("logits").get_weights()
        network.get_layer("logits").set_weights([kernel * 300, np.random.default_rng(offset).normal(0, 3, bias.shape)])
    distiller = Distiller(student, teacher, original_code=True)
    distiller.compile(keras.optimizers.Adam(1e-3), alpha=alpha, temperature=temperature)
    rng = np.random.default_rng(int(10 * temperature))
    clips = rng.integers(0, 256, (6, *SHAPE), dtype=np.uint8)
    labels = rng.integers(0, 5, 6)
    teacher_probabilities = teacher(clips, training=False).numpy()
    inputs = {"frames": clips, "teacher_logits": teacher_probabilities}

    @tf.function  # as in training: the student's output is a graph tensor whose op is the softmax
    def loss(inputs, labels):
        return distiller.compute_loss(x=inputs, y=labels, y_pred=distiller(inputs, training=False), training=True)

    student_logits = logits_part(student)(clips, training=False).numpy()
    assert np.ptp(student_logits, axis=1).min() > 1
    want, hard = authors_loss(labels, student_logits, teacher_probabilities, alpha, temperature)
    assert float(loss(inputs, labels)) == pytest.approx(want, rel=1e-5, abs=1e-7)
    # The hard term is the cross-entropy of the logits, not of softmax(probabilities): the two differ here.
    double_softmax = np.mean(-np.log(softmax(softmax(student_logits))[np.arange(6), labels]))
    assert abs(hard - double_softmax) > 1e-3


def test_temperature_on_probabilities_leaves_almost_uniform_targets():
    """What the arithmetic does: at T = 10 even a one-hot teacher gives targets within 2% of uniform."""
    one_hot = np.eye(5)[[0, 1, 2]]
    targets = softmax(one_hot / 10.0)
    assert np.all(np.abs(targets - 0.2) < 0.02)
    assert not np.all(np.abs(softmax(10 * one_hot / 10.0) - 0.2) < 0.02)  # logits of the same teacher would not


def test_training_on_hard_labels_takes_the_same_step_as_the_logits_network():
    """Keras finds the logits under the softmax, as Keras 2.7 did: a step of the softmax network on hard labels
    changes its weights exactly as the same step of the network without it."""
    quiet_from_logits_warning()
    rng = np.random.default_rng(1)
    clips = rng.integers(0, 256, (4, *SHAPE), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3])
    updated = []
    for original in (False, True):
        keras.utils.set_random_seed(0)
        network = student_c3d(4, SHAPE, width=0.125)
        model = with_softmax(network) if original else network
        compile_classifier(model, 1e-3)
        model.train_on_batch(clips, labels)
        updated.append(network.get_weights())
    for corrected, original in zip(*updated):
        np.testing.assert_allclose(original, corrected, rtol=1e-5, atol=1e-7)


def test_logits_part_and_the_checks_of_each_mode():
    student, teacher = networks()
    assert ends_in_softmax(student) and not ends_in_softmax(logits_part(student))
    plain = student_c3d(5, SHAPE, width=0.125)
    assert logits_part(plain) is plain
    with pytest.raises(InputError, match="applies softmax"):
        Distiller(student, teacher)
    with pytest.raises(InputError, match="--original_code needs a network that ends in softmax"):
        Distiller(plain, teacher, original_code=True)


def test_softmax_and_logits_models_take_a_batch_as_their_network_does():
    """Called on a bare batch, as the network it wraps is, neither model warns that the input's structure is
    not the expected one (Keras's UserWarning when the wrapper's inputs are a list)."""
    student, _ = networks()
    clips = np.zeros((2, *SHAPE), np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probabilities = student(clips, training=False).numpy()
        logits = logits_part(student)(clips, training=False).numpy()
    np.testing.assert_allclose(probabilities, softmax(logits), rtol=1e-5, atol=1e-7)

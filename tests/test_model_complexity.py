"""FLOPs and parameters against hand counts and TensorFlow's profiler; the figures evaluate.py draws."""

import keras
import matplotlib.image
import numpy as np
import pytest

from models.c3d import student_c3d, teacher_c3d
from utils.evaluation.metrics import one_vs_rest_auc, softmax
from utils.evaluation.model_cost import (
    flops_per_clip,
    interleaved_median_seconds,
    layer_costs,
    parameter_count,
    profiler_flops,
)
from utils.evaluation.plots import (
    confusion_matrix_png,
    roc_png,
    temperature_sweep_png,
)
from utils.evaluation.seed_statistics import summarise
from utils.training.curves import training_curves_png


def tiny_model():
    frames = keras.Input((4, 6, 6, 2), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255)(frames)
    x = keras.layers.Conv3D(3, 3, padding="same", name="conv_a")(x)
    x = keras.layers.Conv3D(2, (1, 3, 3), padding="valid", use_bias=False, name="conv_b")(x)
    x = keras.layers.MaxPooling3D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5, name="head")(x)
    return keras.Model(frames, x)


def test_flops_of_a_tiny_conv3d_and_dense_model_equal_the_hand_count():
    model = tiny_model()
    rescale = 2 * (4 * 6 * 6 * 2)  # multiply and add per value
    conv_a = 2 * (4 * 6 * 6 * 3) * (3 * 3 * 3 * 2) + 4 * 6 * 6 * 3  # 2 per multiply-add, 1 per bias
    conv_b = 2 * (4 * 4 * 4 * 2) * (1 * 3 * 3 * 3)  # valid padding: 6x6 -> 4x4, no bias
    head = 2 * (2 * 2 * 2 * 2) * 5 + 5  # pooled 2x2x2x2 = 16 inputs
    costs = {cost.name: cost.flops for cost in layer_costs(model)}
    assert costs["conv_a"] == conv_a and costs["conv_b"] == conv_b and costs["head"] == head
    assert flops_per_clip(model) == rescale + conv_a + conv_b + head == profiler_flops(model)
    assert parameter_count(model) == {"parameters": (27 * 2 * 3 + 3) + 9 * 3 * 2 + (16 * 5 + 5),
                                      "trainable_parameters": 304}


@pytest.mark.parametrize("build", [teacher_c3d, student_c3d])
def test_c3d_flops_agree_with_tensorflows_profiler(build):
    model = build(7, (16, 32, 40, 3), width=0.5)
    assert flops_per_clip(model) == profiler_flops(model)


def test_paper_size_teacher_costs_the_known_c3d_figure_and_frozen_layers_are_not_trainable():
    teacher = teacher_c3d(101)
    # C3D at 16x112x112 is usually quoted as 38.5 G multiply-adds
    assert flops_per_clip(teacher) / 2 == pytest.approx(38.5e9, rel=0.01)
    for layer in teacher.layers[:-1]:
        layer.trainable = False
    counts = parameter_count(teacher)
    assert counts["trainable_parameters"] == 4096 * 101 + 101 < counts["parameters"]


def png_shape(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path).shape


@pytest.mark.parametrize("classes", [3, 101])
def test_confusion_matrix_and_roc_are_drawn_for_3_and_101_classes(tmp_path, classes):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(classes), 4)
    logits = rng.normal(size=(len(labels), classes))
    logits[np.arange(len(labels)), labels] += 2
    names = [f"Action{k:03d}" for k in range(classes)]
    probabilities = softmax(logits)
    height, width, _ = png_shape(confusion_matrix_png(labels, logits.argmax(1), names, tmp_path / "cm.png", "cm"))
    assert min(height, width) > (1000 if classes == 101 else 300)  # grows with the class count
    assert png_shape(roc_png(labels, probabilities, names, tmp_path / "roc.png", "roc",
                             one_vs_rest_auc(labels, probabilities)))[0] > 300
    assert not list(tmp_path.glob("*.partial"))


def test_training_curves_and_temperature_sweep(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n"
                       "0,0.2,0.001,1.8,0.1,1.9\n1,0.5,0.001,1.2,0.4,1.4\n")
    assert png_shape(training_curves_png(history, tmp_path / "curves.png", "run"))[1] > 600
    one_seed = {"Student-TFS": {1: summarise([0.5]), 5: summarise([0.6]), 10: summarise([0.7])}}
    assert png_shape(temperature_sweep_png(one_seed, {"TFS Teacher": summarise([0.8])}, tmp_path / "t.png",
                                           "sweep"))[0] > 300
    seeds = {"Student-TFS": {t: summarise([a, a + 0.05, a - 0.02]) for t, a in ((1, 0.5), (5, 0.6))}}
    plain = png_shape(temperature_sweep_png(seeds, {}, tmp_path / "seeds.png", "sweep"))
    assert plain[0] > 300 and (tmp_path / "seeds.png").read_bytes() != (tmp_path / "t.png").read_bytes()


def test_forms_are_timed_in_alternating_rounds_so_that_drift_meets_each_alike():
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in ("keras", "tflite")}
    seconds = interleaved_median_seconds(calls, runs=6, rounds=3)
    # each round: one untimed warm-up call and 2 timed calls of one form, then the other's
    assert order == (["keras"] * 3 + ["tflite"] * 3) * 3
    assert set(seconds) == {"keras", "tflite"} and all(value >= 0 for value in seconds.values())

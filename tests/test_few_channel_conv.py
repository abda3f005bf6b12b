"""models/few_channel_conv.py: conv1's per-time-tap filter gradient is TensorFlow's gradient up to float32
rounding, the layer is a Conv3D everywhere else (forward pass, input gradient, other dtypes, other CPU classes,
saving), and the C3D networks use it for conv1 only."""


import keras
import numpy as np
import pytest
import tensorflow as tf

import models.few_channel_conv as few_channel_conv
from models.bfloat16_conv import Bfloat16GuardedConv3D
from models.c3d import student_c3d, teacher_c3d
from models.few_channel_conv import FewChannelConv3D, planar_filter_gradient, uses_planar_gradient
from tests.scripts import run_code

AVX2_ONLY, AVX512 = ["avx2", "fma"], ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16"]


@pytest.fixture(autouse=True)
def avx2_only_cpu(monkeypatch):
    """The CPU class where the layer takes the per-tap path, whatever CPU runs the tests."""
    monkeypatch.setattr(few_channel_conv, "cpu_flags", lambda: AVX2_ONLY)


def gradients(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.square(y - 0.5))
    return (y, *tape.gradient(loss, [x, layer.kernel, layer.bias]))


def pair(filters, kernel_size, channels, **kwargs):
    ours = FewChannelConv3D(filters, kernel_size, padding="same", **kwargs)
    stock = keras.layers.Conv3D(filters, kernel_size, padding="same", **kwargs)
    shape = (None, 6, 9, 7, channels)
    assert uses_planar_gradient(filters, 9, 7)  # on the CPU the fixture pins: the per-tap path is the one tested
    ours.build(shape)
    stock.build(shape)
    stock.set_weights(ours.get_weights())
    return ours, stock


@pytest.mark.parametrize("filters, kernel_size, channels", [(4, 3, 3), (16, 3, 3), (5, (3, 5, 3), 2), (3, (5, 1, 3), 4)])
@pytest.mark.parametrize("batch", [1, 3])
def test_the_filter_gradient_is_tensorflows_and_the_rest_is_the_same_computation(filters, kernel_size, channels, batch):
    ours, stock = pair(filters, kernel_size, channels, activation="relu")
    x = tf.constant(np.random.default_rng(batch).random((batch, 6, 9, 7, channels), np.float32))
    (y, dx, dk, db), (y0, dx0, dk0, db0) = gradients(ours, x), gradients(stock, x)
    np.testing.assert_array_equal(y.numpy(), y0.numpy())  # the forward pass is TensorFlow's own
    np.testing.assert_array_equal(dx.numpy(), dx0.numpy())  # and so is the input gradient
    np.testing.assert_array_equal(db.numpy(), db0.numpy())
    assert dk.shape == dk0.shape
    np.testing.assert_allclose(dk.numpy(), dk0.numpy(), rtol=1e-5, atol=1e-5 * np.abs(dk0.numpy()).max())
    assert not np.array_equal(planar_filter_gradient(x, tf.ones_like(y), ours.kernel.shape), np.zeros(dk.shape))


def test_inside_a_compiled_training_step_with_an_unknown_batch_the_filter_gradient_matches():
    ours, stock = pair(8, 3, 3)

    @tf.function(input_signature=[tf.TensorSpec((None, 6, 9, 7, 3), tf.float32)])
    def kernel_gradients(x):
        result = []
        for layer in (ours, stock):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(layer(x) - 1.0))
            result.append(tape.gradient(loss, layer.kernel))
        return result

    mine, theirs = kernel_gradients(tf.constant(np.random.default_rng(0).random((5, 6, 9, 7, 3), np.float32)))
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_other_dtypes_settings_and_cpu_classes_take_tensorflows_own_path(monkeypatch):
    calls = []
    module = few_channel_conv
    real = module.conv3d_with_planar_filter_gradient
    monkeypatch.setattr(module, "conv3d_with_planar_filter_gradient", lambda *a: calls.append(1) or real(*a))
    x = np.random.default_rng(0).random((2, 4, 6, 6, 3), np.float32)
    FewChannelConv3D(4, 3, padding="same")(x)
    assert len(calls) == 1
    FewChannelConv3D(4, 3, padding="valid")(x)
    FewChannelConv3D(4, 3, padding="same", strides=2)(x)
    FewChannelConv3D(4, 3, padding="same", dtype="mixed_bfloat16")(x)
    assert len(calls) == 1
    FewChannelConv3D(16, 3, padding="same")(np.zeros((1, 3, 64, 64, 3), np.float32))  # 16 × 64 × 64: the budget
    FewChannelConv3D(4, 3, padding="same")(np.zeros((1, 3, 112, 112, 3), np.float32))
    assert len(calls) == 3
    FewChannelConv3D(32, 3, padding="same")(np.zeros((1, 3, 32, 32, 3), np.float32))  # over 16 filters
    FewChannelConv3D(16, 3, padding="same")(np.zeros((1, 3, 112, 112, 3), np.float32))  # the paper's student
    assert len(calls) == 3
    for flags in (AVX512, ["fma"], []):  # the 3-D kernel was the faster with AVX-512; not measured without AVX2
        monkeypatch.setattr(module, "cpu_flags", lambda: flags)
        FewChannelConv3D(4, 3, padding="same")(x)
        assert not uses_planar_gradient(4, 32, 32)
    monkeypatch.setattr(module, "cpu_flags", lambda: AVX2_ONLY)
    assert len(calls) == 3 and uses_planar_gradient(4, 32, 32)
    monkeypatch.setattr(module, "gpu_visible", lambda: True)  # measured on CPUs only
    FewChannelConv3D(4, 3, padding="same")(x)
    assert len(calls) == 3


def test_the_networks_use_it_for_conv1_alone_and_it_saves_and_loads_as_itself(tmp_path):
    for build in (student_c3d, teacher_c3d):
        model = build(5, (16, 32, 32, 3), width=0.125)
        kinds = {layer.name: type(layer) for layer in model.layers if isinstance(layer, keras.layers.Conv3D)}
        assert kinds.pop("conv1") is FewChannelConv3D and set(kinds.values()) == {Bfloat16GuardedConv3D}
    path = tmp_path / "student.keras"
    model.save(path)
    clips = np.random.default_rng(0).integers(0, 256, (2, 16, 32, 32, 3), np.uint8)
    np.save(tmp_path / "clips.npy", clips)
    np.save(tmp_path / "logits.npy", model.predict(clips, verbose=0))
    code = ("import sys, numpy as np, keras, models.c3d; m = keras.models.load_model(sys.argv[1]); "
            "assert type(m.get_layer('conv1')).__name__ == 'FewChannelConv3D'; "
            "assert type(m.get_layer('conv5a')).__name__ == 'Bfloat16GuardedConv3D'; "
            "np.testing.assert_allclose(m.predict(np.load(sys.argv[2]), verbose=0), np.load(sys.argv[3]), rtol=1e-6, "
            "atol=1e-6); print('loaded')")
    result = run_code(code, path, tmp_path / "clips.npy", tmp_path / "logits.npy", timeout=120)
    assert result.stdout.strip().endswith("loaded"), result.stderr[-2000:]

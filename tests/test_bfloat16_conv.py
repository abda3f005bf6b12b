"""models/bfloat16_conv.py: in bfloat16, the filter gradient at every input depth is the float32 one up to
bfloat16 rounding and the same from run to run (TensorFlow 2.21's own was neither at depth 2 on an AVX-512 BF16
CPU); the forward pass and the input gradient stay TensorFlow's, and float32 is layers.Conv3D exactly."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import models.bfloat16_conv as module
from models.bfloat16_conv import Bfloat16GuardedConv3D

RNG = np.random.default_rng(0)


def bfloat16_exact(shape, scale=1.0):
    """Random float32 values that bfloat16 holds exactly, so that both dtypes start from the same numbers."""
    return tf.cast(tf.cast(RNG.normal(size=shape).astype(np.float32) * scale, tf.bfloat16), tf.float32)


def gradients(layer, x, weight):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(layer(x), tf.float32)
        loss = tf.reduce_sum(y * weight)
    dx, dk = tape.gradient(loss, [x, layer.kernel])
    return y.numpy(), dx.numpy(), dk.numpy()


def built(kind, dtype, shape, filters, kernel=None):
    layer = kind(filters, 3, padding="same", dtype=dtype)
    layer.build(shape)
    layer.kernel.assign(kernel if kernel is not None else bfloat16_exact(layer.kernel.shape, 0.05))
    return layer


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("side, channels, batch", [(1, 32, 4), (3, 8, 2), (4, 64, 4)])
def test_the_bfloat16_filter_gradient_is_the_float32_one_at_every_depth(depth, side, channels, batch):
    shape = (batch, depth, side, side, channels)
    x, weight = bfloat16_exact(shape), bfloat16_exact((*shape[:-1], 16))
    reference = built(Bfloat16GuardedConv3D, "float32", shape, 16)
    guarded = built(Bfloat16GuardedConv3D, "mixed_bfloat16", shape, 16, reference.kernel)
    _, _, want = gradients(reference, x, weight)
    runs = [gradients(guarded, x, weight)[2] for _ in range(3)]
    for dk in runs:  # bfloat16 keeps 8 bits of mantissa: each product and the result lose ~0.4% each
        assert np.isfinite(dk).all()
        assert np.abs(dk - want).max() <= 0.03 * np.abs(want).max()
        np.testing.assert_array_equal(dk, runs[0])  # the same numbers every time


def test_only_the_filter_gradient_at_depth_two_in_bfloat16_leaves_tensorflows_path(monkeypatch):
    calls = []
    real = module.conv3d_with_float32_filter_gradient
    monkeypatch.setattr(module, "conv3d_with_float32_filter_gradient", lambda *a: calls.append(1) or real(*a))
    shape = (2, 2, 4, 4, 8)
    x, weight = bfloat16_exact(shape), bfloat16_exact((*shape[:-1], 8))
    guarded = built(Bfloat16GuardedConv3D, "mixed_bfloat16", shape, 8)
    stock = built(keras.layers.Conv3D, "mixed_bfloat16", shape, 8, guarded.kernel)
    (y, dx, _), (y0, dx0, _) = gradients(guarded, x, weight), gradients(stock, x, weight)
    assert len(calls) == 1
    np.testing.assert_array_equal(y, y0)  # the forward pass is TensorFlow's own
    np.testing.assert_array_equal(dx, dx0)  # and so is the input gradient
    for depth, dtype in ((3, "mixed_bfloat16"), (1, "mixed_bfloat16"), (2, "float32")):
        other = (2, depth, 4, 4, 8)
        ours = built(Bfloat16GuardedConv3D, dtype, other, 8)
        theirs = built(keras.layers.Conv3D, dtype, other, 8, ours.kernel)
        x, weight = bfloat16_exact(other), bfloat16_exact((*other[:-1], 8))
        for mine, stock_result in zip(gradients(ours, x, weight), gradients(theirs, x, weight)):
            np.testing.assert_array_equal(mine, stock_result)  # layers.Conv3D exactly
    assert len(calls) == 1
    monkeypatch.setattr(module, "gpu_visible", lambda: True)  # TensorFlow's GPU kernels were not found wrong
    built(Bfloat16GuardedConv3D, "mixed_bfloat16", shape, 8)(x[:, :2])
    assert len(calls) == 1

"""The same network in operations TensorFlow Lite runs natively and fast, for export.

Two rewrites, each numerically the same function as the Keras layer it replaces (the tests compare
them):

- **3-D max pooling** has no TFLite built-in: a converted C3D would need the "Select TF ops" (Flex)
  runtime, which phone builds usually leave out. A 3-D max pool with stride = window (all of C3D's)
  is a 2-D max pool over each frame, then a second one over each window's frames laid out as
  the rows of one image (two MAX_POOL_2D; strided slices would leave XNNPACK's graph).
- **3-D convolution** is a TFLite built-in, but a reference kernel that XNNPACK (TFLite's fast CPU
  backend) does not accelerate: the paper's student ran 3x slower in TFLite than in TensorFlow. A
  k_t×k_h×k_w convolution with 'same' padding and stride 1 is one 2-D convolution per frame over the
  k_t frames around it stacked along the channels (the kernel reshaped from (k_t, k_h, k_w, C, F)
  to (k_h, k_w, k_t·C, F)), with zero frames beyond the clip's ends: PAD, STRIDED_SLICE,
  CONCATENATION and CONV_2D, all of which XNNPACK runs (for the 3 colour channels of conv1, one
  CONV_2D with a 0/1 kernel does the stacking, faster than a concatenation of 3 values per pixel).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


@keras.saving.register_keras_serializable(package="har_kd")
class FrameThenTimeMaxPool(layers.Layer):
    """MaxPooling3D(pool_size, strides=pool_size, padding="valid") on NDHWC input, in ops of at most
    4 dimensions: MAX_POOL_2D per frame, then MAX_POOL_2D over each window's frames."""

    def __init__(self, pool_size, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(int(k) for k in pool_size)

    def call(self, x):
        kt, kh, kw = self.pool_size
        frames, height, width, channels = x.shape[1:]
        kept = (frames // kt) * kt
        if kept != frames:  # "valid": frames left over at the end are dropped, as MaxPooling3D does
            x = x[:, :kept]
        x = ops.reshape(x, (-1, height, width, channels))  # frames folded into the batch
        if (kh, kw) != (1, 1):
            x = ops.max_pool(x, (kh, kw), strides=(kh, kw), padding="valid")
            height, width = height // kh, width // kw
        if kt > 1:  # each window's frames as the rows of one image, pooled down to one row
            x = ops.reshape(x, (-1, kt, height * width, channels))
            x = ops.max_pool(x, (kt, 1), strides=(kt, 1), padding="valid")
        return ops.reshape(x, (-1, kept // kt, height, width, channels))

    def compute_output_shape(self, input_shape):
        batch, frames, height, width, channels = input_shape
        kt, kh, kw = self.pool_size
        return batch, frames // kt, height // kh, width // kw, channels

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}


@keras.saving.register_keras_serializable(package="har_kd")
class StackedFramesConv(layers.Layer):
    """Conv3D(filters, kernel_size, padding="same", strides=1) on NDHWC input as one CONV_2D over
    each frame with its time neighbours stacked along the channels (the module docstring)."""

    def __init__(self, filters: int, kernel_size, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.activation = keras.activations.get(activation)
        if self.kernel_size[0] % 2 == 0:
            raise ValueError(f"{self.name}: 'same' padding over an even number of frames is not supported")

    def build(self, input_shape):
        kt, kh, kw = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(kh, kw, kt * int(input_shape[-1]), self.filters))
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x):
        kt = self.kernel_size[0]
        frames, height, width, channels = x.shape[1:]
        if channels < FEW_CHANNELS:
            # A channel concatenation of a few values per pixel is slow; a 1-D convolution over
            # time with a 0/1 kernel stacks the same values (exactly: one product by 1, the rest
            # by 0) and pads the clip's ends itself, all in one XNNPACK operator.
            view = ops.reshape(x, (-1, frames, height * width, channels))
            stacked = ops.conv(view, ops.cast(time_stacking_kernel(kt, channels), x.dtype), padding="same")
        else:
            flat = ops.reshape(x, (-1, frames, height * width * channels))
            padded = ops.pad(flat, ((0, 0), (kt // 2, kt // 2), (0, 0)))
            stacked = ops.concatenate([ops.reshape(padded[:, shift:shift + frames], (-1, height, width, channels))
                                       for shift in range(kt)], axis=-1)
        stacked = ops.reshape(stacked, (-1, height, width, kt * channels))
        y = ops.conv(stacked, self.kernel, padding="same") + self.bias
        return ops.reshape(self.activation(y), (-1, frames, height, width, self.filters))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation)}


FEW_CHANNELS = 8  # below it, time neighbours are stacked by a convolution (conv1: 3 colour channels)


def time_stacking_kernel(frames: int, channels: int) -> np.ndarray:
    """(frames, 1, C, frames·C) kernel whose 'same' convolution over (time, pixels) puts frame t+s-frames//2's
    channel c at output channel s·C + c: StackedFramesConv's stacking order."""
    kernel = np.zeros((frames, 1, channels, frames * channels), np.float32)
    for shift in range(frames):
        kernel[shift, 0, np.arange(channels), shift * channels + np.arange(channels)] = 1.0
    return kernel


def stacked_kernel(conv3d_kernel: np.ndarray) -> np.ndarray:
    """A Conv3D kernel (k_t, k_h, k_w, C, F) as StackedFramesConv's (k_h, k_w, k_t·C, F)."""
    kt, kh, kw, channels, filters = conv3d_kernel.shape
    return conv3d_kernel.transpose(1, 2, 0, 3, 4).reshape(kh, kw, kt * channels, filters)


def _convertible_conv(layer) -> bool:
    return (isinstance(layer, layers.Conv3D) and layer.padding == "same" and tuple(layer.strides) == (1, 1, 1)
            and tuple(layer.dilation_rate) == (1, 1, 1) and layer.kernel_size[0] % 2 == 1 and layer.use_bias
            and layer.groups == 1)


def tflite_compatible(model: keras.Model) -> keras.Model:
    """A copy of a functional ``model`` with every MaxPooling3D a FrameThenTimeMaxPool and every
    'same'-padded, stride-1 Conv3D a StackedFramesConv; same weights, same outputs."""

    def clone(layer):
        if isinstance(layer, layers.MaxPooling3D):
            if tuple(layer.strides) != tuple(layer.pool_size) or layer.padding != "valid":
                raise ValueError(f"{layer.name}: only non-overlapping 'valid' pooling is supported")
            return FrameThenTimeMaxPool(layer.pool_size, name=layer.name)
        if _convertible_conv(layer):
            return StackedFramesConv(layer.filters, layer.kernel_size, layer.activation, name=layer.name,
                                     dtype=layer.dtype_policy)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    for source, target in zip(model.layers, copy.layers):
        weights = source.get_weights()
        if isinstance(target, StackedFramesConv):
            weights = [stacked_kernel(weights[0]), weights[1]]
        target.set_weights(weights)
    return copy

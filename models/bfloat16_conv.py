"""The C3D convolutions' layer: a Conv3D whose filter gradient is computed in float32 where TensorFlow's
bfloat16 one is wrong.

On a CPU, TensorFlow 2.21's bfloat16 3-D filter gradient (oneDNN's Conv3DBackpropFilterV2) returns wrong
values, different from run to run and sometimes NaN, when the input is 2 frames deep, which every C3D's
conv5a and conv5b are on 16-frame clips (docs/performance.md, "bfloat16 at depth 2"). The layer computes that
one gradient from float32 copies of its operands; the forward pass and the input gradient stay TensorFlow's
bfloat16 ones, and everything else is layers.Conv3D unchanged.
"""

from __future__ import annotations

import keras
from keras import layers

BROKEN_DEPTH = 2  # the input depth at which the bfloat16 filter gradient was wrong (depths 1-16 checked)


def gpu_visible() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))  # physical: listing them leaves the runtime unconfigured


def uses_float32_filter_gradient(layer: layers.Conv3D, inputs) -> bool:
    """Whether ``layer`` takes the float32 route for ``inputs``: bfloat16 compute, channels-last input
    BROKEN_DEPTH frames deep, no groups, TensorFlow on a machine without a GPU."""
    return (keras.backend.backend() == "tensorflow" and layer.data_format == "channels_last" and layer.groups == 1
            and inputs.shape[1] == BROKEN_DEPTH and keras.backend.standardize_dtype(inputs.dtype) == "bfloat16"
            and not gpu_visible())


def conv3d_with_float32_filter_gradient(convolve, x, kernel, strides, padding: str, dilations):
    """``convolve(x, kernel)`` with TensorFlow's input gradient and a filter gradient taken in float32."""
    import tensorflow as tf

    strides5, dilations5 = [1, *strides, 1], [1, *dilations, 1]

    @tf.custom_gradient
    def forward(x, kernel):
        def gradient(dy):
            dx = tf.raw_ops.Conv3DBackpropInputV2(input_sizes=tf.shape(x), filter=kernel, out_backprop=dy,
                                                  strides=strides5, padding=padding, dilations=dilations5)
            dk = tf.raw_ops.Conv3DBackpropFilterV2(input=tf.cast(x, "float32"), filter_sizes=tf.shape(kernel),
                                                   out_backprop=tf.cast(dy, "float32"), strides=strides5,
                                                   padding=padding, dilations=dilations5)
            return dx, tf.cast(dk, kernel.dtype)

        return convolve(x, kernel), gradient

    # tensors read from the variable, not the variable: the gradient reaches the variable through the read
    return forward(tf.convert_to_tensor(x), tf.convert_to_tensor(kernel))


@keras.saving.register_keras_serializable(package="har_kd")
class Bfloat16GuardedConv3D(layers.Conv3D):
    """layers.Conv3D with the float32 filter gradient of the module docstring where it applies."""

    def convolution_op(self, inputs, kernel):
        if not uses_float32_filter_gradient(self, inputs):
            return super().convolution_op(inputs, kernel)
        return conv3d_with_float32_filter_gradient(super().convolution_op, inputs, kernel, self.strides,
                                                   self.padding.upper(), self.dilation_rate)

"""The same network in operations TensorFlow Lite runs natively, for export.

TFLite has a built-in 3-D convolution but no 3-D max pooling: a converted C3D would need the
"Select TF ops" (Flex) runtime, which phone and microcontroller builds usually leave out and
TensorFlow's own Python interpreter cannot run. A 3-D max pool with stride = window (all of C3D's)
is a 2-D max pool over each frame followed by a max over groups of frames, both built in; the
result is identical, so the exported model needs nothing but TFLite's built-in operators.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="har_kd")
class FrameThenTimeMaxPool(layers.Layer):
    """MaxPooling3D(pool_size, strides=pool_size, padding="valid") on NDHWC input, as MAX_POOL_2D
    plus REDUCE_MAX on tensors of at most 4 dimensions."""

    def __init__(self, pool_size, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(int(k) for k in pool_size)

    def call(self, x):
        kt, kh, kw = self.pool_size
        frames, height, width, channels = x.shape[1:]
        kept = (frames // kt) * kt
        x = x[:, :kept]  # "valid": frames left over at the end are dropped, as MaxPooling3D does
        x = ops.reshape(x, (-1, height, width, channels))
        x = ops.max_pool(x, (kh, kw), strides=(kh, kw), padding="valid")
        height, width = height // kh, width // kw
        if kt > 1:
            x = ops.reshape(x, (-1, kt, height * width * channels))
            x = ops.max(x, axis=1)
        return ops.reshape(x, (-1, kept // kt, height, width, channels))

    def compute_output_shape(self, input_shape):
        batch, frames, height, width, channels = input_shape
        kt, kh, kw = self.pool_size
        return batch, frames // kt, height // kh, width // kw, channels

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}


def tflite_compatible(model: keras.Model) -> keras.Model:
    """A copy of a functional ``model`` whose MaxPooling3D layers are FrameThenTimeMaxPool; same
    weights, same outputs."""

    def clone(layer):
        if isinstance(layer, layers.MaxPooling3D):
            if tuple(layer.strides) != tuple(layer.pool_size) or layer.padding != "valid":
                raise ValueError(f"{layer.name}: only non-overlapping 'valid' pooling is supported")
            return FrameThenTimeMaxPool(layer.pool_size, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy

"""The paper's C3D teacher and 3D-CNN student, and C3D initialised from the Sports-1M Keras port.

Every model here takes raw uint8 RGB clips, shape (batch, T, H, W, 3), and outputs **logits**: the
distillation loss divides logits by the temperature, so a model that ends in softmax would soften
probabilities instead (the original code's defect). ``assert_outputs_logits`` lets the training
scripts refuse such a model.

Layer table (3x3x3 convolutions, stride 1, 'same' padding, ReLU; teacher / student filters):

    conv1 64/16   pool1 (1,2,2)
    conv2 128/32  pool2 (2,2,2)
    conv3a conv3b 256/32   pool3 (2,2,2)  dropout3 0.3/0.2
    conv4a conv4b 512/64   pool4 (2,2,2)  dropout4 0.3/0.2
    conv5a conv5b 512/128  zeropad5 (0,1,1)  pool5 (2,2,2)  dropout5 0.3/0.2
    flatten  fc6 4096/2048  dropout6 0.5  fc7 4096/1024  dropout7 0.5  logits (linear)

At 16x112x112 pool5 gives 1x4x4 cells, so flatten has 8192 (teacher) or 2048 (student) values.

Saved models load with ``keras.models.load_model`` once this module is imported: importing it registers
this project's layers with Keras (conv1's FewChannelConv3D, the other convolutions' Bfloat16GuardedConv3D, the
Sports-1M variant's Sports1MPreprocess). The Sports-1M weight files are read and written by models/sports1m.py;
the check that a model outputs logits is models/logits.py.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import layers

from models.bfloat16_conv import Bfloat16GuardedConv3D
from models.few_channel_conv import FewChannelConv3D
from utils.errors import InputError

DEFAULT_INPUT_SHAPE = (16, 112, 112, 3)

CONV_NAMES = ("conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b")
TEACHER_FILTERS = (64, 128, 256, 256, 512, 512, 512, 512)
STUDENT_FILTERS = (16, 32, 32, 32, 64, 64, 128, 128)
TEACHER_FC = (4096, 4096)
STUDENT_FC = (2048, 1024)
TEACHER_CONV_DROPOUT = 0.3
STUDENT_CONV_DROPOUT = 0.2
FC_DROPOUT = 0.5

# The smallest clip every pooling stage leaves at least one cell of (see pooled_sizes).
MIN_FRAMES = 16
MIN_SIDE = 16

SPORTS1M_CLASSES = 487
# Per-channel means in the port's channel order (B, G, R), 0-255 scale; see Sports1MPreprocess.
SPORTS1M_MEAN_BGR = (90.0, 98.0, 102.0)


# --------------------------------------------------------------------------------------------
# Input checks


def pooled_sizes(frames: int, height: int, width: int) -> list[tuple[str, tuple[int, int, int]]]:
    """(layer, (T, H, W)) after each stage that changes the size, as Keras computes it.

    'valid' pooling floors odd sizes; zeropad5 adds one row and one column before pool5.
    """
    t, h, w = frames, height, width
    sizes = []
    h, w = h // 2, w // 2
    sizes.append(("pool1", (t, h, w)))
    for name in ("pool2", "pool3", "pool4"):
        t, h, w = t // 2, h // 2, w // 2
        sizes.append((name, (t, h, w)))
    h, w = h + 1, w + 1
    sizes.append(("zeropad5", (t, h, w)))
    t, h, w = t // 2, h // 2, w // 2
    sizes.append(("pool5", (t, h, w)))
    return sizes


def check_input_shape(input_shape: Sequence[int]) -> tuple[int, int, int, int]:
    """The shape as a tuple of ints, or InputError if C3D cannot take it.

    Checked here because Keras would otherwise fail deep inside a pooling layer with a message
    about negative dimensions that does not say what the user should change.
    """
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise InputError(
            f"input shape {input_shape!r}: expected (frames, height, width, 3)") from None
    if len(shape) != 4 or min(shape) <= 0:
        raise InputError(
            f"input shape {shape}: expected four positive sizes (frames, height, width, 3)")
    frames, height, width, channels = shape
    if channels != 3:
        raise InputError(f"input shape {shape}: C3D takes RGB frames (3 channels), not {channels}")
    for layer, dims in pooled_sizes(frames, height, width):
        if min(dims) == 0:
            axis = ("frames", "height", "width")[dims.index(0)]
            raise InputError(
                f"input shape {shape}: C3D needs at least {MIN_FRAMES} frames of at least "
                f"{MIN_SIDE}x{MIN_SIDE} pixels; {layer} would reduce the {axis} to 0")
    return shape


def check_num_classes(num_classes: int) -> int:
    is_int = isinstance(num_classes, (int, np.integer)) and not isinstance(num_classes, bool)
    if not is_int or num_classes < 2:
        raise InputError(f"number of classes {num_classes!r}: a classifier needs at least 2")
    return int(num_classes)


def check_width(width: float) -> float:
    try:
        value = float(width)
    except (TypeError, ValueError):
        raise InputError(f"width {width!r}: expected a positive number") from None
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"width {width!r}: expected a positive number")
    return value


def scaled(units: int, width: float) -> int:
    return max(1, round(units * width))


# --------------------------------------------------------------------------------------------
# Preprocessing of the Sports-1M variant


@keras.saving.register_keras_serializable(package="har_kd")
class Sports1MPreprocess(layers.Layer):
    """Turns our uint8 RGB frames into what the Sports-1M C3D weights were trained on: BGR order, the 0-255
    scale, minus the per-channel means B 90, G 98, R 102 of C3D's Caffe training configuration (why these, and
    not the port's mean cube: docs/training.md, "Sports-1M weights"). ``scale`` (1 for the port) multiplies the
    result: a stand-in pre-trained with Adam needs inputs near unit scale, so models/sports1m.py trains at 1/255
    and folds the scale into conv1 when it writes the port's file.
    """

    def __init__(self, mean_bgr: Sequence[float] = SPORTS1M_MEAN_BGR, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if len(mean_bgr) != 3:
            raise ValueError(f"mean_bgr needs 3 values, got {mean_bgr!r}")
        self.mean_bgr = tuple(float(m) for m in mean_bgr)
        self.scale = float(scale)

    def call(self, frames):
        x = keras.ops.cast(frames, self.compute_dtype)
        x = keras.ops.flip(x, axis=-1)  # RGB -> BGR
        x = x - keras.ops.convert_to_tensor(self.mean_bgr, dtype=self.compute_dtype)
        return x if self.scale == 1.0 else x * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config["mean_bgr"] = list(self.mean_bgr)
        config["scale"] = self.scale
        return config


# --------------------------------------------------------------------------------------------
# Builders


def _c3d(*, name: str, num_classes: int, input_shape: Sequence[int], filters: Sequence[int],
         fc_units: Sequence[int], conv_dropout: float, preprocess: layers.Layer,
         head_name: str = "logits") -> keras.Model:
    """One builder for all variants, so the layer names the weight loader relies on never drift."""
    num_classes = check_num_classes(num_classes)
    shape = check_input_shape(input_shape)

    def conv(units: int, layer_name: str) -> layers.Layer:
        # RGB in: models/few_channel_conv.py; the others: models/bfloat16_conv.py
        kind = FewChannelConv3D if layer_name == "conv1" else Bfloat16GuardedConv3D
        return kind(units, 3, padding="same", activation="relu", name=layer_name)

    def pool(size: tuple[int, int, int], layer_name: str) -> layers.Layer:
        return layers.MaxPooling3D(pool_size=size, strides=size, padding="valid", name=layer_name)

    def block_dropout(x, layer_name: str):
        # The Sports-1M C3D has no dropout between conv blocks; adding one there would perturb the
        # frozen features, so conv_dropout=0 leaves the layer out.
        return layers.Dropout(conv_dropout, name=layer_name)(x) if conv_dropout > 0 else x

    c = dict(zip(CONV_NAMES, filters))
    frames = keras.Input(shape=shape, dtype="uint8", name="frames")
    x = preprocess(frames)
    x = conv(c["conv1"], "conv1")(x)
    x = pool((1, 2, 2), "pool1")(x)
    x = conv(c["conv2"], "conv2")(x)
    x = pool((2, 2, 2), "pool2")(x)
    x = conv(c["conv3a"], "conv3a")(x)
    x = conv(c["conv3b"], "conv3b")(x)
    x = pool((2, 2, 2), "pool3")(x)
    x = block_dropout(x, "dropout3")
    x = conv(c["conv4a"], "conv4a")(x)
    x = conv(c["conv4b"], "conv4b")(x)
    x = pool((2, 2, 2), "pool4")(x)
    x = block_dropout(x, "dropout4")
    x = conv(c["conv5a"], "conv5a")(x)
    x = conv(c["conv5b"], "conv5b")(x)
    x = layers.ZeroPadding3D(((0, 0), (0, 1), (0, 1)), name="zeropad5")(x)
    x = pool((2, 2, 2), "pool5")(x)
    x = block_dropout(x, "dropout5")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(fc_units[0], activation="relu", name="fc6")(x)
    x = layers.Dropout(FC_DROPOUT, name="dropout6")(x)
    x = layers.Dense(fc_units[1], activation="relu", name="fc7")(x)
    x = layers.Dropout(FC_DROPOUT, name="dropout7")(x)
    # float32 even under mixed precision: softmax, losses and the distillation temperature need its range
    logits = layers.Dense(num_classes, activation=None, name=head_name, dtype="float32")(x)
    return keras.Model(frames, logits, name=name)


def _pixels_to_unit_range() -> layers.Layer:
    # Rescaling casts the uint8 input to float32 itself, so no separate cast layer is needed.
    return layers.Rescaling(1.0 / 255, name="rescale")


def teacher_c3d(num_classes: int, input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
                width: float = 1.0) -> keras.Model:
    """The paper's C3D teacher (trained from scratch: "TFS"), outputting logits.

    Filters 64 · 128 · 256,256 · 512,512 · 512,512, fc 4096 → 4096 → num_classes, dropout
    0.3 after pool3-pool5 and 0.5 after fc6, fc7; about 78.0 M parameters for 11 classes.
    ``width`` scales every conv and fc size (not the classes), for quick experiments and tests.
    """
    width = check_width(width)
    return _c3d(name="teacher_c3d", num_classes=num_classes, input_shape=input_shape,
                filters=[scaled(f, width) for f in TEACHER_FILTERS],
                fc_units=[scaled(u, width) for u in TEACHER_FC],
                conv_dropout=TEACHER_CONV_DROPOUT, preprocess=_pixels_to_unit_range())


def student_c3d(num_classes: int, input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
                width: float = 1.0) -> keras.Model:
    """The paper's student: C3D's layout with 16 · 32 · 32,32 · 64,64 · 128,128 filters.

    fc 2048 → 1024 → num_classes, dropout 0.2 after pool3-pool5 and 0.5 after fc6, fc7; about
    7.2 M parameters for 11 classes. ``width`` as in teacher_c3d.
    """
    width = check_width(width)
    return _c3d(name="student_c3d", num_classes=num_classes, input_shape=input_shape,
                filters=[scaled(f, width) for f in STUDENT_FILTERS],
                fc_units=[scaled(u, width) for u in STUDENT_FC],
                conv_dropout=STUDENT_CONV_DROPOUT, preprocess=_pixels_to_unit_range())


def sports1m_architecture(num_classes: int, input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
                          width: float = 1.0, head_name: str = "logits", input_scale: float = 1.0) -> keras.Model:
    """C3D as the public Sports-1M Keras port lays it out: no dropout between conv blocks, 0.5 after
    fc6 and fc7, Sports1MPreprocess instead of /255; ``head_name`` 'fc8' for the port's own head.

    Weights are loaded (and the TUTL teacher frozen) by models/sports1m.py.
    """
    width = check_width(width)
    return _c3d(name="sports1m_c3d" if head_name == "logits" else "sports1m_c3d_full", num_classes=num_classes,
                input_shape=input_shape, filters=[scaled(f, width) for f in TEACHER_FILTERS],
                fc_units=[scaled(u, width) for u in TEACHER_FC], conv_dropout=0.0,
                preprocess=Sports1MPreprocess(scale=input_scale, name="sports1m_preprocess"), head_name=head_name)

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

Saved models load with plain ``keras.models.load_model``; for the Sports-1M variant import this
module first, since importing it is what registers the Sports1MPreprocess layer with Keras.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import keras
import numpy as np
from keras import layers

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
# Layers the Sports-1M port provides and we transplant; its fc8 (487-way) is only used by
# sports1m_c3d_full.
SPORTS1M_LAYERS = CONV_NAMES + ("fc6", "fc7")
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
    """Turns our uint8 RGB frames into what the Sports-1M C3D weights were trained on.

    The weights come from the Caffe C3D model (Tran et al. 2015), which read frames with OpenCV,
    so in **BGR** order, kept pixels on the **0-255** scale and subtracted the training-set mean.
    The conversions behind sports1M_weights_tf.h5 (Caffe -> Theano Keras -> TensorFlow Keras)
    transpose axes and flip kernels spatially but never permute conv1's input channels, and the
    port authors' own readers (axon-research/c3d-keras, the ActivityNet 2016 code of the Theano
    port's author) feed OpenCV frames: the port expects BGR, 0-255, minus the mean.

    The mean: Caffe subtracted a 16x128x171 mean cube; Keras users of these weights subtract that
    cube or its per-channel average (the ActivityNet code averages it over time, height and
    width). The cube is not available offline, so we use the per-channel values B 90, G 98, R 102
    that C3D's Caffe training configuration gives as ``mean_value`` (chuckcho/video-caffe, the C3D
    UCF-101 example; common PyTorch C3D code subtracts the same numbers from OpenCV frames). A
    per-channel mean also suits our 112x112 frames, to which the cube's 128x171 layout does not
    apply.
    """

    def __init__(self, mean_bgr: Sequence[float] = SPORTS1M_MEAN_BGR, **kwargs):
        super().__init__(**kwargs)
        if len(mean_bgr) != 3:
            raise ValueError(f"mean_bgr needs 3 values, got {mean_bgr!r}")
        self.mean_bgr = tuple(float(m) for m in mean_bgr)

    def call(self, frames):
        x = keras.ops.cast(frames, self.compute_dtype)
        x = keras.ops.flip(x, axis=-1)  # RGB -> BGR
        return x - keras.ops.convert_to_tensor(self.mean_bgr, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config["mean_bgr"] = list(self.mean_bgr)
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
        return layers.Conv3D(units, 3, padding="same", activation="relu", name=layer_name)

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


def sports1m_c3d(num_classes: int, weights_path: str | os.PathLike,
                 input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE) -> keras.Model:
    """The paper's transfer-learning teacher ("TUTL"): Sports-1M C3D, frozen through fc7, new head.

    Layers as the public Keras port (C3D with no dropout between conv blocks, 0.5 after fc6 and
    fc7), with Sports1MPreprocess instead of /255. conv1 … fc7 take the port's weights and are
    frozen; only the new linear 'logits' Dense(num_classes) trains, replacing the 487-way fc8.
    The weights fit 16x112x112 clips only: fc6's input size follows the clip size.
    """
    require_weights_file(weights_path)
    model = _c3d(name="sports1m_c3d", num_classes=num_classes, input_shape=input_shape,
                 filters=TEACHER_FILTERS, fc_units=TEACHER_FC, conv_dropout=0.0,
                 preprocess=Sports1MPreprocess(name="sports1m_preprocess"))
    load_sports1m_weights(model, weights_path)
    for layer in model.layers:
        if layer.name != "logits":
            layer.trainable = False
    return model


def sports1m_c3d_full(weights_path: str | os.PathLike | None = None,
                      input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE) -> keras.Model:
    """The port's whole 487-way Sports-1M classifier, its last layer 'fc8' giving logits.

    For checking the weights and the preprocessing on Sports-1M itself; nothing is frozen.
    """
    if weights_path is not None:
        require_weights_file(weights_path)
    model = _c3d(name="sports1m_c3d_full", num_classes=SPORTS1M_CLASSES, input_shape=input_shape,
                 filters=TEACHER_FILTERS, fc_units=TEACHER_FC, conv_dropout=0.0,
                 preprocess=Sports1MPreprocess(name="sports1m_preprocess"), head_name="fc8")
    if weights_path is not None:
        load_sports1m_weights(model, weights_path)
    return model


# --------------------------------------------------------------------------------------------
# Logits, not probabilities


def _output_operation(model: keras.Model):
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) == 1 and hasattr(outputs[0], "_keras_history"):
        operation = outputs[0]._keras_history[0]
    else:
        operation = model.layers[-1]
    if isinstance(operation, keras.Model):
        return _output_operation(operation)
    return operation


def _activation_name(activation) -> str:
    return getattr(activation, "__name__", type(activation).__name__).lower()


def ends_in_softmax(model: keras.Model) -> bool:
    """Whether the model's output comes out of a softmax (layer, activation or keras.ops call)."""
    operation = _output_operation(model)
    if type(operation).__name__.lower() in {"softmax", "logsoftmax"}:
        return True
    activation = getattr(operation, "activation", None)
    return activation is not None and _activation_name(activation) in {"softmax", "log_softmax"}


def assert_outputs_logits(model: keras.Model, what: str = "model") -> None:
    """InputError unless the model ends in a layer with no activation (logits).

    The distillation loss divides logits by the temperature; on probabilities that is not the
    softened distribution the method means, and training would silently be wrong.
    """
    operation = _output_operation(model)
    label = f"{what} ({model.name})"
    if ends_in_softmax(model):
        raise InputError(f"{label}: its output layer '{operation.name}' applies softmax; "
                         f"the models here must output logits (a final Dense with no activation)")
    activation = getattr(operation, "activation", None)
    if activation is not None and _activation_name(activation) != "linear":
        raise InputError(f"{label}: its output layer '{operation.name}' applies "
                         f"{_activation_name(activation)}; the models here must output logits")


def load_logits_model(path: str | os.PathLike, what: str) -> keras.Model:
    """A saved model checked to output logits; InputError (one line) for a file Keras cannot load.

    Importing this module has registered Sports1MPreprocess, so TUTL teachers load too.
    """
    try:
        model = keras.models.load_model(path)
    except Exception as error:  # noqa: BLE001  Keras raises many types for a bad file
        reason = " ".join(str(error).split())  # Keras messages span lines; the contract is one
        raise InputError(f"{what} {path}: cannot be loaded as a Keras model ({reason[:300]})") from None
    assert_outputs_logits(model, f"{what} {path}")
    return model


# --------------------------------------------------------------------------------------------
# Sports-1M weights (the public Keras port's sports1M_weights_tf.h5)


def require_weights_file(path: str | os.PathLike) -> Path:
    """Fail before building a 78 M-parameter model if the weights are not there."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: weights file not found (the Sports-1M C3D weights are the "
                         f"public Keras port's sports1M_weights_tf.h5, which this project does "
                         f"not download)")
    return path


def _decode(names: Iterable) -> list[str]:
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def _datasets_of(group: h5py.Group) -> list[h5py.Dataset]:
    """A layer's arrays: in 'weight_names' order when Keras wrote it, else every dataset below."""
    if "weight_names" in group.attrs:
        found = [group.get(name) for name in _decode(group.attrs["weight_names"])]
        if found and all(isinstance(d, h5py.Dataset) for d in found):
            return found
    datasets: list[h5py.Dataset] = []
    group.visititems(lambda _, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
    return datasets


def _weight_groups(root: h5py.Group) -> dict[str, list[h5py.Dataset]]:
    """Layer name -> its arrays, for every layer of the file that has any, in the file's order."""
    if isinstance(root.get("model_weights"), h5py.Group):  # a whole model saved with model.save
        root = root["model_weights"]
    names = _decode(root.attrs["layer_names"]) if "layer_names" in root.attrs else list(root.keys())
    groups = {}
    for name in names:
        group = root.get(name)
        if isinstance(group, h5py.Group):
            datasets = _datasets_of(group)
            if datasets:
                groups[name] = datasets
    return groups


def _kernel_and_bias(path: Path, name: str, datasets: list[h5py.Dataset]):
    if len(datasets) != 2:
        raise InputError(f"{path}: layer {name} holds {len(datasets)} arrays, expected a kernel "
                         f"and a bias")
    first, second = datasets
    if first.ndim == 1 and second.ndim > 1:
        first, second = second, first
    return first, second


def _shape_problem(name: str, kind: str, stored: tuple, expected: tuple) -> str:
    problem = f"layer {name} {kind} has shape {stored} but the model expects {expected}"
    if kind == "kernel" and sorted(stored) == sorted(expected):
        problem += " (the axes look reordered: use the TensorFlow-ordered file)"
    elif name == "fc6" and kind == "kernel" and stored[1:] == expected[1:]:
        problem += (" (fc6's input size follows the clip size; the Sports-1M weights need "
                    "16x112x112 clips)")
    return problem


def load_sports1m_weights(model: keras.Model, path: str | os.PathLike) -> list[str]:
    """Copy the port's conv1 … fc7 (and fc8 if the model has a layer of that name) into ``model``.

    Reads the Keras 2 HDF5 layout (a group per layer, attrs 'layer_names' and 'weight_names',
    arrays at /conv1/conv1/kernel:0) and tolerates other nestings and a 'model_weights' group.
    A file whose layers have other names but the same order also loads, as Keras 2's
    ``load_weights`` matched layers by order. Every shape is checked before any weight changes.
    Returns the names of the layers set.
    """
    path = require_weights_file(path)
    model_layers = {layer.name for layer in model.layers}
    missing_in_model = [name for name in SPORTS1M_LAYERS if name not in model_layers]
    if missing_in_model:
        raise ValueError(f"model {model.name} has no layer {missing_in_model[0]}")
    wanted = [name for name in SPORTS1M_LAYERS + ("fc8",) if name in model_layers]
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{path}: not a readable HDF5 file ({detail})") from None
    with handle:
        groups = _weight_groups(handle)
        if not groups:
            raise InputError(f"{path}: no layer weights found in the file")
        port_layers = SPORTS1M_LAYERS + ("fc8",)
        if "conv1" not in groups and len(groups) in (len(port_layers) - 1, len(port_layers)):
            groups = dict(zip(port_layers, groups.values()))
        pairs = []
        for name in wanted:
            if name not in groups:
                raise InputError(f"{path}: layer {name} is not in the file (it has "
                                 f"{', '.join(list(groups)[:12])})")
            kernel, bias = _kernel_and_bias(path, name, groups[name])
            layer = model.get_layer(name)
            expected = [tuple(int(d) for d in w.shape) for w in layer.weights]
            for kind, stored, shape in (("kernel", kernel.shape, expected[0]),
                                        ("bias", bias.shape, expected[1])):
                if tuple(stored) != shape:
                    raise InputError(f"{path}: {_shape_problem(name, kind, tuple(stored), shape)}")
            pairs.append((layer, kernel, bias))
        values = []
        for layer, kernel, bias in pairs:
            arrays = [np.asarray(kernel, dtype=np.float32), np.asarray(bias, dtype=np.float32)]
            if not all(np.isfinite(a).all() for a in arrays):
                raise InputError(f"{path}: layer {layer.name} has non-finite weights")
            values.append((layer, arrays))
    for layer, arrays in values:
        layer.set_weights(arrays)
    return wanted

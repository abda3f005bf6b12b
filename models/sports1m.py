"""C3D with Sports-1M weights: the public Keras port's weight file, read and written.

The file is ``sports1M_weights_tf.h5`` of the Keras C3D port (Keras 2 ``save_weights`` layout: a
group per layer, attrs 'layer_names' and 'weight_names', arrays at /conv1/conv1/kernel:0, layers
conv1 ... fc8 with TensorFlow-ordered kernels). This project reads it for the paper's TUTL teacher
and writes the same layout for its stand-in pre-trained on synthetic actions
(pretrain_teacher.py), whose width may be below the port's: the width is read from the file
(conv1's filters / 64), and fc6's input size follows the clip size the weights were trained on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import h5py
import keras
import numpy as np

from models.c3d import CONV_NAMES, DEFAULT_INPUT_SHAPE, SPORTS1M_CLASSES, TEACHER_FILTERS, sports1m_architecture
from utils.errors import InputError

# Layers the port provides and we transplant; its fc8 is only used by sports1m_c3d_full.
SPORTS1M_LAYERS = CONV_NAMES + ("fc6", "fc7")
PORT_LAYERS = SPORTS1M_LAYERS + ("fc8",)
# The port's full layer list, weightless layers included, in the order its file lists them.
PORT_LAYER_ORDER = ("conv1", "pool1", "conv2", "pool2", "conv3a", "conv3b", "pool3", "conv4a", "conv4b", "pool4",
                    "conv5a", "conv5b", "zero_padding3d_1", "pool5", "flatten_1", "fc6", "dropout_1", "fc7",
                    "dropout_2", "fc8")


def sports1m_c3d(num_classes: int, weights_path: str | os.PathLike,
                 input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE) -> keras.Model:
    """The paper's transfer-learning teacher ("TUTL"): Sports-1M C3D, frozen through fc7, new head.

    conv1 ... fc7 take the file's weights and are frozen; only the new linear 'logits'
    Dense(num_classes) trains, replacing fc8. The port's weights fit 16x112x112 clips only
    (fc6's input size follows the clip size); a stand-in fits the clips it was trained on.
    """
    width = port_width(weights_path)
    model = sports1m_architecture(num_classes, input_shape, width=width)
    load_sports1m_weights(model, weights_path)
    for layer in model.layers:
        if layer.name != "logits":
            layer.trainable = False
    return model


def sports1m_c3d_full(weights_path: str | os.PathLike | None = None,
                      input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE, width: float | None = None,
                      num_classes: int = SPORTS1M_CLASSES, input_scale: float = 1.0) -> keras.Model:
    """The port's whole classifier, its last layer 'fc8' giving logits; nothing is frozen.

    With a file, its width and head size are the file's; without one, a fresh model of ``width``
    (default 1.0) and ``num_classes`` (default Sports-1M's 487), e.g. to pre-train a stand-in, for
    which ``input_scale`` 1/255 gives Adam inputs of unit scale (see Sports1MPreprocess).
    """
    if weights_path is not None:
        width = port_width(weights_path)
        num_classes = _head_classes(weights_path)
    model = sports1m_architecture(num_classes, input_shape, width=width or 1.0, head_name="fc8",
                                  input_scale=input_scale)
    if weights_path is not None:
        load_sports1m_weights(model, weights_path)
    return model


def port_width(path: str | os.PathLike) -> float:
    """The channel multiplier of a port-layout file: conv1's filters over the port's 64."""
    groups = _read_groups(path, lambda groups: {name: [d.shape for d in datasets] for name, datasets in groups.items()})
    kernel_shape = next((s for s in groups.get("conv1", []) if len(s) == 5), None)
    if kernel_shape is None:
        return 1.0  # let load_sports1m_weights name what is missing
    return kernel_shape[-1] / TEACHER_FILTERS[0]


def weights_pretext(path: str | os.PathLike) -> dict | None:
    """What a stand-in written by write_sports1m_weights was trained on; None for other files."""
    import json

    path = require_weights_file(path)
    try:
        with h5py.File(path, "r") as handle:
            text = handle.attrs.get(PRETEXT_ATTRIBUTE)
    except OSError:
        return None  # load_sports1m_weights reports an unreadable file
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise InputError(f"{path}: attribute {PRETEXT_ATTRIBUTE} is not valid JSON") from None


def _head_classes(path: str | os.PathLike) -> int:
    shapes = _read_groups(path, lambda groups: [d.shape for d in groups.get("fc8", [])])
    vectors = [s for s in shapes if len(s) == 1]
    if not vectors:
        raise InputError(f"{path}: layer fc8 is not in the file")
    return int(vectors[0][0])


PRETEXT_ATTRIBUTE = "har_kd_pretext"  # what a stand-in was trained on (JSON); the real port has none


def write_sports1m_weights(model: keras.Model, path: str | os.PathLike, pretext: dict | None = None) -> Path:
    """Write conv1 ... fc8 of ``model`` in the port's layout (readable by load_sports1m_weights and by
    Keras 2's ``load_weights`` on the port's model), via a temporary name; ``pretext`` describes
    what the weights were trained on, stored as an attribute the port's readers ignore. A model
    trained with a scaled preprocessing has the scale folded into conv1, so the file expects the
    port's 0-255 input."""
    import json

    from utils.atomic_files import atomic_path

    path = Path(path)
    scale = getattr(model.get_layer("sports1m_preprocess"), "scale", 1.0) if any(
        layer.name == "sports1m_preprocess" for layer in model.layers) else 1.0
    with atomic_path(path) as temporary, h5py.File(temporary, "w") as handle:
        if pretext is not None:
            handle.attrs[PRETEXT_ATTRIBUTE] = json.dumps(pretext)
        handle.attrs["layer_names"] = np.array([name.encode() for name in PORT_LAYER_ORDER])
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["keras_version"] = keras.__version__.encode()
        for name in PORT_LAYER_ORDER:
            group = handle.create_group(name)
            if name not in PORT_LAYERS:
                group.attrs["weight_names"] = np.array([], dtype="S8")
                continue
            kernel, bias = (np.asarray(w, np.float32) for w in model.get_layer(name).get_weights())
            if name == "conv1":
                kernel = kernel * np.float32(scale)  # conv1(scale * x) = (scale * conv1)(x)
            group.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()])
            group.create_dataset(f"{name}/kernel:0", data=kernel)
            group.create_dataset(f"{name}/bias:0", data=bias)
    return path


def _read_groups(path: str | os.PathLike, read):
    """``read(groups)`` on the file's layer name -> arrays, names by order for a renamed file."""
    path = require_weights_file(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{path}: not a readable HDF5 file ({detail})") from None
    with handle:
        groups = _weight_groups(handle)
        if "conv1" not in groups and len(groups) in (len(PORT_LAYERS) - 1, len(PORT_LAYERS)):
            groups = dict(zip(PORT_LAYERS, groups.values()))
        return read(groups)


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
        problem += (" (fc6's input size follows the clip size: these weights were made for other clips; "
                    "the port's Sports-1M weights need 16x112x112)")
    return problem


def load_sports1m_weights(model: keras.Model, path: str | os.PathLike) -> list[str]:
    """Copy the port's conv1 … fc7 (and fc8 if the model has a layer of that name) into ``model``.

    Reads the Keras 2 HDF5 layout (a group per layer, attrs 'layer_names' and 'weight_names',
    arrays at /conv1/conv1/kernel:0) and tolerates other nestings and a 'model_weights' group.
    A file whose layers have other names but the same order also loads, as Keras 2's
    ``load_weights`` matched layers by order. Every shape is checked before any weight changes.
    Returns the names of the layers set.
    """
    model_layers = {layer.name for layer in model.layers}
    missing_in_model = [name for name in SPORTS1M_LAYERS if name not in model_layers]
    if missing_in_model:
        raise ValueError(f"model {model.name} has no layer {missing_in_model[0]}")
    wanted = [name for name in PORT_LAYERS if name in model_layers]

    def checked_arrays(groups: dict[str, list[h5py.Dataset]]) -> list:
        if not groups:
            raise InputError(f"{path}: no layer weights found in the file")
        pairs = []
        for name in wanted:
            if name not in groups:
                raise InputError(f"{path}: layer {name} is not in the file (it has "
                                 f"{', '.join(list(groups)[:12])})")
            kernel, bias = _kernel_and_bias(path, name, groups[name])
            layer = model.get_layer(name)
            expected = [tuple(int(d) for d in w.shape) for w in layer.weights]
            for kind, stored, shape in (("kernel", kernel.shape, expected[0]), ("bias", bias.shape, expected[1])):
                if tuple(stored) != shape:
                    raise InputError(f"{path}: {_shape_problem(name, kind, tuple(stored), shape)}")
            pairs.append((layer, kernel, bias))
        values = []
        for layer, kernel, bias in pairs:
            arrays = [np.asarray(kernel, dtype=np.float32), np.asarray(bias, dtype=np.float32)]
            if not all(np.isfinite(a).all() for a in arrays):
                raise InputError(f"{path}: layer {layer.name} has non-finite weights")
            values.append((layer, arrays))
        return values

    values = _read_groups(path, checked_arrays)
    for layer, arrays in values:
        layer.set_weights(arrays)
    return wanted

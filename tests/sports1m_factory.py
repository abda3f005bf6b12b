"""Weight files in the layout of the public Keras C3D port (sports1M_weights_tf.h5), written by tests."""

import h5py
import numpy as np

CONVS = ["conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b"]


def port_shapes(flat_cells, filters=(64, 128, 256, 256, 512, 512, 512, 512), fc=(4096, 4096),
                classes=487):
    """Kernel and bias shapes of the port's layers, TensorFlow order (t, h, w, in, out)."""
    shapes = {}
    channels = [3] + list(filters)
    for name, cin, cout in zip(CONVS, channels, channels[1:]):
        shapes[name] = ((3, 3, 3, cin, cout), (cout,))
    shapes["fc6"] = ((flat_cells * filters[-1], fc[0]), (fc[0],))
    shapes["fc7"] = ((fc[0], fc[1]), (fc[1],))
    shapes["fc8"] = ((fc[1], classes), (classes,))
    return shapes


def random_weights(shapes, seed=1):
    rng = np.random.default_rng(seed)
    return {name: tuple((rng.standard_normal(s, dtype=np.float32) * 0.02) for s in pair)
            for name, pair in shapes.items()}


def write_keras2_file(path, weights, names=None, compression=None):
    """Keras 2's save_weights layout: a group per layer, arrays at /conv1/conv1/kernel:0.

    ``compression="gzip"`` with constant weights (``constant_weights``) keeps a full-size file
    to a few hundred kB."""
    names = names or {name: name for name in weights}
    order = ["conv1", "pool1", "conv2", "pool2", "conv3a", "conv3b", "pool3", "conv4a", "conv4b",
             "pool4", "conv5a", "conv5b", "zero_padding3d_1", "pool5", "flatten_1", "fc6",
             "dropout_1", "fc7", "dropout_2", "fc8"]
    stored = [names.get(layer, layer) for layer in order]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in stored])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.0.8"
        for layer, name in zip(order, stored):
            group = f.create_group(name)
            if layer not in weights:
                group.attrs["weight_names"] = np.array([], dtype="S8")
                continue
            kernel, bias = weights[layer]
            group.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode(),
                                                    f"{name}/bias:0".encode()])
            group.create_dataset(f"{name}/kernel:0", data=kernel, compression=compression)
            group.create_dataset(f"{name}/bias:0", data=bias, compression=compression)


def constant_weights(shapes, value=0.001):
    """Weights that compress to almost nothing: a Sports-1M-sized file for tests that only need it to load."""
    return {name: tuple(np.full(s, value, np.float32) for s in pair) for name, pair in shapes.items()}

"""C3D teacher, student and Sports-1M variant: layer sizes, parameter counts, logits, weights."""

import h5py
import keras
import numpy as np
import pytest

from models.c3d import Sports1MPreprocess, student_c3d, teacher_c3d
from models.logits import assert_outputs_logits, ends_in_softmax
from models.sports1m import load_sports1m_weights, sports1m_c3d, sports1m_c3d_full
from tests.sports1m_factory import CONVS, port_shapes, random_weights, write_keras2_file
from utils.errors import InputError

SMALL = (16, 32, 32, 3)


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(0)


def conv_params(cin, cout):
    return 3 * 3 * 3 * cin * cout + cout


def dense_params(n_in, n_out):
    return n_in * n_out + n_out


def hand_count(filters, fc6, fc7, classes):
    """Parameters of the C3D layout at 16x112x112: pool5 leaves 1x4x4 cells of filters[-1]."""
    channels = [3] + list(filters)
    convs = sum(conv_params(cin, cout) for cin, cout in zip(channels, channels[1:]))
    flat = 1 * 4 * 4 * filters[-1]
    return convs + dense_params(flat, fc6) + dense_params(fc6, fc7) + dense_params(fc7, classes)


def output_shapes(model):
    return {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}


def clips(n, shape=SMALL, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# Architecture


def test_teacher_layer_shapes_and_parameter_count():
    model = teacher_c3d(11)
    shapes = output_shapes(model)
    assert shapes["conv1"] == (16, 112, 112, 64)
    assert shapes["pool1"] == (16, 56, 56, 64)
    assert shapes["conv2"] == (16, 56, 56, 128)
    assert shapes["pool2"] == (8, 28, 28, 128)
    assert shapes["conv3a"] == shapes["conv3b"] == (8, 28, 28, 256)
    assert shapes["pool3"] == shapes["dropout3"] == (4, 14, 14, 256)
    assert shapes["conv4a"] == shapes["conv4b"] == (4, 14, 14, 512)
    assert shapes["pool4"] == shapes["dropout4"] == (2, 7, 7, 512)
    assert shapes["conv5a"] == shapes["conv5b"] == (2, 7, 7, 512)
    assert shapes["zeropad5"] == (2, 8, 8, 512)
    assert shapes["pool5"] == shapes["dropout5"] == (1, 4, 4, 512)
    assert shapes["flatten"] == (8192,)
    assert shapes["fc6"] == shapes["fc7"] == (4096,)
    assert shapes["logits"] == (11,)

    # 3x3x3 convs: 5248 + 221312 + 884992 + 1769728 + 3539456 + 3 * 7078400 = 27655936;
    # fc6 8192*4096+4096 = 33558528; fc7 16781312; logits 4096*11+11 = 45067.
    expected = hand_count([64, 128, 256, 256, 512, 512, 512, 512], 4096, 4096, 11)
    assert expected == 27655936 + 33558528 + 16781312 + 45067 == 78040843
    assert model.count_params() == expected


def test_student_layer_shapes_and_parameter_count():
    model = student_c3d(11)
    shapes = output_shapes(model)
    assert shapes["conv1"] == (16, 112, 112, 16)
    assert shapes["pool1"] == (16, 56, 56, 16)
    assert shapes["pool2"] == (8, 28, 28, 32)
    assert shapes["pool3"] == (4, 14, 14, 32)
    assert shapes["pool4"] == (2, 7, 7, 64)
    assert shapes["zeropad5"] == (2, 8, 8, 128)
    assert shapes["pool5"] == (1, 4, 4, 128)
    assert shapes["flatten"] == (2048,)
    assert shapes["fc6"] == (2048,)
    assert shapes["fc7"] == (1024,)
    assert shapes["logits"] == (11,)

    # convs: 1312 + 13856 + 27680 + 27680 + 55360 + 110656 + 221312 + 442496 = 900352;
    # fc6 2048*2048+2048 = 4196352; fc7 2048*1024+1024 = 2098176; logits 1024*11+11 = 11275.
    expected = hand_count([16, 32, 32, 32, 64, 64, 128, 128], 2048, 1024, 11)
    assert expected == 900352 + 4196352 + 2098176 + 11275 == 7206155
    assert model.count_params() == expected


@pytest.mark.parametrize("build, conv_rate", [(teacher_c3d, 0.3), (student_c3d, 0.2)])
def test_layer_order_dropout_rates_and_pooling(build, conv_rate):
    model = build(5, SMALL, 0.25)
    assert [layer.name for layer in model.layers] == [
        "frames", "rescale", "conv1", "pool1", "conv2", "pool2", "conv3a", "conv3b", "pool3",
        "dropout3", "conv4a", "conv4b", "pool4", "dropout4", "conv5a", "conv5b", "zeropad5",
        "pool5", "dropout5", "flatten", "fc6", "dropout6", "fc7", "dropout7", "logits"]
    rates = {name: model.get_layer(name).rate for name in
             ["dropout3", "dropout4", "dropout5", "dropout6", "dropout7"]}
    assert rates == {"dropout3": conv_rate, "dropout4": conv_rate, "dropout5": conv_rate,
                     "dropout6": 0.5, "dropout7": 0.5}
    pool1 = model.get_layer("pool1")
    assert tuple(pool1.pool_size) == tuple(pool1.strides) == (1, 2, 2)
    for name in ["pool2", "pool3", "pool4", "pool5"]:
        pool = model.get_layer(name)
        assert tuple(pool.pool_size) == tuple(pool.strides) == (2, 2, 2)
        assert pool.padding == "valid"
    for name in CONVS:
        conv = model.get_layer(name)
        assert tuple(conv.kernel_size) == (3, 3, 3)
        assert conv.padding == "same" and conv.activation.__name__ == "relu"
    assert model.get_layer("zeropad5").padding == ((0, 0), (0, 1), (0, 1))


def test_width_scales_every_conv_and_fc_but_not_the_classes():
    model = student_c3d(7, SMALL, width=0.5)
    assert [model.get_layer(n).filters for n in CONVS] == [8, 16, 16, 16, 32, 32, 64, 64]
    assert model.get_layer("fc6").units == 1024
    assert model.get_layer("fc7").units == 512
    assert model.get_layer("logits").units == 7
    tiny = teacher_c3d(3, SMALL, width=0.001)
    assert [tiny.get_layer(n).filters for n in CONVS] == [1] * 8


# ---------------------------------------------------------------------------------------------
# Logits, input, errors


@pytest.mark.parametrize("build", [teacher_c3d, student_c3d])
def test_models_end_in_a_linear_logits_layer(build):
    model = build(11, SMALL, 0.25)
    last = model.layers[-1]
    assert last.name == "logits" and isinstance(last, keras.layers.Dense)
    assert last.activation.__name__ == "linear"
    assert not ends_in_softmax(model)
    assert_outputs_logits(model)


def test_softmax_ending_models_are_detected_and_refused():
    base = student_c3d(4, SMALL, 0.25)
    features = base.get_layer("dropout7").output
    variants = {
        "dense activation": keras.Model(
            base.inputs, keras.layers.Dense(4, activation="softmax", name="probs")(features)),
        "softmax layer": keras.Model(
            base.inputs, keras.layers.Softmax(name="probs")(base.outputs[0])),
        "activation layer": keras.Model(
            base.inputs, keras.layers.Activation("softmax", name="probs")(base.outputs[0])),
        "ops call": keras.Model(base.inputs, keras.ops.softmax(base.outputs[0])),
        "sequential": keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(4, activation="softmax")]),
    }
    for what, model in variants.items():
        assert ends_in_softmax(model), what
        with pytest.raises(InputError, match="softmax"):
            assert_outputs_logits(model, what=what)
    sigmoid = keras.Model(base.inputs, keras.layers.Dense(4, activation="sigmoid")(features))
    assert not ends_in_softmax(sigmoid)
    with pytest.raises(InputError, match="sigmoid"):
        assert_outputs_logits(sigmoid)


def test_uint8_clips_give_finite_logits_at_a_small_input():
    for build in (teacher_c3d, student_c3d):
        model = build(11, SMALL, width=0.25)
        assert model.inputs[0].dtype == "uint8"
        logits = model.predict(clips(3), verbose=0)
        assert logits.shape == (3, 11)
        assert np.isfinite(logits).all()
        # Logits, not probabilities: rows do not have to sum to one.
        assert not np.allclose(logits.sum(axis=1), 1.0)


@pytest.mark.parametrize("shape, words", [
    ((8, 112, 112, 3), ["(8, 112, 112, 3)", "at least 16 frames", "frames to 0"]),
    ((16, 8, 112, 3), ["(16, 8, 112, 3)", "16x16 pixels", "height to 0"]),
    ((16, 112, 15, 3), ["(16, 112, 15, 3)", "width to 0"]),
    ((16, 112, 112, 1), ["(16, 112, 112, 1)", "3 channels"]),
    ((16, 112, 112), ["(16, 112, 112)", "(frames, height, width, 3)"]),
])
def test_unusable_input_shapes_are_input_errors(shape, words):
    with pytest.raises(InputError) as caught:
        student_c3d(5, shape)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_smallest_input_works_and_bad_classes_or_width_are_input_errors():
    model = student_c3d(2, (16, 16, 16, 3), width=0.25)
    assert output_shapes(model)["pool5"] == (1, 1, 1, 32)
    with pytest.raises(InputError, match="at least 2"):
        student_c3d(1, SMALL)
    with pytest.raises(InputError, match="width"):
        teacher_c3d(5, SMALL, width=0)


def test_keras_file_round_trip_gives_identical_predictions(tmp_path):
    model = student_c3d(6, SMALL, width=0.25)
    x = clips(2)
    before = model.predict(x, verbose=0)
    path = tmp_path / "student.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
    assert_outputs_logits(loaded)


# ---------------------------------------------------------------------------------------------
# Sports-1M


def test_sports1m_preprocessing_swaps_to_bgr_subtracts_means_and_round_trips(tmp_path):
    rgb = np.array([10, 20, 30], dtype=np.uint8).reshape(1, 1, 1, 1, 3)
    out = keras.ops.convert_to_numpy(Sports1MPreprocess()(rgb))
    np.testing.assert_array_equal(out.reshape(3), [30 - 90, 20 - 98, 10 - 102])

    frames = keras.Input((2, 4, 4, 3), dtype="uint8")
    outputs = keras.layers.Dense(2, name="logits")(
        keras.layers.Flatten()(Sports1MPreprocess(mean_bgr=(1, 2, 3), name="prep")(frames)))
    model = keras.Model(frames, outputs)
    x = clips(2, (2, 4, 4, 3))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("prep").mean_bgr == (1.0, 2.0, 3.0)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# 16x16 frames leave one pool5 cell: every conv has the real port's shape, fc6 takes 512 inputs
# instead of 8192, and the file stays near 200 MB instead of 300 MB.
PORT_INPUT = (16, 16, 16, 3)


@pytest.fixture(scope="module")
def port_file(tmp_path_factory):
    weights = random_weights(port_shapes(flat_cells=1))
    path = tmp_path_factory.mktemp("sports1m") / "sports1M_weights_tf.h5"
    write_keras2_file(path, weights)
    return path, weights


def layer_values(model, names):
    return {name: [np.array(w) for w in model.get_layer(name).get_weights()] for name in names}


def test_sports1m_teacher_loads_the_port_freezes_through_fc7_and_trains_only_its_head(
        port_file, tmp_path):
    path, weights = port_file
    model = sports1m_c3d(5, path, input_shape=PORT_INPUT)
    frozen = CONVS + ["fc6", "fc7"]
    for name in frozen:
        kernel, bias = model.get_layer(name).get_weights()
        np.testing.assert_array_equal(kernel, weights[name][0])
        np.testing.assert_array_equal(bias, weights[name][1])
        assert model.get_layer(name).trainable is False
    assert isinstance(model.get_layer("sports1m_preprocess"), Sports1MPreprocess)
    names = [layer.name for layer in model.layers]
    assert "rescale" not in names and "dropout3" not in names  # the port has no conv dropout
    assert model.get_layer("logits").units == 5
    assert sorted(w.path for w in model.trainable_weights) == ["logits/bias", "logits/kernel"]
    assert_outputs_logits(model)

    before = layer_values(model, frozen + ["logits"])
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.train_on_batch(clips(2, PORT_INPUT), np.array([0, 3]))
    after = layer_values(model, frozen + ["logits"])
    for name in frozen:
        for old, new in zip(before[name], after[name]):
            np.testing.assert_array_equal(old, new)
    assert not np.array_equal(before["logits"][0], after["logits"][0])

    # The frozen layers, the head and the preprocessing survive a .keras round trip.
    x = clips(2, PORT_INPUT)
    model.save(tmp_path / "tutl.keras")
    loaded = keras.models.load_model(tmp_path / "tutl.keras")
    assert sorted(w.path for w in loaded.trainable_weights) == ["logits/bias", "logits/kernel"]
    assert isinstance(loaded.get_layer("sports1m_preprocess"), Sports1MPreprocess)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_full_sports1m_model_loads_fc8_as_logits(port_file):
    path, weights = port_file
    model = sports1m_c3d_full(path, input_shape=PORT_INPUT)
    assert model.layers[-1].name == "fc8" and model.get_layer("fc8").units == 487
    np.testing.assert_array_equal(model.get_layer("fc8").get_weights()[0], weights["fc8"][0])
    assert_outputs_logits(model)
    assert all(layer.trainable for layer in model.layers)


# The loader only needs layers named conv1 ... fc7 of matching shapes, so a tiny teacher stands in
# for the full C3D in the layout and error tests below.
TINY_FILTERS = (4, 8, 16, 16, 32, 32, 32, 32)


def tiny_model():
    return teacher_c3d(3, PORT_INPUT, width=1 / 16)


def tiny_weights(flat_cells=1):
    shapes = port_shapes(flat_cells, TINY_FILTERS, fc=(256, 256))
    del shapes["fc8"]
    return random_weights(shapes, seed=2)


def assert_loaded(model, weights):
    for name, (kernel, bias) in weights.items():
        got_kernel, got_bias = model.get_layer(name).get_weights()
        np.testing.assert_array_equal(got_kernel, kernel)
        np.testing.assert_array_equal(got_bias, bias)


def test_loader_accepts_other_nestings_and_order_only_names(tmp_path):
    weights = tiny_weights()
    # A whole model saved under 'model_weights', arrays straight in each group, no attributes.
    nested = tmp_path / "nested.h5"
    with h5py.File(nested, "w") as f:
        root = f.create_group("model_weights")
        for name, (kernel, bias) in weights.items():
            group = root.create_group(name)
            group.create_dataset("bias", data=bias)
            group.create_dataset("kernel", data=kernel)
    model = tiny_model()
    assert load_sports1m_weights(model, nested) == CONVS + ["fc6", "fc7"]
    assert_loaded(model, weights)

    # Keras-generated names (conv3d_1, dense_1, ...): Keras 2 matched these by order.
    renamed = tmp_path / "renamed.h5"
    names = {name: f"conv3d_{i + 1}" for i, name in enumerate(CONVS)}
    names.update(fc6="dense_1", fc7="dense_2")
    write_keras2_file(renamed, weights, names)
    model = tiny_model()
    load_sports1m_weights(model, renamed)
    assert_loaded(model, weights)


def test_missing_unreadable_and_mismatched_files_are_input_errors_naming_the_path(tmp_path):
    missing = tmp_path / "sports1M_weights_tf.h5"
    with pytest.raises(InputError) as caught:
        sports1m_c3d(5, missing)
    assert str(missing) in str(caught.value) and "not found" in str(caught.value)

    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(InputError, match="not a readable HDF5 file") as caught:
        load_sports1m_weights(tiny_model(), text)
    assert str(text) in str(caught.value)

    weights = tiny_weights()
    kernel, bias = weights["conv3a"]
    weights["conv3a"] = (kernel[:, :, :, :4, :], bias)
    bad = tmp_path / "bad.h5"
    write_keras2_file(bad, weights)
    model = tiny_model()
    before = model.get_layer("conv1").get_weights()[0]
    with pytest.raises(InputError) as caught:
        load_sports1m_weights(model, bad)
    message = str(caught.value)
    assert message.startswith(f"{bad}: layer conv3a kernel has shape (3, 3, 3, 4, 16)")
    assert "the model expects (3, 3, 3, 8, 16)" in message and "\n" not in message
    # Nothing is half-loaded: shapes are checked before any weight is set.
    np.testing.assert_array_equal(model.get_layer("conv1").get_weights()[0], before)

    wrong_clip = tmp_path / "for_32x32.h5"
    write_keras2_file(wrong_clip, tiny_weights(flat_cells=8))
    with pytest.raises(InputError, match="fc6's input size follows the clip size"):
        load_sports1m_weights(tiny_model(), wrong_clip)

    partial = tmp_path / "partial.h5"
    write_keras2_file(partial, {name: w for name, w in tiny_weights().items() if name != "fc7"})
    with pytest.raises(InputError, match="layer fc7 is not in the file") as caught:
        load_sports1m_weights(tiny_model(), partial)
    assert str(partial) in str(caught.value)

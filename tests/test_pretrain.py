"""pretrain_teacher.py: the TUTL stand-in, written in the Sports-1M port's layout and read back by its loader."""

import json

import h5py
import keras
import numpy as np

from models.sports1m import (
    PORT_LAYER_ORDER,
    load_sports1m_weights,
    port_width,
    sports1m_c3d,
    sports1m_c3d_full,
    weights_pretext,
    write_sports1m_weights,
)
from tests.frames_factory import write_frames_folder
from tests.scripts import assert_one_line_error, run_in_process

SHAPE = (16, 16, 16, 3)


def test_written_weights_have_the_ports_layout_and_load_back_exactly(tmp_path):
    keras.utils.set_random_seed(0)
    model = sports1m_c3d_full(None, SHAPE, width=0.125, num_classes=4)
    path = write_sports1m_weights(model, tmp_path / "w.h5", pretext={"classes": ["a", "b", "c", "d"]})
    with h5py.File(path) as handle:  # Keras 2's save_weights layout, as the public port's file
        assert [n.decode() for n in handle.attrs["layer_names"]] == list(PORT_LAYER_ORDER)
        assert handle["conv1/conv1/kernel:0"].shape == (3, 3, 3, 3, 8)
        assert [n.decode() for n in handle["fc8"].attrs["weight_names"]] == ["fc8/kernel:0", "fc8/bias:0"]
    assert port_width(path) == 0.125 and weights_pretext(path) == {"classes": ["a", "b", "c", "d"]}
    again = sports1m_c3d_full(path, SHAPE)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    teacher = sports1m_c3d(6, path, SHAPE)  # the TUTL teacher: the file's width, frozen through fc7, new head
    assert teacher.get_layer("conv5b").filters == 64 and teacher.get_layer("logits").units == 6
    assert [w.name for w in teacher.trainable_weights] == ["kernel", "bias"]
    np.testing.assert_array_equal(teacher.get_layer("fc7").get_weights()[0], model.get_layer("fc7").get_weights()[0])
    assert load_sports1m_weights(sports1m_c3d_full(None, SHAPE, width=0.125, num_classes=4), path)[-1] == "fc8"


def test_a_stand_in_trained_on_unit_scale_inputs_is_written_for_the_ports_0_255_input(tmp_path):
    keras.utils.set_random_seed(1)
    trained = sports1m_c3d_full(None, SHAPE, width=0.125, num_classes=3, input_scale=1 / 255)
    for layer in trained.layers:  # nonzero biases, so that a wrongly folded scale would show
        if layer.weights:
            layer.set_weights([w + 0.01 for w in layer.get_weights()])
    path = write_sports1m_weights(trained, tmp_path / "w.h5")
    port = sports1m_c3d_full(path, SHAPE)  # the port's preprocessing: 0-255 minus the means
    assert port.get_layer("sports1m_preprocess").scale == 1.0
    clips = np.random.default_rng(0).integers(0, 256, (2, *SHAPE), dtype=np.uint8)
    np.testing.assert_allclose(port(clips), trained(clips), rtol=1e-4, atol=1e-5)


def test_pretext_weights_feed_the_tutl_teacher_end_to_end(tmp_path):
    pretext = write_frames_folder(tmp_path / "pretext", classes=("A", "B", "C"), groups=2, clips=3, shape=SHAPE[:3])
    target = write_frames_folder(tmp_path / "target", classes=("Bright", "Dark"), groups=3, clips=3, shape=SHAPE[:3],
                                 seed=1)
    weights = tmp_path / "stand_in.h5"
    common = ["--epochs", 1, "--batch_size", 4, "--val_size", 0]
    result = run_in_process("pretrain_teacher.py", "--data", pretext, "--width", 0.125, "--init", "motion", *common,
                            "--output_path", tmp_path / "pretext.keras", "--logdir", tmp_path / "runs",
                            "--weights_output", weights)
    assert result.returncode == 0, result.stderr[-2000:]
    assert port_width(weights) == 0.125
    assert weights_pretext(weights)["classes"] == ["A", "B", "C"]
    skipped = run_in_process("pretrain_teacher.py", "--data", pretext, "--width", 0.125, *common,
                             "--output_path", tmp_path / "pretext.keras", "--weights_output", weights)
    assert skipped.returncode == 0 and "skipping" in skipped.stdout

    tutl = run_in_process("train_teacher.py", "--data", target, "--task", "fintuning_C3D_Sports1M", "--weights", weights,
                          *common, "--output_path", tmp_path / "tutl.keras", "--logdir", tmp_path / "runs" / "tutl")
    assert tutl.returncode == 0, tutl.stderr[-2000:]
    sidecar = json.loads((tmp_path / "tutl.json").read_text())
    assert sidecar["width"] == 0.125 and sidecar["hyperparameters"]["width"] == 0.125
    assert sidecar["weights_pretext"]["classes"] == ["A", "B", "C"]
    assert_one_line_error(
        run_in_process("train_teacher.py", "--data", target, "--task", "fintuning_C3D_Sports1M", "--weights", weights,
                       "--width", 0.5, *common, "--output_path", tmp_path / "other.keras"),
        "--width 0.5", "width 0.125")

"""Export: the TFLite-compatible pooling and convolution equal MaxPooling3D and Conv3D, and
export_student.py's forms agree with the Keras model (int8: top-1 agreement at least 90% on
well-separated classes), are timed on this CPU, and one is recommended; the set carries its manifest."""

import json

import keras
import numpy as np
import pytest

from models.c3d import student_c3d
from models.tflite_compatible import FrameThenTimeMaxPool, StackedFramesConv, stacked_kernel, tflite_compatible
from tests.frames_factory import write_frames_folder
from tests.scripts import run_in_process
from utils.export.choice import machine_here
from utils.export.export_set import verified_manifest, verify_contents

INT8_MIN_AGREEMENT = 0.9


@pytest.mark.parametrize("pool, shape", [((1, 2, 2), (2, 4, 6, 8, 3)), ((2, 2, 2), (2, 5, 7, 9, 4)),
                                         ((2, 1, 1), (1, 3, 2, 2, 1))])
def test_frame_then_time_pooling_equals_max_pooling_3d(pool, shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    want = keras.layers.MaxPooling3D(pool, strides=pool, padding="valid")(x)
    np.testing.assert_array_equal(FrameThenTimeMaxPool(pool)(x), want)


# fewer than FEW_CHANNELS input channels are stacked by a convolution, more by a concatenation
@pytest.mark.parametrize("kernel, shape", [((3, 3, 3), (2, 5, 6, 7, 3)), ((1, 3, 3), (1, 4, 5, 5, 2)),
                                           ((5, 1, 3), (1, 6, 4, 4, 2)), ((3, 3, 3), (2, 5, 6, 7, 9)),
                                           ((5, 3, 1), (1, 6, 4, 4, 8))])
def test_stacked_frames_convolution_equals_conv_3d(kernel, shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    conv = keras.layers.Conv3D(4, kernel, padding="same", activation="relu")
    want = conv(x)
    stacked = StackedFramesConv(4, kernel, "relu")
    stacked.build(shape)
    stacked.set_weights([stacked_kernel(conv.get_weights()[0]), conv.get_weights()[1] + 0])
    np.testing.assert_allclose(stacked(x), want, rtol=1e-5, atol=1e-5)


def test_tflite_compatible_copy_has_no_3d_pooling_or_convolution_and_the_same_outputs():
    model = student_c3d(4, (16, 32, 32, 3), width=0.25)
    copy = tflite_compatible(model)
    assert not any(isinstance(layer, (keras.layers.MaxPooling3D, keras.layers.Conv3D)) for layer in copy.layers)
    clips = np.random.default_rng(1).integers(0, 256, (2, 16, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(copy.predict(clips, verbose=0), model.predict(clips, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    frames = write_frames_folder(folder / "frames", classes=("Bright", "Dark", "Red"), groups=4, clips=3,
                                 shape=(16, 16, 16))
    model = folder / "student.keras"
    result = run_in_process("train_student.py", "--data", frames, "--epochs", 4, "--output_path", model, "--logdir",
                            folder / "tb", "--width", "0.25", "--batch_size", "4", "--lr", "1e-3")
    assert result.returncode == 0, result.stderr
    out = folder / "export"
    result = run_in_process("export_student.py", "--data", frames, "--recognizer", model, "--output_dir", out,
                            "--timing_runs", 2, "--calibration_clips", 16)
    assert result.returncode == 0, result.stderr
    return model, out, result


def test_every_form_is_written_and_agrees_with_the_keras_model(exported):
    model, out, result = exported
    report = json.loads((out / "export_report.json").read_text())
    forms = {form["form"]: form for form in report["forms"]}
    assert list(forms) == ["Keras (.keras)", "SavedModel", "TFLite float32", "TFLite int8 (dynamic range)",
                           "TFLite int8 (full integer)", "TFLite int8 (float32 first convolutions and logits)"]
    assert [form["kind"] for form in report["forms"]] == ["keras", "saved_model", "float32", "dynamic_int8", "int8",
                                                         "int8_mixed"]
    assert all((out / form["path"]).exists() for form in report["forms"])
    assert (out / "model.keras").read_bytes() == model.read_bytes()
    assert report["calibration_clips"] == 16
    assert report["test_clips"] == len(json.loads(model.with_suffix(".json").read_text())["split"]["test_indices"])
    assert forms["SavedModel"]["top1_agreement"] == 1.0 and forms["SavedModel"]["max_abs_logit_difference"] < 1e-4
    assert forms["TFLite float32"]["top1_agreement"] == 1.0
    assert forms["TFLite float32"]["max_abs_logit_difference"] < 1e-3
    assert forms["TFLite float32"]["max_relative_logit_difference"] < 1e-4
    for form in forms.values():  # the relative figure is the absolute one over a positive logit range
        assert (form["max_relative_logit_difference"] > 0) == (form["max_abs_logit_difference"] > 0)
    assert forms["TFLite int8 (dynamic range)"]["top1_agreement"] >= INT8_MIN_AGREEMENT
    assert forms["TFLite int8 (dynamic range)"]["size_bytes"] < 0.5 * forms["TFLite float32"]["size_bytes"]
    assert forms["TFLite int8 (full integer)"]["top1_agreement"] >= INT8_MIN_AGREEMENT
    assert forms["TFLite int8 (full integer)"]["size_bytes"] < 0.5 * forms["TFLite float32"]["size_bytes"]
    assert forms["TFLite int8 (float32 first convolutions and logits)"]["top1_agreement"] >= INT8_MIN_AGREEMENT
    assert json.loads((out / "model.json").read_text())["classes"] == ["Bright", "Dark", "Red"]
    assert all(form["latency_ms_per_clip"] > 0 for form in forms.values())
    assert (out / "saved_model" / "saved_model.pb").is_file() and not list(out.glob("*.partial*"))
    assert "| TFLite int8 (dynamic range) |" in (out / "export_report.md").read_text()


def test_the_report_names_the_cpu_and_the_fastest_form_that_agrees(exported):
    _, out, result = exported
    report = json.loads((out / "export_report.json").read_text())
    assert report["machine"] == machine_here() and report["min_top1_agreement"] == 0.99
    assert report["timing"] == {"runs": 2, "rounds": 2, "batch": 1}
    candidates = [form for form in report["forms"] if form["top1_agreement"] >= 0.99]
    fastest = min(candidates, key=lambda form: form["latency_ms_per_clip"])
    assert report["recommended"]["kind"] == fastest["kind"] and report["recommended"]["path"] == fastest["path"]
    assert report["machine"]["cpu"] in report["recommended"]["why"]
    lines = [line for line in result.stdout.splitlines() if line.startswith("recommended here: ")]
    assert lines == [f"recommended here: {fastest['path']} ({report['recommended']['why']})"]


def test_the_manifest_lists_every_file_of_the_set_and_nothing_else_is_there(exported):
    _, out, _ = exported
    manifest = verified_manifest(out)
    assert manifest["state"] == "complete" and manifest["written_by"] == "export_student.py"
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"export.json"}
    assert set(manifest["files"]) == files and "saved_model/saved_model.pb" in files
    assert manifest["files"]["model_int8.tflite"]["bytes"] == (out / "model_int8.tflite").stat().st_size
    verify_contents(out, manifest, *manifest["files"])
    assert not [p for p in out.parent.iterdir() if ".export-" in p.name]  # no staging folder left beside it


def test_tflite_models_use_only_builtin_operators_xnnpack_runs_and_take_uint8_clips(exported):
    from ai_edge_litert.interpreter import Interpreter

    _, out, _ = exported
    for name in ("model_float32.tflite", "model_dynamic_int8.tflite", "model_int8.tflite", "model_int8_mixed.tflite"):
        interpreter = Interpreter(model_path=str(out / name))
        ops = {op["op_name"] for op in interpreter._get_ops_details()}
        assert {"CONV_2D", "MAX_POOL_2D"} <= ops, ops
        assert not ops & {"CONV_3D", "MAX_POOL_3D", "REDUCE_MAX"} and not any(op.startswith("Flex") for op in ops), ops
        interpreter.allocate_tensors()  # XNNPACK takes the operators it runs into DELEGATE nodes
        partitions = [op["op_name"] for op in interpreter._get_ops_details()].count("DELEGATE")
        assert partitions == 1, (name, partitions)  # one XNNPACK graph: no operator falls back between its parts
        source, = interpreter.get_input_details()
        assert source["dtype"] == np.uint8 and list(source["shape"]) == [1, 16, 16, 16, 3]
    full = Interpreter(model_path=str(out / "model_int8.tflite"))
    weights = [t for t in full.get_tensor_details() if t["name"].endswith(("conv1", "kernel")) or "conv" in t["name"]]
    assert any(t["dtype"] == np.int8 for t in weights)  # integer weights and activations, not float ones
    assert full.get_output_details()[0]["dtype"] == np.float32  # logits come back as floats


def test_the_mixed_int8_model_keeps_its_first_convolutions_and_its_logits_in_float32(exported):
    """At width 0.25, conv1 (3 frames x 3 colours) and conv2 (3 x 4 channels) stack fewer than 24 channels."""
    from ai_edge_litert.interpreter import Interpreter

    _, out, _ = exported
    interpreter = Interpreter(model_path=str(out / "model_int8_mixed.tflite"))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    outputs = [(op["op_name"], tensors[op["outputs"][0]]["dtype"]) for op in interpreter._get_ops_details()
               if op["op_name"] in ("CONV_2D", "FULLY_CONNECTED")]
    assert [dtype for _, dtype in outputs[:4]] == [np.float32] * 4  # conv1 and conv2, each with its 0/1 stacking
    assert {dtype for _, dtype in outputs[4:-1]} == {np.int8}, outputs
    assert outputs[-3:] == [("FULLY_CONNECTED", np.int8), ("FULLY_CONNECTED", np.int8), ("FULLY_CONNECTED", np.float32)]

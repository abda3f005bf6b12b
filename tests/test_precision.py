"""Mixed precision and XLA: 16-bit compute, float32 logits and loss, float32 saved models."""

import json

import keras
import numpy as np
import pytest

from models.c3d import student_c3d, teacher_c3d
from models.distiller import Distiller
from tests.frames_factory import write_frames_folder
from tests.scripts import assert_one_line_error, run_in_process
from utils.training.callbacks import inference_copy
from utils.training.precision import float32_policy, set_precision
from utils.training.trainer import compile_classifier

CLIP = (16, 16, 16, 3)


@pytest.fixture
def policy():
    with float32_policy():  # restores the policy the other tests expect
        yield set_precision


def build_distiller():
    keras.utils.set_random_seed(0)
    distiller = Distiller(student_c3d(3, CLIP, width=0.25), teacher_c3d(3, CLIP, width=0.125))
    distiller.compile(keras.optimizers.Adam(1e-3), [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), keras.losses.KLDivergence(),
                      alpha=0.1, temperature=10)
    return distiller


def test_float16_keeps_float32_weights_and_logits_and_scales_the_loss(policy):
    policy("float16")  # built and compiled only: TensorFlow's CPU kernels cannot run float16 3-D pooling
    distiller = build_distiller()
    student = distiller.student
    assert student.get_layer("conv1").compute_dtype == "float16"
    assert student.get_layer("conv1").kernel.dtype == "float32"
    assert student.get_layer("logits").compute_dtype == "float32"
    assert isinstance(distiller.optimizer, keras.optimizers.LossScaleOptimizer)


def test_bfloat16_training_step_has_float32_logits_and_finite_losses_and_saves_float32(policy):
    policy("bfloat16")
    distiller = build_distiller()
    student = distiller.student
    assert student.get_layer("conv1").compute_dtype == "bfloat16"
    clips = np.random.default_rng(0).integers(0, 256, (4, *CLIP), dtype=np.uint8)
    assert distiller(clips).dtype == "float32"
    logs = distiller.train_on_batch(clips, np.array([0, 1, 2, 0]), return_dict=True)
    assert np.isfinite(logs["loss"]) and np.isfinite(logs["distillation_loss"])

    saved = inference_copy(student)
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    np.testing.assert_array_equal(saved.get_layer("conv1").kernel.numpy(), student.get_layer("conv1").kernel.numpy())
    # bfloat16 keeps 8 bits of mantissa: the float32 copy's logits agree to about 1%
    np.testing.assert_allclose(saved.predict(clips, verbose=0), student.predict(clips, verbose=0), atol=0.05)


def test_xla_compiled_model_predicts_as_the_uncompiled_one_and_trains():
    clips = np.random.default_rng(1).integers(0, 256, (4, *CLIP), dtype=np.uint8)
    outputs = []
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = student_c3d(3, CLIP, width=0.25)
        compile_classifier(model, 1e-3, jit_compile=jit)
        assert model.jit_compile is jit
        outputs.append(model.predict(clips, verbose=0))
        # dropout masks come from another generator under XLA, so only finiteness is compared here
        assert all(np.isfinite(model.train_on_batch(clips, np.array([0, 1, 2, 0]))[0]) for _ in range(2))
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-4, atol=1e-6)


def test_training_script_with_bfloat16_saves_a_float32_model_and_records_the_settings(tmp_path):
    frames = write_frames_folder(tmp_path / "frames", classes=("Bright", "Dark"), groups=3, clips=3, shape=(16, 16, 16))
    output = tmp_path / "student.keras"
    result = run_in_process("train_student.py", "--data", frames, "--epochs", 1, "--output_path", output, "--logdir",
                            tmp_path / "tb", "--width", "0.25", "--batch_size", "4", "--mixed_precision", "bfloat16",
                            "--jit_compile", "off")  # XLA is covered above; compiling it here costs 20 s
    assert result.returncode == 0, result.stderr
    record = json.loads(output.with_suffix(".json").read_text())
    assert record["hyperparameters"]["mixed_precision"] == "bfloat16" and record["hyperparameters"]["jit_compile"] == "off"
    model = keras.models.load_model(output)
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}


@pytest.mark.skipif(bool(__import__("tensorflow").config.list_physical_devices("GPU")), reason="a GPU runs float16")
def test_float16_without_a_gpu_is_a_one_line_error(tmp_path):
    frames = write_frames_folder(tmp_path / "frames", classes=("Bright", "Dark"), groups=3, clips=3, shape=(16, 16, 16))
    result = run_in_process("train_student.py", "--data", frames, "--output_path", tmp_path / "s.keras",
                            "--mixed_precision", "float16")
    assert_one_line_error(result, "--mixed_precision float16", "bfloat16")
    assert not (tmp_path / "s.keras").exists()


def test_auto_picks_bfloat16_only_where_the_cpu_has_bfloat16_units(monkeypatch):
    import utils.machine
    from utils.training.precision import resolve_precision

    monkeypatch.setattr("tensorflow.config.list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(utils.machine, "cpu_flags", lambda: ["avx2", "avx512f"])
    monkeypatch.setattr(utils.machine, "has_native_bfloat16", lambda: False)
    precision, why = resolve_precision("auto")
    assert precision == "off" and "no bfloat16" in why
    monkeypatch.setattr(utils.machine, "cpu_flags", lambda: ["avx512f", "avx512_bf16"])
    monkeypatch.setattr(utils.machine, "has_native_bfloat16", lambda: True)
    assert resolve_precision("auto") == ("bfloat16", "auto: this CPU has avx512_bf16")
    assert resolve_precision("off") == ("off", "as asked")


def test_the_default_precision_is_resolved_printed_and_recorded(tmp_path):
    from utils.machine import has_native_bfloat16

    frames = write_frames_folder(tmp_path / "frames", shape=CLIP[:3])
    result = run_in_process("train_student.py", "--data", frames, "--epochs", 1, "--width", 0.125, "--batch_size", 4,
                            "--output_path", tmp_path / "s.keras", "--logdir", tmp_path / "tb")
    assert result.returncode == 0, result.stderr
    expected = "bfloat16" if has_native_bfloat16() else "off"
    line = next(line for line in result.stdout.splitlines() if line.startswith("precision:"))
    assert ("mixed bfloat16" if expected == "bfloat16" else "float32") in line and "auto" in line
    hyper = json.loads((tmp_path / "s.json").read_text())["hyperparameters"]
    assert hyper["mixed_precision"] == expected and hyper["mixed_precision_flag"] == "auto"

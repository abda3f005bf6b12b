import keras
import numpy as np
import pytest

from models.c3d import student_c3d, teacher_c3d
from models.distiller import Distiller
from tests.scripts import run_code
from utils.errors import InputError

SHAPE = (16, 16, 16, 3)


def numpy_loss(labels, student, teacher, alpha, t):
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    ce = -log_softmax(student)[np.arange(len(labels)), labels].mean()
    p_teacher, log_p_teacher = np.exp(log_softmax(teacher / t)), log_softmax(teacher / t)
    kl = (p_teacher * (log_p_teacher - log_softmax(student / t))).sum(axis=1).mean()
    return alpha * ce + (1 - alpha) * t * t * kl, ce, t * t * kl


def compiled(alpha=0.1, temperature=10.0, classes=5, seed=0):
    keras.utils.set_random_seed(seed)
    distiller = Distiller(student_c3d(classes, SHAPE, width=0.125), teacher_c3d(classes, SHAPE, width=0.125))
    distiller.compile(keras.optimizers.Adam(1e-3), ["accuracy"],
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), keras.losses.KLDivergence(),
                      alpha=alpha, temperature=temperature)
    return distiller


@pytest.mark.parametrize("alpha, temperature", [(0.1, 10.0), (0.0, 1.0), (1.0, 5.0), (0.37, 1.0), (0.5, 20.0)])
def test_loss_equals_the_formula_computed_with_numpy(alpha, temperature):
    rng = np.random.default_rng(int(temperature * 10 + alpha * 100))
    student, teacher = rng.normal(0, 3, (6, 5)).astype("float32"), rng.normal(0, 3, (6, 5)).astype("float32")
    labels = rng.integers(0, 5, 6)
    distiller = compiled(alpha, temperature)
    x = {"frames": np.zeros((6, *SHAPE), np.uint8), "teacher_logits": teacher}
    loss = float(distiller.compute_loss(x=x, y=labels, y_pred=student, training=True))
    want, ce, kd = numpy_loss(labels, student, teacher, alpha, temperature)
    assert loss == pytest.approx(want, rel=1e-5, abs=1e-6)
    # An independent reference: Keras's own logits distillation. Its default loss="kl_divergence"
    # resolves to a plain function in Keras 3.15, which skips its softmax-and-T^2 branch and
    # compares raw logits, so the KLDivergence instance is passed explicitly.
    reference = keras.distillation.LogitsDistillation(temperature=temperature, loss=keras.losses.KLDivergence())
    assert float(distiller.distillation_loss(teacher, student)) == pytest.approx(
        float(reference.compute_loss(teacher, student)), rel=1e-5)
    assert float(distiller.distillation_loss(teacher, student)) == pytest.approx(kd, rel=1e-5)
    eval_loss = float(distiller.compute_loss(x=x, y=labels, y_pred=student, training=False))
    assert eval_loss == pytest.approx(ce, rel=1e-5)  # evaluation: the student's cross-entropy only


def test_compile_with_alpha_and_temperature_alone_is_the_papers_loss():
    """The keras-io style call without loss functions: the defaults are the paper's CE and batch-mean KL."""
    rng = np.random.default_rng(3)
    student, teacher = rng.normal(0, 3, (6, 5)).astype("float32"), rng.normal(0, 3, (6, 5)).astype("float32")
    labels = rng.integers(0, 5, 6)
    keras.utils.set_random_seed(0)
    distiller = Distiller(student_c3d(5, SHAPE, width=0.125), teacher_c3d(5, SHAPE, width=0.125))
    distiller.compile(keras.optimizers.Adam(1e-4), alpha=0.1, temperature=10)
    x = {"frames": np.zeros((6, *SHAPE), np.uint8), "teacher_logits": teacher}
    loss = float(distiller.compute_loss(x=x, y=labels, y_pred=student, training=True))
    assert loss == pytest.approx(numpy_loss(labels, student, teacher, 0.1, 10.0)[0], rel=1e-5)
    from models.kd_loss import kd_loss

    assert float(kd_loss(labels, teacher, student, 0.1, 10.0)) == pytest.approx(loss, rel=1e-5)


def test_online_teacher_gives_the_same_loss_as_its_precomputed_logits():
    distiller = compiled()
    clips = np.random.default_rng(0).integers(0, 256, (4, *SHAPE), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3])
    student = distiller.student(clips, training=False)
    teacher = distiller.teacher(clips, training=False)
    online = distiller.compute_loss(x=clips, y=labels, y_pred=student)
    cached = distiller.compute_loss(x={"frames": clips, "teacher_logits": teacher}, y=labels, y_pred=student)
    assert float(online) == pytest.approx(float(cached), rel=1e-6)


def test_fit_trains_the_student_only_and_reports_both_losses():
    distiller = compiled()
    rng = np.random.default_rng(1)
    clips = rng.integers(0, 256, (8, *SHAPE), dtype=np.uint8)
    labels = rng.integers(0, 5, 8)
    teacher_before = [w.copy() for w in distiller.teacher.get_weights()]
    distiller(clips[:1])
    student_before = [w.copy() for w in distiller.student.get_weights()]
    history = distiller.fit(clips, labels, batch_size=4, epochs=2, verbose=0, validation_data=(clips, labels))
    assert {"loss", "student_loss", "distillation_loss", "accuracy", "val_loss", "val_accuracy",
            "val_student_loss"} <= set(history.history)
    assert "val_distillation_loss" not in history.history  # evaluation is the student's CE only
    for before, after in zip(teacher_before, distiller.teacher.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a) for b, a in zip(student_before, distiller.student.get_weights()))


def test_saved_student_loads_alone_and_predicts_like_the_distiller(tmp_path):
    distiller = compiled()
    clips = np.random.default_rng(2).integers(0, 256, (3, *SHAPE), dtype=np.uint8)
    distiller.fit(clips, np.array([0, 1, 2]), batch_size=3, epochs=1, verbose=0)
    distiller.student.save(tmp_path / "student.keras")
    alone = keras.models.load_model(tmp_path / "student.keras")
    np.testing.assert_allclose(alone.predict(clips, verbose=0), distiller.predict(clips, verbose=0), rtol=1e-5)
    assert len(alone.layers) == len(distiller.student.layers)


def test_softmax_teacher_and_bad_settings_are_refused():
    teacher = teacher_c3d(5, SHAPE, width=0.125)
    probabilities = keras.Model(teacher.input, keras.layers.Softmax()(teacher.output))
    with pytest.raises(InputError, match="teacher"):
        Distiller(student_c3d(5, SHAPE, width=0.125), probabilities)
    with pytest.raises(InputError, match="classes"):
        Distiller(student_c3d(4, SHAPE, width=0.125), teacher)
    for alpha, temperature, problem in [(1.5, 10, "alpha 1.5"), (-0.1, 10, "alpha -0.1"), (0.1, 0, "temperature 0")]:
        with pytest.raises(InputError, match=problem):  # values, not flags: the class is used outside the CLI
            compiled(alpha, temperature)


MIRRORED = """
import json, sys
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from models.c3d import student_c3d, teacher_c3d
from models.distiller import Distiller
shape = (16, 16, 16, 3)
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
clips, labels = rng.integers(0, 256, (8, *shape), dtype=np.uint8), rng.integers(0, 3, 8)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    teacher = teacher_c3d(3, shape, width=0.125)
    distiller = Distiller(student_c3d(3, shape, width=0.125), teacher)
    distiller.compile(keras.optimizers.Adam(1e-3), ["accuracy"],
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), keras.losses.KLDivergence(),
                      alpha=0.1, temperature=10)
before = [w.copy() for w in teacher.get_weights()]
history = distiller.fit(clips, labels, batch_size=4, epochs=2, verbose=0)
unchanged = all(np.array_equal(a, b) for a, b in zip(before, teacher.get_weights()))
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "teacher_unchanged": unchanged,
                  "history": {k: [float(v) for v in vs] for k, vs in history.history.items()}}))
"""


def test_distiller_trains_under_a_mirrored_strategy_on_two_cpu_devices():
    import json

    result = run_code(MIRRORED)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2 and report["teacher_unchanged"]
    history = report["history"]
    assert all(np.isfinite(history[k]).all() for k in ("loss", "student_loss", "distillation_loss"))
    for total, student, soft in zip(history["loss"], history["student_loss"], history["distillation_loss"]):
        assert total == pytest.approx(0.1 * student + 0.9 * soft, rel=1e-4)  # logged values are not halved

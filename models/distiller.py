"""Response-based offline knowledge distillation as the paper trains it: a frozen teacher, a student, and
the loss of models/kd_loss.py.

The teacher runs with ``training=False`` (no dropout) and gets no gradients. Its logits come either
from the teacher itself on each batch, or precomputed: pass inputs as a dict
``{"frames": clips, "teacher_logits": logits}`` and the teacher is not run at all (offline
distillation without augmentation gives the same logits every epoch; see
utils/training/teacher_cache.py). Evaluation reports the student's cross-entropy and accuracy only.
"""

from __future__ import annotations

import keras
from keras import ops

from models.kd_loss import PAPER_ALPHA, PAPER_TEMPERATURE, check_alpha_and_temperature, soft_loss, weighted
from models.logits import assert_outputs_logits
from utils.errors import InputError

FRAMES_KEY = "frames"
TEACHER_LOGITS_KEY = "teacher_logits"


class Distiller(keras.Model):
    """A student trained against a frozen teacher; ``student`` is what gets saved and deployed.

    Args:
        student: the model to train; outputs logits.
        teacher: a trained model with the same input and classes; outputs logits; frozen here.
        original_code: both networks end in softmax instead, and the loss is the authors' arithmetic
            on their outputs (models/original_code.py); an ablation.

    Example (the paper's loss and settings; compile also takes the keras-io example's
    ``metrics, student_loss_fn, distillation_loss_fn`` in that order):
        distiller = Distiller(student, teacher)
        distiller.compile(keras.optimizers.Adam(1e-4), alpha=0.1, temperature=10)
        distiller.fit(clips_and_labels, epochs=100)
        distiller.student.save("student.keras")
    """

    def __init__(self, student: keras.Model, teacher: keras.Model, original_code: bool = False, **kwargs):
        super().__init__(**kwargs)
        if original_code:
            from models.original_code import logits_part

            for network, what in ((teacher, "teacher"), (student, "student")):
                if logits_part(network) is network:
                    raise InputError(f"{what} ({network.name}): --original_code needs a network that ends in softmax")
        else:
            assert_outputs_logits(teacher, "teacher")
            assert_outputs_logits(student, "student")
        self.original_code = original_code
        if teacher.output_shape[-1] != student.output_shape[-1]:
            raise InputError(f"teacher has {teacher.output_shape[-1]} classes, student {student.output_shape[-1]}")
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")

    def compile(self, optimizer="adam", metrics=None, student_loss_fn=None, distillation_loss_fn=None,
                alpha: float = PAPER_ALPHA, temperature: float = PAPER_TEMPERATURE, **kwargs):
        """The defaults are the paper's loss: cross-entropy on the student's logits, batch-mean KL of the
        softened outputs, accuracy as the metric."""
        check_alpha_and_temperature(alpha, temperature)
        if metrics is None:
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        self.student_loss_fn = student_loss_fn or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.distillation_loss_fn = distillation_loss_fn or keras.losses.KLDivergence()
        self.alpha = float(alpha)
        self.temperature = float(temperature)
        # Every training variable made now from one symbolic batch, so that fit traces its first step once
        # (docs/performance.md, "A model's first training step").
        clip = self.student.inputs[0]
        self._symbolic_build(data_batch=(keras.KerasTensor((1, *clip.shape[1:]), clip.dtype),
                                         keras.KerasTensor((1,), "int64")))

    @property
    def deployable(self) -> keras.Model:
        """What training saves and scores: the student (the teacher is only a means)."""
        return self.student

    def call(self, inputs, training=False):
        frames = inputs[FRAMES_KEY] if isinstance(inputs, dict) else inputs
        return self.student(frames, training=training)

    def teacher_logits(self, inputs):
        if isinstance(inputs, dict) and TEACHER_LOGITS_KEY in inputs:
            return inputs[TEACHER_LOGITS_KEY]
        frames = inputs[FRAMES_KEY] if isinstance(inputs, dict) else inputs
        return ops.stop_gradient(self.teacher(frames, training=False))

    def distillation_loss(self, teacher_logits, student_logits):
        """T² · KL(softmax(teacher / T) ‖ softmax(student / T)), averaged over the batch."""
        return soft_loss(teacher_logits, student_logits, self.temperature, self.distillation_loss_fn)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # Keras losses come back divided by the number of replicas under a tf.distribute strategy
        # (the replicas' gradients are summed); the trackers log the undivided batch mean.
        student_loss = self.student_loss_fn(y, y_pred)
        self.student_loss_tracker.update_state(student_loss * _replicas())
        if not training:
            return student_loss
        distillation_loss = self.distillation_loss(self.teacher_logits(x), y_pred)
        self.distillation_loss_tracker.update_state(distillation_loss * _replicas())
        return weighted(student_loss, distillation_loss, self.alpha)

    def test_step(self, data):
        logs = super().test_step(data)
        logs.pop("distillation_loss", None)  # not computed in evaluation: do not log a stale 0
        return logs


def _replicas() -> float:
    import tensorflow as tf

    return float(tf.distribute.get_strategy().num_replicas_in_sync)

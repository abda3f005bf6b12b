"""Response-based offline knowledge distillation (Hinton et al. 2015), as the paper uses it.

A frozen, pre-trained teacher supervises the student through temperature-softened outputs:

    loss = alpha * CE(y, student_logits)
         + (1 - alpha) * T^2 * KL( softmax(teacher_logits / T) || softmax(student_logits / T) )

CE is the sparse categorical cross-entropy on logits; KL is summed over classes and averaged over
the batch ("batchmean"; Keras's KLDivergence with its default reduction), and T^2 keeps the soft
term's gradients on the same scale whatever T is. Both networks output logits: dividing
probabilities by T, as the original code did, softens nothing the formula means.

The teacher runs with ``training=False`` (no dropout) and gets no gradients. Its logits come either
from the teacher itself on each batch, or precomputed: pass inputs as a dict
``{"frames": clips, "teacher_logits": logits}`` and the teacher is not run at all (offline
distillation without augmentation gives the same logits every epoch; see utils/training/teacher_cache.py).
Evaluation reports the student's cross-entropy and accuracy only.
"""

from __future__ import annotations

import keras
from keras import ops

from models.logits import assert_outputs_logits
from utils.errors import InputError

FRAMES_KEY = "frames"
TEACHER_LOGITS_KEY = "teacher_logits"


def check_alpha_and_temperature(alpha: float, temperature: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"--alpha {alpha}: must be between 0 and 1")
    if not temperature > 0:
        raise InputError(f"--temperature {temperature}: must be positive")


class Distiller(keras.Model):
    """A student trained against a frozen teacher; ``student`` is what gets saved and deployed.

    Args:
        student: the model to train; outputs logits.
        teacher: a trained model with the same input and classes; outputs logits; frozen here.

    Example:
        distiller = Distiller(student, teacher)
        distiller.compile(keras.optimizers.Adam(1e-4), ["accuracy"],
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          keras.losses.KLDivergence(), alpha=0.1, temperature=10)
        distiller.fit(clips_and_labels, epochs=100)
        distiller.student.save("student.keras")
    """

    def __init__(self, student: keras.Model, teacher: keras.Model, **kwargs):
        super().__init__(**kwargs)
        assert_outputs_logits(teacher, "teacher")
        assert_outputs_logits(student, "student")
        if teacher.output_shape[-1] != student.output_shape[-1]:
            raise InputError(f"teacher has {teacher.output_shape[-1]} classes, student {student.output_shape[-1]}")
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")

    def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn, alpha: float = 0.1,
                temperature: float = 10.0, **kwargs):
        check_alpha_and_temperature(alpha, temperature)
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        self.student_loss_fn = student_loss_fn
        self.distillation_loss_fn = distillation_loss_fn
        self.alpha = float(alpha)
        self.temperature = float(temperature)

    def call(self, inputs, training=False):
        frames = inputs[FRAMES_KEY] if isinstance(inputs, dict) else inputs
        return self.student(frames, training=training)

    def teacher_logits(self, inputs):
        if isinstance(inputs, dict) and TEACHER_LOGITS_KEY in inputs:
            return inputs[TEACHER_LOGITS_KEY]
        frames = inputs[FRAMES_KEY] if isinstance(inputs, dict) else inputs
        return ops.stop_gradient(self.teacher(frames, training=False))

    def distillation_loss(self, teacher_logits, student_logits):
        """T^2 * KL(softmax(teacher / T) || softmax(student / T)), averaged over the batch."""
        t = self.temperature
        soft_teacher = ops.softmax(ops.divide(ops.cast(teacher_logits, "float32"), t), axis=-1)
        soft_student = ops.softmax(ops.divide(ops.cast(student_logits, "float32"), t), axis=-1)
        return self.distillation_loss_fn(soft_teacher, soft_student) * (t * t)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # Keras losses come back divided by the number of replicas under a tf.distribute strategy
        # (the replicas' gradients are summed); the trackers log the undivided batch mean.
        student_loss = self.student_loss_fn(y, y_pred)
        self.student_loss_tracker.update_state(student_loss * _replicas())
        if not training:
            return student_loss
        distillation_loss = self.distillation_loss(self.teacher_logits(x), y_pred)
        self.distillation_loss_tracker.update_state(distillation_loss * _replicas())
        return self.alpha * student_loss + (1.0 - self.alpha) * distillation_loss

    def test_step(self, data):
        logs = super().test_step(data)
        logs.pop("distillation_loss", None)  # not computed in evaluation: do not log a stale 0
        return logs


def _replicas() -> float:
    import tensorflow as tf

    return float(tf.distribute.get_strategy().num_replicas_in_sync)

"""The paper's distillation loss (response-based offline KD; Hinton, Vinyals & Dean 2015, arXiv:1503.02531).

    loss = alpha · CE(y, s) + (1 − alpha) · T² · KL( softmax(t / T) ‖ softmax(s / T) )

t and s are the teacher's and the student's **logits** (dividing probabilities by T, as the original
code did, softens nothing the formula means); CE is the sparse categorical cross-entropy of the
student's logits; KL is summed over classes and averaged over the batch ("batchmean", Keras's
KLDivergence with its default reduction); T² keeps the soft term's gradients on the scale of the
hard one whatever T is. The paper uses alpha = 0.1 and T in {1, 5, 10, 15, 20}.
"""

from __future__ import annotations

import keras
from keras import ops

PAPER_ALPHA = 0.1
PAPER_TEMPERATURE = 10.0


def check_alpha_and_temperature(alpha: float, temperature: float) -> None:
    from utils.errors import InputError

    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha {alpha}: the weight of the hard-label loss must be between 0 and 1")
    if not temperature > 0:
        raise InputError(f"temperature {temperature}: must be positive")


def softened(logits, temperature: float):
    """softmax(logits / T), in float32 whatever the compute precision."""
    return ops.softmax(ops.divide(ops.cast(logits, "float32"), temperature), axis=-1)


def soft_loss(teacher_logits, student_logits, temperature: float, kl: keras.losses.Loss | None = None):
    """T² · KL(softmax(t/T) ‖ softmax(s/T)), summed over classes, averaged over the batch."""
    kl = kl or keras.losses.KLDivergence()
    return kl(softened(teacher_logits, temperature), softened(student_logits, temperature)) * (temperature ** 2)


def weighted(hard, soft, alpha: float):
    """alpha · hard + (1 − alpha) · soft: the two terms combined (models/distiller.py logs each)."""
    return alpha * hard + (1.0 - alpha) * soft


def kd_loss(labels, teacher_logits, student_logits, alpha: float = PAPER_ALPHA,
            temperature: float = PAPER_TEMPERATURE):
    """The whole loss of the module docstring, for one batch."""
    hard = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, student_logits)
    return weighted(hard, soft_loss(teacher_logits, student_logits, temperature), alpha)

"""The authors' arithmetic, as an ablation (``--original_code``): networks that end in softmax.

In the authors' code (networks.py, distiller.py, Teacher_training.py, KD_training.py; TensorFlow and
Keras 2.7) every network ends in ``Dense(..., activation='softmax')`` while every loss is built with
``from_logits=True``. What that computes, for network outputs p = softmax(z):

    hard  = CE(y, z)                     Keras 2.7's cross-entropy finds the logits z that the softmax
                                         activation cached on its output and uses them (warning that
                                         from_logits=True was given a softmax output), so training on
                                         hard labels alone is the same as training on logits
    soft  = T² · KL(softmax(p_t / T) ‖ softmax(p_s / T))
                                         the temperature divides *probabilities* (the division makes a
                                         new tensor, with no cached logits); KL as Keras's KLDivergence:
                                         both sides clipped to [1e-7, 1], summed over classes, averaged
                                         over the batch
    loss  = alpha · hard + (1 − alpha) · soft

Keras 3's TensorFlow backend does the same as Keras 2.7 for the hard term (a softmax output's
logits are taken from the graph), so a model built here by ``with_softmax`` and trained with this
project's unchanged losses computes exactly the formulas above; tests/test_original_code.py checks
them against a NumPy transcription. Everything else (split, sidecars, evaluation, the TUTL
teacher's frozen layers) stays this project's. See docs/distillation.md for what this arithmetic
does to the soft targets.
"""

from __future__ import annotations

import warnings

import keras

SOFTMAX_LAYER = "softmax"


def with_softmax(network: keras.Model) -> keras.Model:
    """``network`` (which outputs logits) followed by a softmax, as every network of the authors' code ends."""
    probabilities = keras.layers.Softmax(name=SOFTMAX_LAYER, dtype="float32")(network.output)
    return keras.Model(network.input, probabilities, name=network.name)


def logits_part(model: keras.Model) -> keras.Model:
    """The logits a ``with_softmax`` model turns into probabilities (for scoring: softmax(z) = p, so
    every metric is the model's own); any other model unchanged."""
    layer = model.layers[-1]
    if layer.name != SOFTMAX_LAYER or not isinstance(layer, keras.layers.Softmax):
        return model
    return keras.Model(model.input, layer.input, name=model.name)


def quiet_from_logits_warning() -> None:
    """Keras warns, at every trace, that from_logits=True was given a softmax output; in an
    --original_code run that is the point, and the line would break the one-line output contract."""
    warnings.filterwarnings("ignore", message=r".*received `from_logits=True`, but the `output` argument was "
                                              r"produced by a Softmax.*")

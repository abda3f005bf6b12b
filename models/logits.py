"""Logits, not probabilities: the check every model of this project passes before it is trained on.

The distillation loss divides logits by the temperature; a model that ends in softmax would soften
probabilities instead (the original code's defect), and training would silently be wrong.
"""

from __future__ import annotations

import os

import keras

# Imported for its side effect too: registering Sports1MPreprocess, so that TUTL teachers load.
import models.c3d  # noqa: F401
from utils.errors import InputError


def _output_operation(model: keras.Model):
    """The operation (layer or keras.ops call) whose result is the model's output: the last of a
    functional model's topologically sorted operations, or a Sequential model's last layer."""
    operations = getattr(model, "operations", None) or model.layers
    operation = operations[-1]
    if isinstance(operation, keras.Model):
        return _output_operation(operation)
    return operation


def _activation_name(activation) -> str:
    return getattr(activation, "__name__", type(activation).__name__).lower()


def ends_in_softmax(model: keras.Model) -> bool:
    """Whether the model's output comes out of a softmax (layer, activation or keras.ops call)."""
    operation = _output_operation(model)
    if type(operation).__name__.lower() in {"softmax", "logsoftmax"}:
        return True
    activation = getattr(operation, "activation", None)
    return activation is not None and _activation_name(activation) in {"softmax", "log_softmax"}


def assert_outputs_logits(model: keras.Model, what: str = "model") -> None:
    """InputError unless the model ends in a layer with no activation (logits).

    The distillation loss divides logits by the temperature; on probabilities that is not the
    softened distribution the method means, and training would silently be wrong.
    """
    operation = _output_operation(model)
    label = f"{what} ({model.name})"
    if ends_in_softmax(model):
        raise InputError(f"{label}: its output layer '{operation.name}' applies softmax; "
                         f"the models here must output logits (a final Dense with no activation)")
    activation = getattr(operation, "activation", None)
    if activation is not None and _activation_name(activation) != "linear":
        raise InputError(f"{label}: its output layer '{operation.name}' applies "
                         f"{_activation_name(activation)}; the models here must output logits")


def load_recognizer(path: str | os.PathLike, what: str, record: dict | None = None) -> keras.Model:
    """A saved model as it is, checked to output what its sidecar ``record`` says (logits, or, for an
    ``--original_code`` model, softmax probabilities: models/original_code.py), to take one clip input
    of the recorded shape and to give one output per recorded class; InputError (one line) otherwise,
    or for a file Keras cannot load.

    Importing this module has registered Sports1MPreprocess, so TUTL teachers load too.
    """
    try:
        model = keras.models.load_model(path)
    except Exception as error:  # noqa: BLE001  Keras raises many types for a bad file
        reason = " ".join(str(error).split())  # Keras messages span lines; the contract is one
        raise InputError(f"{what} {path}: cannot be loaded as a Keras model ({reason[:300]})") from None
    if record is not None:
        check_matches_record(model, record, f"{what} {path}")
    if record is not None and record.get("original_code"):
        from models.original_code import logits_part

        if logits_part(model) is model:
            raise InputError(f"{what} {path}: its sidecar says --original_code, but the model does not end in "
                             "that ablation's softmax layer")
        return model
    assert_outputs_logits(model, f"{what} {path}")
    return model


def load_logits_model(path: str | os.PathLike, what: str, record: dict | None = None) -> keras.Model:
    """load_recognizer, giving logits whatever the model ends in: an ``--original_code`` model without its
    final softmax (softmax of these logits is the model's own output, so every score is the model's)."""
    from models.original_code import logits_part

    return logits_part(load_recognizer(path, what, record))


def inference_call(model: keras.Model, **options):
    """``model(clips, training=False)`` as one traced TensorFlow function (``options``: tf.function's). AutoGraph is
    left off: a model call has no Python control flow on tensors to convert (docs/testing.md)."""
    import tensorflow as tf

    return tf.function(lambda clips: model(clips, training=False), autograph=False, **options)


def check_matches_record(model: keras.Model, record: dict, label: str) -> None:
    """InputError unless ``model`` takes one clip batch of the sidecar's input shape and gives one score
    per sidecar class: a model swapped for another beside an old sidecar would be scored against the
    wrong classes or fail deep inside TensorFlow."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise InputError(f"{label}: has {len(model.inputs)} inputs and {len(model.outputs)} outputs; a recognizer here "
                         "takes one clip batch and gives one row of logits")
    classes, shape = record.get("classes") or [], list(record.get("input_shape") or [])
    model_shape = [None if d is None else int(d) for d in model.inputs[0].shape[1:]]
    if model_shape != shape:
        raise InputError(f"{label}: its input shape {model_shape} is not the {shape} its sidecar records")
    outputs = model.outputs[0].shape[-1]
    if outputs != len(classes):
        raise InputError(f"{label}: gives {outputs} scores but its sidecar lists {len(classes)} classes")

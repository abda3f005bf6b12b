"""A trained model in deployable forms, each checked against the Keras model on the same clips.

Forms: a TensorFlow SavedModel (TF Serving, TF.js and TF-TRT take it), a TFLite model in float32,
and a TFLite model with dynamic-range int8 quantisation (weights stored as int8, activations
float; about 4x smaller, no calibration data needed). The TFLite models are converted from
models/tflite_compatible.py's copy, so they use TFLite's built-in operators only.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from utils.machine import available_cores
from utils.tensorflow_runtime import native_stderr_hidden

if TYPE_CHECKING:
    from utils.training.input_pipeline import ClipReader


@dataclass
class FormReport:
    form: str
    path: str
    size_bytes: int
    top1_agreement: float  # fraction of clips whose top-1 class equals the Keras model's
    max_abs_logit_difference: float
    latency_ms_per_clip: float | None  # median, batch 1, CPU

    def to_json(self) -> dict:
        return asdict(self)


def folder_size(path: Path) -> int:
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def saved_model_runner(folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    """Clips -> logits through the SavedModel in ``folder``, loaded as TF Serving would."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(folder))

    def run(clips: np.ndarray) -> np.ndarray:
        return np.asarray(loaded.serve(tf.constant(clips)), np.float32)  # ``loaded`` keeps the variables alive

    return run


def tflite_bytes(model, quantize: bool) -> bytes:
    """TFLite flatbuffer of ``model`` (through tflite_compatible), float32 or dynamic-range int8."""
    import tensorflow as tf

    from models.tflite_compatible import tflite_compatible

    with tempfile.TemporaryDirectory() as folder:
        tflite_compatible(model).export(folder, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return converter.convert()


def tflite_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """Clips (any batch) -> logits through TensorFlow's TFLite interpreter, one clip per call,
    as a device runs it."""
    import tensorflow as tf

    with warnings.catch_warnings():  # its deprecation notice (use LiteRT): the files are the same for both
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=available_cores())
    with native_stderr_hidden():  # "INFO: Created TensorFlow Lite XNNPACK delegate", on every first run
        interpreter.allocate_tensors()
    source, = interpreter.get_input_details()
    target, = interpreter.get_output_details()

    def run(clips: np.ndarray) -> np.ndarray:
        outputs = []
        for clip in clips:
            interpreter.set_tensor(source["index"], clip[None].astype(source["dtype"]))
            interpreter.invoke()
            outputs.append(interpreter.get_tensor(target["index"])[0].copy())
        return np.stack(outputs).astype(np.float32)

    return run


def median_latency_ms(run: Callable[[np.ndarray], np.ndarray], clip: np.ndarray, runs: int) -> float | None:
    """Median wall time of ``run`` on one clip (utils/evaluation/model_cost's timer); None for 0 runs."""
    from utils.evaluation.model_cost import median_call_seconds

    return 1000 * median_call_seconds(lambda: run(clip[None]), runs) if runs > 0 else None


def clip_batches(reader: ClipReader, indices: np.ndarray, size: int = 8) -> Iterator[np.ndarray]:
    """Clips ``indices`` of frames.npy, ``size`` at a time (never all at once)."""
    for start in range(0, len(indices), size):
        yield reader.read(indices[start:start + size])


def compare(form: str, path: Path, run: Callable[[np.ndarray], np.ndarray], reader: ClipReader,
            indices: np.ndarray, reference: np.ndarray, runs: int) -> FormReport:
    """Agreement of ``run``'s logits on clips ``indices`` with the Keras ``reference`` logits, and
    its latency on the first of them."""
    logits = np.concatenate([run(batch) for batch in clip_batches(reader, indices)])
    return FormReport(form=form, path=str(path), size_bytes=folder_size(path),
                      top1_agreement=float(np.mean(logits.argmax(1) == reference.argmax(1))),
                      max_abs_logit_difference=float(np.abs(logits - reference).max()),
                      latency_ms_per_clip=median_latency_ms(run, reader.read(indices[:1])[0], runs))

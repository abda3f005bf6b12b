"""A trained model in deployable forms, each checked against the Keras model on the same clips.

Forms: a TensorFlow SavedModel (TF Serving, TF.js and TF-TRT take it), and TFLite models in float32,
with dynamic-range int8 quantisation (int8 weights, float activations; no calibration data) and
with full-integer int8 quantisation (int8 weights and activations, calibrated on clips of the
model's training split; uint8 clips in, float32 logits out). The TFLite models are converted from
models/tflite_compatible.py's copy, at batch 1 with static shapes, so they use TFLite's built-in
operators only and XNNPACK, TFLite's fast CPU backend, runs every convolution. They are run with
LiteRT's interpreter (``ai_edge_litert``, which replaces ``tf.lite.Interpreter``).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
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
    # the same, as a fraction of that clip's Keras logit range (max - min), worst clip: logits scale
    # with training (a distilled student's reach hundreds), so the absolute figure alone says little
    max_relative_logit_difference: float
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


TFLITE_FORMS = ("float32", "dynamic_int8", "int8")


def tflite_bytes(model, form: str = "float32", calibration: Iterable[np.ndarray] | None = None) -> bytes:
    """TFLite flatbuffer of ``model`` (through tflite_compatible, batch 1): ``form`` float32,
    dynamic_int8 (dynamic-range quantisation) or int8 (full integer, calibrated on the uint8 clips of
    ``calibration``)."""
    import keras
    import tensorflow as tf

    from models.tflite_compatible import tflite_compatible

    if form not in TFLITE_FORMS:
        raise ValueError(f"TFLite form {form!r}: one of {', '.join(TFLITE_FORMS)}")
    compatible = tflite_compatible(model)
    clip = tuple(int(d) for d in model.inputs[0].shape[1:])
    with tempfile.TemporaryDirectory() as folder:
        archive = keras.export.ExportArchive()
        archive.track(compatible)
        archive.add_endpoint("serve", lambda clips: compatible(clips, training=False),
                             input_signature=[tf.TensorSpec((1, *clip), model.inputs[0].dtype)])
        archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if form != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if form == "int8":
            if calibration is None:
                raise ValueError("full-integer int8 needs calibration clips")
            clips = list(calibration)
            converter.representative_dataset = lambda: ([c[None]] for c in clips)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_output_type = tf.float32
        with native_stderr_hidden():  # the converter's C++ log lines
            return converter.convert()


def _interpreter(path: Path):
    """LiteRT's interpreter where ai_edge_litert installs, else TensorFlow's (same files, same kernels)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # a platform without LiteRT wheels
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            return tf.lite.Interpreter(model_path=str(path), num_threads=available_cores())
    return Interpreter(model_path=str(path), num_threads=available_cores())


def tflite_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """Clips (any batch) -> float32 logits through a TFLite file, one clip per call, as a device runs
    it; uint8 clips are quantised first when the file's input is quantised."""
    interpreter = _interpreter(path)
    with native_stderr_hidden():  # "INFO: Created TensorFlow Lite XNNPACK delegate", on every first run
        interpreter.allocate_tensors()
    source, = interpreter.get_input_details()
    target, = interpreter.get_output_details()
    in_scale, in_zero = source.get("quantization", (0.0, 0))
    out_scale, out_zero = target.get("quantization", (0.0, 0))

    def prepared(clip: np.ndarray) -> np.ndarray:
        if source["dtype"] in (np.int8, np.uint8) and in_scale and (in_scale, in_zero) != (1.0, 0):
            info = np.iinfo(source["dtype"])
            clip = np.clip(np.round(clip / in_scale + in_zero), info.min, info.max)
        return clip[None].astype(source["dtype"])

    def run(clips: np.ndarray) -> np.ndarray:
        outputs = []
        for clip in clips:
            interpreter.set_tensor(source["index"], prepared(clip))
            interpreter.invoke()
            logits = interpreter.get_tensor(target["index"])[0].astype(np.float32)
            if target["dtype"] in (np.int8, np.uint8) and out_scale:
                logits = (logits - out_zero) * out_scale
            outputs.append(logits)
        return np.stack(outputs)

    return run


def clip_batches(reader: ClipReader, indices: np.ndarray, size: int = 8) -> Iterator[np.ndarray]:
    """Clips ``indices`` of frames.npy, ``size`` at a time (never all at once)."""
    for start in range(0, len(indices), size):
        yield reader.read(indices[start:start + size])


def compare(form: str, path: Path, run: Callable[[np.ndarray], np.ndarray], reader: ClipReader,
            indices: np.ndarray, reference: np.ndarray) -> FormReport:
    """Agreement of ``run``'s logits on clips ``indices`` with the Keras ``reference`` logits (latency:
    timed for all forms together, in report.py)."""
    logits = np.concatenate([run(batch) for batch in clip_batches(reader, indices)])
    difference = np.abs(logits - reference).max(axis=1)
    logit_range = np.maximum(reference.max(axis=1) - reference.min(axis=1), np.finfo(np.float32).tiny)
    return FormReport(form=form, path=str(path), size_bytes=folder_size(path),
                      top1_agreement=float(np.mean(logits.argmax(1) == reference.argmax(1))),
                      max_abs_logit_difference=float(difference.max()),
                      max_relative_logit_difference=float((difference / logit_range).max()), latency_ms_per_clip=None)

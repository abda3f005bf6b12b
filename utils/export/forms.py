"""A trained model in deployable forms, each checked against the Keras model on the same clips.

Forms: a TensorFlow SavedModel (TF Serving, TF.js and TF-TRT take it), and TFLite models in float32,
with dynamic-range int8 quantisation (int8 weights, float activations; no calibration data), with
full-integer int8 quantisation (int8 weights and activations, calibrated on clips of the model's
training split; uint8 clips in, float32 logits out), and "int8_mixed": the same int8 model but for its
first convolutions and its logits layer, kept in float32 (see float_first_convolutions and
_float_first_int8). The TFLite models are converted from
models/tflite_compatible.py's copy, at batch 1 with static shapes, so they use TFLite's built-in
operators only and XNNPACK, TFLite's fast CPU backend, runs every convolution. They are run with
LiteRT's interpreter (``ai_edge_litert``, which replaces ``tf.lite.Interpreter``).
"""

from __future__ import annotations

import contextlib
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
    form: str  # what a person reads, e.g. "TFLite int8 (full integer)"
    kind: str  # what predict.py --form takes: keras, saved_model or one of TFLITE_FORMS
    path: str  # relative to the export folder
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
    """Clips -> logits through the SavedModel in ``folder``, loaded as TF Serving would; the callable's
    ``input_shape`` (one clip) and ``outputs`` (scores per clip) are its 'serve' signature's."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(folder))

    def run(clips: np.ndarray) -> np.ndarray:
        return np.asarray(loaded.serve(tf.constant(clips)), np.float32)  # ``loaded`` keeps the variables alive

    source, = loaded.signatures["serve"].structured_input_signature[1].values()
    target, = loaded.signatures["serve"].structured_outputs.values()
    run.input_shape = [int(d) for d in source.shape[1:]]
    run.outputs = int(target.shape[-1])
    return run


TFLITE_FORMS = ("float32", "dynamic_int8", "int8", "int8_mixed")

# On an AVX2 CPU without VNNI (AMD EPYC, family 25), XNNPACK's int8 3x3 convolution took 3.0x the
# float32 time with 3 input channels, 2.1x with 6, 1.7x with 12, 1.13x with 24 and 1.07x with 48
# (docs/export.md): an int8 output costs a requantisation whatever the channel count, which few
# input channels do not pay back. int8_mixed keeps the leading convolutions below this in float32.
MIN_INT8_STACKED_CHANNELS = 24


def float_first_convolutions(compatible) -> list:
    """The leading StackedFramesConv layers of ``compatible`` (a tflite_compatible copy) that int8_mixed
    keeps in float32: those whose time-stacked input has fewer than MIN_INT8_STACKED_CHANNELS channels
    (conv1 always: 3 frames x 3 colours)."""
    from models.tflite_compatible import StackedFramesConv

    leading = []
    for layer in compatible.layers:
        if isinstance(layer, StackedFramesConv):
            if int(layer.kernel.shape[2]) >= MIN_INT8_STACKED_CHANNELS:
                break
            leading.append(layer)
    return leading


def _conv_ops_of(layer) -> int:
    """CONV_2D operators a StackedFramesConv becomes: its convolution, and a 0/1 one that stacks few channels."""
    from models.tflite_compatible import FEW_CHANNELS

    return 2 if int(layer.kernel.shape[2]) // layer.kernel_size[0] < FEW_CHANNELS else 1


def _float_first_int8(converter, compatible, clips: list[np.ndarray]) -> bytes:
    """Full-integer int8 but for the float_first_convolutions and everything before them (the uint8 cast
    and rescaling), and for the logits layer: TFLite's selective quantisation (QuantizationDebugger's
    denylisted nodes, named by their output tensors in the calibrated model), one calibration for all.

    The logits layer is small, so int8 gains nothing there, and its int8 output, one scale for every
    clip, ties classes closer than one step and saturates beyond the calibrated range (docs/export.md):
    on a student trained with the demo's recipe, top-1 agreement with Keras went from 73% to 97%
    with it in float32."""
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([c[None]] for c in clips)
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter,
                                                        debug_dataset=converter.representative_dataset)
    interpreter = _interpreter(model_content=debugger.calibrated_model)
    names = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
    operators = interpreter._get_ops_details()  # no public listing of a model's operators
    convolutions = sum(_conv_ops_of(layer) for layer in float_first_convolutions(compatible))
    conv_ops = [i for i, op in enumerate(operators) if op["op_name"] == "CONV_2D"]
    head = operators[:conv_ops[convolutions - 1] + 1] if convolutions else []
    dense = [i for i, op in enumerate(operators) if op["op_name"] == "FULLY_CONNECTED"]
    tail = operators[dense[-1]:] if dense else []
    debugger.options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_nodes=[names[op["outputs"][0]] for op in head + tail])
    return debugger.get_nondebug_quantized_model()


@contextlib.contextmanager
def compatible_archive(model) -> Iterator[tuple[Path, object]]:
    """tflite_compatible(``model``) written once as a batch-1 SavedModel with static shapes, which every
    TFLite conversion of it reads: yields (its folder, the compatible copy)."""
    import keras
    import tensorflow as tf

    from models.tflite_compatible import tflite_compatible

    compatible = tflite_compatible(model)
    clip = tuple(int(d) for d in model.inputs[0].shape[1:])
    with tempfile.TemporaryDirectory() as folder:
        archive = keras.export.ExportArchive()
        archive.track(compatible)
        archive.add_endpoint("serve", lambda clips: compatible(clips, training=False),
                             input_signature=[tf.TensorSpec((1, *clip), model.inputs[0].dtype)])
        archive.write_out(folder, verbose=False)
        yield Path(folder), compatible


def tflite_bytes(model, form: str = "float32", calibration: Iterable[np.ndarray] | None = None,
                 archive: tuple[Path, object] | None = None) -> bytes:
    """TFLite flatbuffer of ``model`` (through tflite_compatible, batch 1): ``form`` float32,
    dynamic_int8 (dynamic-range quantisation), int8 (full integer, calibrated on the uint8 clips of
    ``calibration``) or int8_mixed (the same, its first convolutions and logits in float32). ``archive``:
    compatible_archive's, to convert several forms from one."""
    import tensorflow as tf

    if form not in TFLITE_FORMS:
        raise ValueError(f"TFLite form {form!r}: one of {', '.join(TFLITE_FORMS)}")
    if form in ("int8", "int8_mixed") and calibration is None:
        raise ValueError(f"{form} needs calibration clips")
    if archive is None:
        with compatible_archive(model) as archive:
            return tflite_bytes(model, form, calibration, archive)
    folder, compatible = archive
    converter = tf.lite.TFLiteConverter.from_saved_model(str(folder))
    with native_stderr_hidden():  # the converter's C++ log lines
        if form == "int8_mixed":
            return _float_first_int8(converter, compatible, list(calibration))
        if form != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if form == "int8":
            clips = list(calibration)
            converter.representative_dataset = lambda: ([c[None]] for c in clips)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_output_type = tf.float32
        return converter.convert()


def _interpreter(path: Path | None = None, model_content: bytes | None = None):
    """LiteRT's interpreter where ai_edge_litert installs, else TensorFlow's (same files, same kernels)."""
    source = {"model_path": str(path)} if path is not None else {"model_content": model_content}
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # a platform without LiteRT wheels
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            return tf.lite.Interpreter(**source, num_threads=available_cores())
    return Interpreter(**source, num_threads=available_cores())


def open_tflite(path: Path):
    """A ready interpreter of the TFLite file ``path``; InputError (one line) for a file that is not a
    whole TFLite model, such as one cut short by a full disk or an interrupted copy."""
    from utils.errors import InputError

    try:
        interpreter = _interpreter(path)
        with native_stderr_hidden():  # "INFO: Created TensorFlow Lite XNNPACK delegate", on every first run
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{path}: not a readable TFLite model ({reason}); it is truncated or damaged: "
                         "export it again") from None
    if len(interpreter.get_input_details()) != 1 or len(interpreter.get_output_details()) != 1:
        raise InputError(f"{path}: has {len(interpreter.get_input_details())} inputs and "
                         f"{len(interpreter.get_output_details())} outputs; a recognizer here takes one clip and "
                         "gives one row of logits")
    return interpreter


def tflite_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """Clips (any batch) -> float32 logits through a TFLite file, one clip per call, as a device runs
    it; uint8 clips are quantised first when the file's input is quantised. The callable's
    ``input_shape`` (one clip) and ``outputs`` (scores per clip) are the file's own."""
    interpreter = open_tflite(path)
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

    run.input_shape = [int(d) for d in source["shape"][1:]]
    run.outputs = int(target["shape"][-1])
    return run


def clip_batches(reader: ClipReader, indices: np.ndarray, size: int = 8) -> Iterator[np.ndarray]:
    """Clips ``indices`` of frames.npy, ``size`` at a time (never all at once)."""
    for start in range(0, len(indices), size):
        yield reader.read(indices[start:start + size])


def compare(form: str, kind: str, path: Path, run: Callable[[np.ndarray], np.ndarray], reader: ClipReader,
            indices: np.ndarray, reference: np.ndarray) -> FormReport:
    """Agreement of ``run``'s logits on clips ``indices`` with the Keras ``reference`` logits (latency:
    timed for all forms together, in report.py); the report names the file by ``path``'s name."""
    logits = np.concatenate([run(batch) for batch in clip_batches(reader, indices)])
    difference = np.abs(logits - reference).max(axis=1)
    logit_range = np.maximum(reference.max(axis=1) - reference.min(axis=1), np.finfo(np.float32).tiny)
    return FormReport(form=form, kind=kind, path=Path(path).name, size_bytes=folder_size(path),
                      top1_agreement=float(np.mean(logits.argmax(1) == reference.argmax(1))),
                      max_abs_logit_difference=float(difference.max()),
                      max_relative_logit_difference=float((difference / logit_range).max()), latency_ms_per_clip=None)

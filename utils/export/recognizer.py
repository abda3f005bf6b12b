"""A trained model ready to label new videos: a .keras model, an exported .tflite file or SavedModel, or
the form an export folder recommends for this CPU; its classes and clip size read from the sidecar, and
the project's frame sampler in front of it.

The sidecar of ``NAME.keras`` or ``NAME.tflite`` is ``NAME.json`` beside it; export_student.py also
writes ``model.json`` beside the files it makes, which a .tflite file or saved_model/ without its own
sidecar uses. Every model is checked against its sidecar before use (clip shape against the model's
input, classes against its outputs), and a file inside an export folder against the folder's
manifest (utils/export/export_set.py), so that a file from another export or a damaged one is refused
in one line instead of labelling videos wrongly.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.errors import InputError

RETIMING_RUNS, RETIMING_ROUNDS = 6, 3  # predict.py's quick timing of the forms on another CPU


@dataclass
class Prediction:
    video: str
    top: list[tuple[str, float]]  # (class, probability), most likely first
    decode_ms: float
    inference_ms: float

    def to_json(self) -> dict:
        return {"video": self.video, "top": [{"class": name, "probability": p} for name, p in self.top],
                "decode_ms": self.decode_ms, "inference_ms": self.inference_ms}


def sidecar_for(model_path: Path) -> Path:
    own = model_path.with_suffix(".json")
    if own.is_file() or model_path.suffix in (".keras", ".h5"):
        return own
    return model_path.with_name("model.json")


def is_saved_model(path: Path) -> bool:
    return path.is_dir() and (path / "saved_model.pb").is_file()


def _check_against_sidecar(path: Path, sidecar: Path, input_shape: list, outputs: int, record: dict) -> None:
    classes, shape = record.get("classes") or [], list(record.get("input_shape") or [])
    if input_shape != shape:
        raise InputError(f"{path}: its input shape {input_shape} is not the {shape} its sidecar {sidecar} records")
    if outputs != len(classes):
        raise InputError(f"{path}: gives {outputs} scores but its sidecar {sidecar} lists {len(classes)} classes")


class Recognizer:
    """Clips in, class probabilities out, from a .keras, .tflite or SavedModel model with its sidecar."""

    def __init__(self, model_path: Path):
        from utils.export.export_set import MANIFEST_FILE, verified_manifest, verify_contents
        from utils.sidecar import read_sidecar

        model_path = Path(model_path)
        if not model_path.exists():
            raise InputError(f"--recognizer {model_path}: model file not found")
        if model_path.suffix not in (".keras", ".h5", ".tflite") and not is_saved_model(model_path):
            raise InputError(f"--recognizer {model_path}: expected a .keras, .h5 or .tflite model, a SavedModel folder "
                             "or an export folder")
        self.path = model_path
        sidecar = sidecar_for(model_path)
        if (model_path.parent / MANIFEST_FILE).exists():  # in an export folder: check it is that export's
            manifest = verified_manifest(model_path.parent)
            verify_contents(model_path.parent, manifest, model_path.name, sidecar.name)
        self.record = record = read_sidecar(sidecar.with_suffix(".keras"))
        self.classes: list[str] = list(record.get("classes") or [])
        shape = record.get("input_shape")
        if not self.classes or not isinstance(shape, list) or len(shape) != 4:
            raise InputError(f"{sidecar}: records no classes or clip shape")
        self.frames, self.height, self.width = (int(d) for d in shape[:3])
        if model_path.suffix == ".tflite":
            self._run = self._tflite(model_path, sidecar)
        elif model_path.suffix in (".keras", ".h5"):
            self._run = self._keras(model_path)
        else:
            self._run = self._saved_model(model_path, sidecar)

    def _keras(self, path: Path):
        from utils.tensorflow_runtime import import_tensorflow

        import_tensorflow()
        from models.logits import inference_call, load_logits_model

        model = load_logits_model(path, "--recognizer", self.record)  # checks it against the sidecar
        call = inference_call(model)
        return lambda clip: call(clip[None]).numpy()[0]

    def _tflite(self, path: Path, sidecar: Path):
        from utils.export.forms import tflite_runner

        run = tflite_runner(path)
        _check_against_sidecar(path, sidecar, run.input_shape, run.outputs, self.record)
        return lambda clip: run(clip[None])[0]

    def _saved_model(self, path: Path, sidecar: Path):
        from utils.tensorflow_runtime import import_tensorflow

        import_tensorflow()
        import tensorflow as tf

        from utils.export.forms import saved_model_runner

        try:
            run = saved_model_runner(path)
        except (OSError, ValueError, KeyError, tf.errors.OpError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InputError(f"{path}: not a readable SavedModel with a 'serve' signature ({reason})") from None
        _check_against_sidecar(path, sidecar, run.input_shape, run.outputs, self.record)
        return lambda clip: run(clip[None])[0]

    def logits(self, clip: np.ndarray) -> np.ndarray:
        return np.asarray(self._run(clip), np.float64)

    def predict(self, video: Path, top: int = 5) -> Prediction:
        """The ``top`` most likely classes of ``video``; VideoError or OSError if it cannot be read."""
        from utils.data.frame_sampler import read_clip
        from utils.evaluation.metrics import softmax

        start = time.perf_counter()
        clip, _ = read_clip(str(video), self.frames, self.height, self.width, short_videos="pad")
        decoded = time.perf_counter()
        probabilities = softmax(self.logits(clip)[None])[0]
        done = time.perf_counter()
        order = np.argsort(-probabilities)[:top]
        return Prediction(str(video), [(self.classes[i], float(probabilities[i])) for i in order],
                          1000 * (decoded - start), 1000 * (done - decoded))


def read_report(folder: Path) -> dict:
    """export_report.json of an export folder, with the fields predict.py relies on checked."""
    from utils.export.export_set import REPORT_FILE

    path = Path(folder) / REPORT_FILE
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        forms = report["forms"]
        for form in forms:
            if not (isinstance(form["kind"], str) and isinstance(form["path"], str)
                    and isinstance(form["top1_agreement"], (int, float))):
                raise TypeError(form)
        if report.get("recommended") is not None and not isinstance(report["recommended"].get("kind"), str):
            raise TypeError(report["recommended"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(f"{path}: not a report written by export_student.py ({type(error).__name__}: "
                         f"{str(error)[:80]})") from None
    return report


def open_export(folder: Path, forced: str | None = None, say: Callable[[str], None] = print) -> Recognizer:
    """The form of export folder ``folder`` to run here (utils/export/choice.py: ``forced``, the recorded
    choice on the CPU it was measured on, else the fastest here), announced in one line through ``say``."""
    from utils.export.choice import choose, machine_here
    from utils.export.export_set import MANIFEST_FILE, REPORT_FILE, verified_manifest, verify_contents

    folder = Path(folder)
    manifest = verified_manifest(folder)
    if manifest is None:
        raise InputError(f"--recognizer {folder}: no {MANIFEST_FILE} (not an export folder, or one of an earlier "
                         "version): run export_student.py again, or give one of its model files")
    verify_contents(folder, manifest, REPORT_FILE)
    report = read_report(folder)
    opened: dict[str, Recognizer] = {}

    def time_here(forms: list[dict]) -> dict[str, float]:
        from utils.tensorflow_runtime import import_tensorflow

        import_tensorflow()  # for the Keras and SavedModel forms, and model_cost's own imports
        from utils.evaluation.model_cost import interleaved_median_seconds

        for form in forms:
            opened[form["kind"]] = Recognizer(folder / form["path"])
        some = next(iter(opened.values()))
        clip = np.random.default_rng(0).integers(0, 256, (some.frames, some.height, some.width, 3), dtype=np.uint8)
        return interleaved_median_seconds({kind: functools.partial(r.logits, clip) for kind, r in opened.items()},
                                          RETIMING_RUNS, RETIMING_ROUNDS)

    chosen, line = choose(report, machine_here(), forced, time_here)
    say(line)
    return opened.get(chosen["kind"]) or Recognizer(folder / chosen["path"])

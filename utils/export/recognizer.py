"""A trained model ready to label new videos: a .keras model or an exported .tflite file, its classes and
clip size read from the sidecar, and the project's frame sampler in front of it.

The sidecar of ``NAME.keras`` or ``NAME.tflite`` is ``NAME.json`` beside it; export_student.py also
writes ``model.json`` beside the .tflite files it makes, which a .tflite without its own sidecar uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.errors import InputError


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
    if own.is_file() or model_path.suffix != ".tflite":
        return own
    return model_path.with_name("model.json")


class Recognizer:
    """Clips in, class probabilities out, from a .keras or .tflite model with its sidecar."""

    def __init__(self, model_path: Path):
        from utils.sidecar import read_sidecar

        model_path = Path(model_path)
        if not model_path.is_file():
            raise InputError(f"--recognizer {model_path}: model file not found")
        if model_path.suffix not in (".keras", ".h5", ".tflite"):
            raise InputError(f"--recognizer {model_path}: expected a .keras, .h5 or .tflite model")
        self.record = record = read_sidecar(sidecar_for(model_path).with_suffix(".keras"))
        self.classes: list[str] = list(record.get("classes") or [])
        shape = record.get("input_shape")
        if not self.classes or not isinstance(shape, list) or len(shape) != 4:
            raise InputError(f"{sidecar_for(model_path)}: records no classes or clip shape")
        self.frames, self.height, self.width = (int(d) for d in shape[:3])
        self._run = self._tflite(model_path) if model_path.suffix == ".tflite" else self._keras(model_path)

    def _keras(self, path: Path):
        import tensorflow as tf

        from models.logits import load_logits_model

        model = load_logits_model(path, "--recognizer", self.record)
        call = tf.function(lambda clips: model(clips, training=False))
        return lambda clip: call(clip[None]).numpy()[0]

    def _tflite(self, path: Path):
        from utils.export.forms import tflite_runner

        run = tflite_runner(path)
        return lambda clip: run(clip[None])[0]

    def predict(self, video: Path, top: int = 5) -> Prediction:
        """The ``top`` most likely classes of ``video``; VideoError or OSError if it cannot be read."""
        from utils.data.frame_sampler import read_clip
        from utils.evaluation.metrics import softmax

        start = time.perf_counter()
        clip, _ = read_clip(str(video), self.frames, self.height, self.width, short_videos="pad")
        decoded = time.perf_counter()
        probabilities = softmax(np.asarray(self._run(clip), np.float64)[None])[0]
        done = time.perf_counter()
        order = np.argsort(-probabilities)[:top]
        return Prediction(str(video), [(self.classes[i], float(probabilities[i])) for i in order],
                          1000 * (decoded - start), 1000 * (done - decoded))

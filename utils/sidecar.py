"""The JSON sidecar saved beside every model: what it was trained on and how.

``teacher.keras`` gets ``teacher.json`` (same folder, same stem). Later steps read it to use the
same test clips (the split's indices are recorded, not just its settings), to refuse a model whose
classes or input shape do not match the data, and to fill in tables. Keys:

    format            "har-kd-model/1"
    role              "teacher" | "student" | "distilled_student"
    architecture      e.g. "c3d_teacher", "c3d_student", "c3d_sports1m"
    classes           class names, label order
    input_shape       [T, H, W, 3]
    width             channel multiplier
    data              fingerprint of frames.npy (path, shape, bytes, mtime_ns)
    split             settings (protocol, test_size, val_size, seed, split_dir, split_id) and
                      train_indices / val_indices / test_indices
    hyperparameters   batch_size, epochs, lr, ... as given on the command line
    metrics           final metrics, e.g. test_accuracy, val_accuracy, best_epoch
    versions          python, tensorflow, keras, numpy
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

from utils import atomic_files
from utils.errors import InputError

SIDECAR_FORMAT = "har-kd-model/1"


def sidecar_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".json")


def library_versions() -> dict:
    import keras
    import numpy
    import tensorflow

    return {"python": platform.python_version(), "tensorflow": tensorflow.__version__,
            "keras": keras.__version__, "numpy": numpy.__version__}


def write_sidecar(model_path: Path, record: dict) -> Path:
    path = sidecar_path(model_path)
    atomic_files.write_text(path, json.dumps({"format": SIDECAR_FORMAT, **record}, indent=2) + "\n")
    return path


def read_sidecar(model_path: Path) -> dict:
    path = sidecar_path(model_path)
    if not path.is_file():
        raise InputError(f"{path}: sidecar not found (every model saved by this project has one)")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if record.get("format") != SIDECAR_FORMAT:
        raise InputError(f"{path}: unknown sidecar format {record.get('format')!r}")
    return record


def accuracy_table(model_paths: list[Path]) -> str:
    """A plain-text table of what each model's sidecar records: role, test accuracy, clips."""
    lines = [f"{'model':<40} {'role':<18} {'test accuracy':>13} {'test clips':>10}"]
    for path in model_paths:
        record = read_sidecar(Path(path))
        metrics = record.get("metrics", {})
        lines.append(f"{Path(path).name:<40} {record.get('role', '?'):<18} "
                     f"{metrics.get('test_accuracy', float('nan')):>13.4f} {metrics.get('test_clips', 0):>10}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(accuracy_table(sys.argv[1:]))

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


ROLES = ("teacher", "student", "distilled_student", "pretext")


def read_sidecar(model_path: Path) -> dict:
    """The sidecar of ``model_path``, every field this project reads checked for its type; InputError
    (one line naming the file and the field) for anything else, so no later step meets a wrong type."""
    path = sidecar_path(model_path)
    if not path.is_file():
        raise InputError(f"{path}: sidecar not found (every model saved by this project has one)")
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid UTF-8 (not a sidecar written by this project)") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror})") from None
    if not isinstance(record, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(record).__name__}")
    if record.get("format") != SIDECAR_FORMAT:
        raise InputError(f"{path}: unknown sidecar format {record.get('format')!r}")
    check_record(record, path)
    return record


def _problem(path: Path, name: str, text: str, value) -> InputError:
    shown = repr(value)
    return InputError(f"{path}: field {name}: {text}, found {shown[:80]}")


def check_record(record: dict, path: Path) -> None:
    """Type and range of each field a later step reads (absent optional fields are fine)."""
    from utils.data.splits import SplitSettings, is_finite_number, is_integer

    checks = {
        "role": (lambda v: v in ROLES, f"one of {', '.join(ROLES)}"),
        "classes": (lambda v: isinstance(v, list) and len(v) >= 2 and all(isinstance(c, str) and c and "\n" not in c
                                                                          for c in v) and len(set(v)) == len(v),
                    "a list of at least 2 distinct one-line class names"),
        "input_shape": (lambda v: isinstance(v, list) and len(v) == 4 and all(is_integer(d) and d > 0 for d in v)
                        and v[3] == 3, "[frames, height, width, 3] as positive integers"),
        "width": (lambda v: is_finite_number(v) and v > 0, "a positive number"),
        "hyperparameters": (lambda v: isinstance(v, dict), "an object"),
        "metrics": (lambda v: isinstance(v, dict), "an object"),
        "data": (lambda v: isinstance(v, dict), "an object"),
        "distillation": (lambda v: isinstance(v, dict), "an object"),
        "split": (lambda v: isinstance(v, dict), "an object"),
        "tensorboard": (lambda v: isinstance(v, str), "a folder path"),
        "original_code": (lambda v: isinstance(v, bool), "true or false"),
    }
    for name, (valid, expected) in checks.items():
        if name in record and not valid(record[name]):
            raise _problem(path, name, f"expected {expected}", record[name])
    distillation = record.get("distillation") or {}
    if "temperature" in distillation and not (is_finite_number(distillation["temperature"]) and distillation["temperature"] > 0):
        raise _problem(path, "distillation.temperature", "expected a positive number", distillation["temperature"])
    if "alpha" in distillation and not (is_finite_number(distillation["alpha"]) and 0 <= distillation["alpha"] <= 1):
        raise _problem(path, "distillation.alpha", "expected a number from 0 to 1", distillation["alpha"])
    for key in ("teacher", "teacher_sha256"):
        if key in distillation and not isinstance(distillation[key], str):
            raise _problem(path, f"distillation.{key}", "expected a string", distillation[key])
    split = record.get("split")
    if isinstance(split, dict):
        indices = {k: split[k] for k in ("train_indices", "val_indices", "test_indices") if k in split}
        for key, values in indices.items():
            if not isinstance(values, list) or not all(is_integer(i) and i >= 0 for i in values):
                raise _problem(path, f"split.{key}", "expected a list of clip indices", values)
        settings = {k: v for k, v in split.items() if k not in indices}
        if settings:
            SplitSettings.from_json(settings, origin=f"{path}: field split.")
    shape = (record.get("data") or {}).get("shape")
    if shape is not None and not (isinstance(shape, list) and all(is_integer(d) and d >= 0 for d in shape)):
        raise _problem(path, "data.shape", "expected a list of sizes", shape)


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

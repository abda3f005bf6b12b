"""export_student.py's work: the model in every deployable form, each compared with the Keras model.

Writes, in the output folder: saved_model/, model_float32.tflite, model_dynamic_int8.tflite,
model_int8.tflite (full integer), model.json (the model's sidecar: classes, clip shape; what
predict.py reads beside a .tflite file), and export_report.md/.json (per form: file size, top-1
agreement with the Keras model and the largest logit difference on the given clips, CPU latency per
clip at batch 1, the forms timed in alternating rounds).
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np

from utils import atomic_files
from utils.data.frames_data import FramesData
from utils.export.forms import FormReport, compare, saved_model_runner, tflite_bytes, tflite_runner

TFLITE_FILES = (("TFLite float32", "model_float32.tflite", "float32"),
                ("TFLite int8 (dynamic range)", "model_dynamic_int8.tflite", "dynamic_int8"),
                ("TFLite int8 (full integer)", "model_int8.tflite", "int8"))


def export_all(model_path: Path, data: FramesData, indices: np.ndarray, output_dir: Path, batch_size: int,
               timing_runs: int, calibration: np.ndarray) -> list[FormReport]:
    """Export ``model_path`` to ``output_dir`` in every form, compare each on clips ``indices``
    (calibrating full-integer int8 on clips ``calibration``); returns the reports."""
    import tensorflow as tf

    from models.logits import load_logits_model
    from utils.evaluation.model_cost import interleaved_median_seconds
    from utils.evaluation.tables import markdown_table
    from utils.evaluation.test_clips import predict_logits
    from utils.sidecar import read_sidecar, write_sidecar
    from utils.training.input_pipeline import ClipReader

    record = read_sidecar(model_path)
    model = load_logits_model(model_path, "--recognizer", record)
    atomic_files.require_writable_folder(output_dir, f"--output_dir {output_dir}")
    write_sidecar(output_dir / "model.keras", {k: v for k, v in record.items() if k != "format"})
    print(f"comparing on {len(indices)} test clips of {model_path}", flush=True)
    reference, _ = predict_logits(model, data, indices, batch_size)
    reader = ClipReader(data)
    keras_call = tf.function(lambda x: model(x, training=False))
    runners = {"Keras (.keras)": lambda x: keras_call(x).numpy()}
    reports = [FormReport("Keras (.keras)", str(model_path), model_path.stat().st_size, 1.0, 0.0, 0.0, None)]

    staging, final = output_dir / "saved_model.partial", output_dir / "saved_model"
    shutil.rmtree(staging, ignore_errors=True)
    model.export(str(staging), format="tf_saved_model", verbose=False)
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    runners["SavedModel"] = saved_model_runner(final)
    reports.append(compare("SavedModel", final, runners["SavedModel"], reader, indices, reference))
    for form, name, kind in TFLITE_FILES:
        path = output_dir / name
        print(f"converting to {form}" + (f", calibrated on {len(calibration)} training clips" if kind == "int8"
                                         else ""), flush=True)
        clips = (reader.read(calibration[i:i + 1])[0] for i in range(len(calibration))) if kind == "int8" else None
        with atomic_files.atomic_path(path) as temporary:
            temporary.write_bytes(tflite_bytes(model, kind, clips))
        runners[form] = tflite_runner(path)
        reports.append(compare(form, path, runners[form], reader, indices, reference))
    if timing_runs > 0:
        clip = reader.read(indices[:1])
        seconds = interleaved_median_seconds({form: functools.partial(run, clip) for form, run in runners.items()},
                                             timing_runs)
        for report in reports:
            report.latency_ms_per_clip = 1000 * seconds[report.form]

    rows = [[r.form, f"{r.size_bytes / 1e6:.2f}", f"{100 * r.top1_agreement:.1f}", f"{r.max_abs_logit_difference:.2g}",
             f"{100 * r.max_relative_logit_difference:.2g}",
             "—" if r.latency_ms_per_clip is None else f"{r.latency_ms_per_clip:.1f}"] for r in reports]
    table = markdown_table(["form", "size (MB)", "top-1 agreement with Keras (%)", "max abs logit difference",
                            "max difference / clip's logit range (%)", "CPU latency (ms/clip, batch 1)"], rows)
    atomic_files.write_text(output_dir / "export_report.md", f"{model_path}: {len(indices)} test clips\n\n{table}\n")
    atomic_files.write_text(output_dir / "export_report.json", json.dumps(
        {"model": str(model_path), "test_clips": len(indices), "calibration_clips": len(calibration),
         "forms": [r.to_json() for r in reports]}, indent=2))
    print(table)
    return reports

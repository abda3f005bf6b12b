"""export_student.py's work: the model in every deployable form, each compared with the Keras model and
timed on this machine, and the form to deploy here named by those measurements.

Writes, in the (staging) folder: model.keras (a copy of the model, so that the folder holds every
candidate), saved_model/, model_float32.tflite, model_dynamic_int8.tflite, model_int8.tflite (full
integer), model_int8_mixed.tflite (int8 but for the first convolutions and the logits), model.json (the model's
sidecar: classes, clip shape; what predict.py reads beside any of them), and export_report.md/.json
(per form: file size, top-1 agreement with the Keras model and the largest logit difference on the
given clips, CPU latency per clip at batch 1, the forms timed in alternating rounds; the CPU they were
timed on; the recommended form, utils/export/choice.py).
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np

from utils import atomic_files
from utils.data.frames_data import FramesData
from utils.export.choice import MIN_AGREEMENT, machine_here, recommend
from utils.export.forms import FormReport, compare, compatible_archive, saved_model_runner, tflite_bytes, tflite_runner

TFLITE_FILES = (("TFLite float32", "model_float32.tflite", "float32"),
                ("TFLite int8 (dynamic range)", "model_dynamic_int8.tflite", "dynamic_int8"),
                ("TFLite int8 (full integer)", "model_int8.tflite", "int8"),
                ("TFLite int8 (float32 first convolutions and logits)", "model_int8_mixed.tflite", "int8_mixed"))
TIMING_ROUNDS = 10  # alternating rounds of the forms' timed calls (a shared machine's speed drifts)


def export_all(model, model_path: Path, record: dict, data: FramesData, indices: np.ndarray, folder: Path,
               batch_size: int, timing_runs: int, calibration: np.ndarray) -> tuple[list[FormReport], dict | None]:
    """Export ``model`` (loaded from ``model_path``, sidecar ``record``) into ``folder`` in every form,
    compare each on clips ``indices`` (calibrating int8 on clips ``calibration``), time them; returns the
    reports and the recommended form (None when not timed)."""
    from models.logits import inference_call
    from utils.evaluation.model_cost import interleaved_median_seconds
    from utils.sidecar import write_sidecar
    from utils.training.input_pipeline import ClipReader, predict_logits

    keras_copy = folder / f"model{model_path.suffix}"  # the staging folder: nothing in it is read before the swap
    shutil.copyfile(model_path, keras_copy)
    write_sidecar(keras_copy, {k: v for k, v in record.items() if k != "format"})
    print(f"comparing on {len(indices)} test clips of {model_path}", flush=True)
    reference, _ = predict_logits(model, data, indices, batch_size)
    reader = ClipReader(data)
    keras_call = inference_call(model)
    runners = {"Keras (.keras)": lambda x: keras_call(x).numpy()}
    reports = [FormReport("Keras (.keras)", "keras", keras_copy.name, keras_copy.stat().st_size, 1.0, 0.0, 0.0, None)]

    saved = folder / "saved_model"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    runners["SavedModel"] = saved_model_runner(saved)
    reports.append(compare("SavedModel", "saved_model", saved, runners["SavedModel"], reader, indices, reference))
    calibration_clips = [reader.read(calibration[i:i + 1])[0] for i in range(len(calibration))]
    with compatible_archive(model) as archive:
        for form, name, kind in TFLITE_FILES:
            path = folder / name
            calibrated = kind in ("int8", "int8_mixed")
            print(f"converting to {form}" + (f", calibrated on {len(calibration)} training clips" if calibrated
                                             else ""), flush=True)
            path.write_bytes(tflite_bytes(model, kind, calibration_clips if calibrated else None, archive))
            runners[form] = tflite_runner(path)
            reports.append(compare(form, kind, path, runners[form], reader, indices, reference))
    rounds = min(TIMING_ROUNDS, timing_runs)
    if timing_runs > 0:
        print(f"timing the {len(runners)} forms on one clip, {rounds} alternating rounds", flush=True)
        clip = reader.read(indices[:1])
        seconds = interleaved_median_seconds({form: functools.partial(run, clip) for form, run in runners.items()},
                                             timing_runs, rounds)
        for report in reports:
            report.latency_ms_per_clip = 1000 * seconds[report.form]

    machine = machine_here()
    forms = [r.to_json() for r in reports]
    recommended = recommend(forms, machine["cpu"])
    write_reports(folder, model_path, len(indices), len(calibration), machine,
                  {"runs": timing_runs, "rounds": rounds, "batch": 1}, forms, recommended)
    return reports, recommended


def write_reports(folder: Path, model_path: Path, test_clips: int, calibration_clips: int, machine: dict,
                  timing: dict, forms: list[dict], recommended: dict | None) -> None:
    from utils.evaluation.tables import markdown_table

    rows = [[f["form"], f["path"], f"{f['size_bytes'] / 1e6:.2f}", f"{100 * f['top1_agreement']:.1f}",
             f"{f['max_abs_logit_difference']:.2g}", f"{100 * f['max_relative_logit_difference']:.2g}",
             "—" if f["latency_ms_per_clip"] is None else f"{f['latency_ms_per_clip']:.2f}"] for f in forms]
    table = markdown_table(["form", "file", "size (MB)", "top-1 agreement with Keras (%)", "max abs logit difference",
                            "max difference / clip's logit range (%)", "CPU latency (ms/clip, batch 1)"], rows)
    choice = (f"recommended here: {recommended['path']} ({recommended['why']})" if recommended else
              "recommended: none (the forms were not timed: --timing_runs 0); predict.py times them where it runs")
    atomic_files.write_text(folder / "export_report.md", f"{model_path}: {test_clips} test clips, timed on "
                            f"{machine['cpu']}\n\n{table}\n\n{choice}\n")
    atomic_files.write_text(folder / "export_report.json", json.dumps(
        {"model": str(model_path), "test_clips": test_clips, "calibration_clips": calibration_clips,
         "machine": machine, "timing": timing, "min_top1_agreement": MIN_AGREEMENT, "recommended": recommended,
         "forms": forms}, indent=2) + "\n")
    print(table)

#!/usr/bin/env python3
"""Score trained models on their own test clips, and compare them side by side.

    python evaluate.py --data Output_dataset/UCF11 \\
        --recognizer models/UCF11_teacher_TFS.keras models/UCF11_student.keras models/UCF11_student_TFS.keras \\
        --output_dir evaluation/UCF11

Each model is scored on the test clips recorded in its sidecar (NAME.json), after checking that
the data rebuilds exactly that split and that the model's classes and clip shape match the data.
Give split flags (--split group, --seed 3, ...) to score on another split's test clips instead;
a model that trained or was validated on any of them is refused.

Writes, in --output_dir:
    NAME/metrics.json        top-1/top-5 and mean class accuracy, macro and weighted precision,
                             recall and F1, per-class report and ROC AUC, confusion matrix, split,
                             parameters, FLOPs, size, CPU latency and throughput
    NAME/predictions.npz     indices (rows of frames.npy), labels and logits of the test clips
    NAME/confusion_matrix.png, NAME/roc.png
    comparison.md, comparison.csv, comparison.json   one row per model
"""

from __future__ import annotations

import json
from pathlib import Path

from utils.cli import ArgumentParser, add_data_arguments, add_split_arguments, given_split_settings, positive_int, run
from utils.errors import InputError

COLUMNS = ("model", "role", "T", "test clips", "top-1 (%)", "top-5 (%)", "mean class acc. (%)", "macro F1 (%)",
           "params (M)", "GFLOPs/clip", "size (MB)", "CPU latency (ms/clip, batch 1)", "CPU throughput (clips/s, batch 8)")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="evaluate.py", description=__doc__)
    add_data_arguments(parser)
    parser.add_argument("--recognizer", type=Path, nargs="+", required=True, metavar="MODEL",
                        help="one or more trained models (.keras/.h5, each with its .json sidecar)")
    parser.add_argument("--output_dir", type=Path, default=Path("evaluation"),
                        help="where metrics, predictions, plots and the comparison table go")
    parser.add_argument("--batch_size", type=positive_int, default=8, help="clips per prediction batch")
    parser.add_argument("--timing_runs", type=int, default=10,
                        help="timed calls per batch size for CPU latency/throughput; 0 skips timing")
    add_split_arguments(parser, inherited="default: each model's own test clips; given, the test clips of that split "
                        "instead, refused where the model has seen any of them")
    return parser


def requested_split(args, model_path: Path):
    """None (the model's own split), or the recorded settings with the split flags given applied."""
    from utils.evaluation.test_clips import recorded_settings
    from utils.sidecar import read_sidecar, sidecar_path
    from utils.data.splits import SplitSettings

    given = given_split_settings(args)
    if not given:
        return None
    recorded = recorded_settings(read_sidecar(model_path), sidecar_path(model_path)).to_json()
    return SplitSettings.from_json({**recorded, **given})


def output_names(paths: list[Path]) -> list[str]:
    """The model file stems, prefixed by their folder where two stems collide."""
    stems = [path.stem for path in paths]
    names = [f"{path.resolve().parent.name}_{path.stem}" if stems.count(path.stem) > 1 else path.stem for path in paths]
    if len(set(names)) != len(names):
        raise InputError("--recognizer: the same model is given twice")
    return names


def comparison_row(name: str, report: dict) -> list:
    scores, cost = report["scores"], report["cost"]
    speed = cost.get("speed") or {}
    temperature = (report.get("distillation") or {}).get("temperature")
    return [name, report["role"], None if temperature is None else f"{temperature:g}", report["test_clips"],
            100 * scores["top1_accuracy"], 100 * scores["top5_accuracy"], 100 * scores["mean_class_accuracy"],
            100 * scores["macro_f1"], cost["parameters"] / 1e6, cost["flops_per_clip"] / 1e9,
            cost["size_bytes"] / 1e6, speed.get("latency_ms_per_clip"), speed.get("throughput_clips_per_s")]


def main() -> None:
    args = build_parser().parse_args()
    if args.timing_runs < 0:
        raise InputError(f"--timing_runs must be 0 or more, got {args.timing_runs}")

    from utils.evaluation.test_clips import test_clips_for
    from utils.data.frames_data import open_frames
    from utils.sidecar import read_sidecar

    data = open_frames(args.data, args.annotations)
    for path in args.recognizer:
        if not path.is_file():
            raise InputError(f"--recognizer {path}: model file not found")
    names = output_names(args.recognizer)
    # Every sidecar, split and model file is checked before anything is scored or written.
    chosen = {path: test_clips_for(path, data, requested_split(args, path)) for path in args.recognizer}

    from utils.tensorflow_runtime import import_tensorflow

    import_tensorflow()
    import keras
    import numpy as np

    from models.logits import load_logits_model
    from utils import atomic_files
    from utils.evaluation.metrics import classification_metrics, softmax
    from utils.evaluation.test_clips import predict_logits
    from utils.evaluation.model_cost import cpu_speed, flops_per_clip, parameter_count, size_on_disk
    from utils.evaluation.plots import confusion_matrix_png, roc_png
    from utils.evaluation.tables import markdown_table, write_csv

    for path in args.recognizer:  # loaded twice rather than holding every teacher in memory at once
        load_logits_model(path, "--recognizer")
        keras.backend.clear_session()
    atomic_files.require_writable_folder(args.output_dir, f"--output_dir {args.output_dir}")
    reports, rows = {}, []
    for path, name in zip(args.recognizer, names):
        record, clips = read_sidecar(path), chosen[path]
        model = load_logits_model(path, "--recognizer")
        print(f"{name}: scoring {len(clips.indices)} test clips ({clips.source} split)", flush=True)
        logits, labels = predict_logits(model, data, clips.indices, args.batch_size)
        scores = classification_metrics(labels, logits, data.classes)
        cost = {**parameter_count(model), "flops_per_clip": flops_per_clip(model), "size_bytes": size_on_disk(path)}
        if args.timing_runs:
            cost["speed"] = cpu_speed(model, runs=args.timing_runs)
        report = {
            "model": str(path.resolve()), "role": record.get("role"), "architecture": record.get("architecture"),
            "task": record.get("task"), "width": record.get("width"), "distillation": record.get("distillation"),
            "test_clips": int(len(clips.indices)), "split": {**clips.settings, "source": clips.source},
            "training_run_test_accuracy": (record.get("metrics") or {}).get("test_accuracy"),
            "scores": scores, "cost": cost,
        }
        folder = args.output_dir / name
        folder.mkdir(exist_ok=True)
        with atomic_files.atomic_path(folder / "predictions.npz") as temporary, open(temporary, "wb") as handle:
            np.savez(handle, indices=clips.indices, labels=labels, logits=logits)
        predictions = logits.argmax(axis=1)
        confusion_matrix_png(labels, predictions, data.classes, folder / "confusion_matrix.png",
                             f"{name}: normalised confusion matrix")
        roc_png(labels, softmax(logits), data.classes, folder / "roc.png", f"{name}: ROC",
                [scores["per_class"][c]["roc_auc"] for c in data.classes])
        atomic_files.write_text(folder / "metrics.json", json.dumps(report, indent=2) + "\n")
        reports[name] = report
        rows.append(comparison_row(name, report))
        keras.backend.clear_session()

    from utils.evaluation.paper_results import departures_caption

    table = markdown_table(COLUMNS, rows) + "\n" + departures_caption([read_sidecar(p) for p in args.recognizer]) + "\n"
    atomic_files.write_text(args.output_dir / "comparison.md", table)
    write_csv(args.output_dir / "comparison.csv", COLUMNS, rows)
    atomic_files.write_text(args.output_dir / "comparison.json", json.dumps(reports, indent=2) + "\n")
    print(table)
    print(f"metrics, predictions and plots in {args.output_dir}/", flush=True)


if __name__ == "__main__":
    run(main, "evaluate.py")

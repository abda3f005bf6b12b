"""evaluate.py's work: score each model on its test clips, write its metrics, predictions and plots, and
the comparison table of all of them (with the settings that depart from the paper's under it).

Writes, in the output folder:
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
from typing import NamedTuple

import numpy as np

from utils import atomic_files
from utils.data.frames_data import FramesData
from utils.errors import InputError
from utils.evaluation.held_out_clips import TestClips
from utils.ownership import claim

COLUMNS = ("model", "role", "T", "test clips", "top-1 (%)", "top-5 (%)", "mean class acc. (%)", "macro F1 (%)",
           "params (M)", "GFLOPs/clip", "size (MB)", "CPU latency (ms/clip, batch 1)", "CPU throughput (clips/s, batch 8)")


def output_names(paths: list[Path]) -> list[str]:
    """A folder name per model: its file stem, preceded by as many of its folders' names as it takes to tell
    apart models whose stems collide. The same file given twice is refused; two files are two models."""
    resolved = [Path(path).resolve() for path in paths]
    if len(set(resolved)) != len(resolved):
        twice = next(path for path in resolved if resolved.count(path) > 1)
        raise InputError(f"--recognizer: {twice} is given twice")
    def name(path: Path, depth: int) -> str:
        return "_".join([*path.parent.parts[len(path.parent.parts) - depth:], path.stem]) if depth else path.stem

    depths = [0] * len(resolved)
    while True:
        names = [name(path, depth) for path, depth in zip(resolved, depths)]
        clashing = [i for i, n in enumerate(names) if names.count(n) > 1]
        if not clashing:
            return names
        for i in clashing:
            depths[i] += 1


COMPARISON_FILES = ("comparison.md", "comparison.csv", "comparison.json")
MODEL_FILES = ("metrics.json", "predictions.npz", "confusion_matrix.png", "roc.png")


def is_model_report(folder: Path) -> bool:
    """A NAME/ folder evaluate.py writes: its metrics.json names a model, and nothing else lives there."""
    from utils.ownership import json_object

    names = {p.name for p in folder.iterdir()}
    return not names or (names <= set(MODEL_FILES) | {f + ".partial" for f in MODEL_FILES}
                         and "model" in (json_object(folder / "metrics.json") or {}))


def output_targets(output_dir: Path, names: list[str]) -> list:
    """The names evaluate.py writes in --output_dir (utils/ownership.py): the comparison, one folder a model."""
    from utils.ownership import Target, json_object

    def ours_beside(path: Path) -> bool:  # the comparison's three files go together; its .json names the models
        record = json_object(output_dir / "comparison.json") or {}
        return bool(record) and all(isinstance(r, dict) and "model" in r for r in record.values())

    return ([Target(output_dir / name, "--output_dir", ours=ours_beside) for name in COMPARISON_FILES]
            + [Target(output_dir / name, "--output_dir", folder=True, ours=is_model_report) for name in names])


def comparison_row(name: str, report: dict) -> list:
    scores, cost = report["scores"], report["cost"]
    speed = cost.get("speed") or {}
    temperature = (report.get("distillation") or {}).get("temperature")
    return [name, report["role"], None if temperature is None else f"{temperature:g}", report["test_clips"],
            100 * scores["top1_accuracy"], 100 * scores["top5_accuracy"], 100 * scores["mean_class_accuracy"],
            100 * scores["macro_f1"], cost["parameters"] / 1e6, cost["flops_per_clip"] / 1e9,
            cost["size_bytes"] / 1e6, speed.get("latency_ms_per_clip"), speed.get("throughput_clips_per_s")]


class Scored(NamedTuple):
    """A model scored and not yet written: its metrics.json report, its test clips' labels and logits, and its
    training run's TensorBoard folder (None if its sidecar names none)."""

    report: dict
    labels: np.ndarray
    logits: np.ndarray
    tensorboard: str | None


def score_model(path: Path, name: str, data: FramesData, clips: TestClips, batch_size: int, timing_runs: int
                ) -> Scored:
    """Load one model (checked against its sidecar) and score it on ``clips``. Writes nothing."""
    import keras

    from models.logits import load_logits_model
    from utils.evaluation.metrics import classification_metrics
    from utils.evaluation.model_cost import cpu_speed, flops_per_clip, parameter_count, size_on_disk
    from utils.sidecar import read_sidecar
    from utils.training.input_pipeline import predict_logits

    record = read_sidecar(path)
    model = load_logits_model(path, "--recognizer", record)
    print(f"{name}: scoring {len(clips.indices)} test clips ({clips.source} split)", flush=True)
    logits, labels = predict_logits(model, data, clips.indices, batch_size)
    broken = int((~np.isfinite(logits)).any(axis=1).sum())
    if broken:
        raise InputError(f"--recognizer {path}: gives NaN or infinite outputs on {broken} of its {len(logits)} test "
                         "clips (a diverged model); train it again with a smaller --lr")
    cost = {**parameter_count(model), "flops_per_clip": flops_per_clip(model), "size_bytes": size_on_disk(path)}
    if timing_runs:
        cost["speed"] = cpu_speed(model, runs=timing_runs)
    keras.backend.clear_session()
    report = {
        "model": str(path.resolve()), "role": record.get("role"), "architecture": record.get("architecture"),
        "task": record.get("task"), "width": record.get("width"), "distillation": record.get("distillation"),
        "test_clips": int(len(clips.indices)), "split": {**clips.settings, "source": clips.source},
        "training_run_test_accuracy": (record.get("metrics") or {}).get("test_accuracy"),
        "scores": classification_metrics(labels, logits, data.classes), "cost": cost,
    }
    return Scored(report, labels, logits, record.get("tensorboard"))


def write_model_report(scored: Scored, name: str, data: FramesData, clips: TestClips, folder: Path) -> dict:
    """A scored model's metrics, predictions and plots in ``folder`` (and its test scores in its training run's
    TensorBoard); returns its report."""
    from utils.evaluation.metrics import softmax
    from utils.evaluation.plots import confusion_matrix_png, roc_png
    from utils.evaluation.tensorboard import write_test_results

    report, labels, logits = scored.report, scored.labels, scored.logits
    scores = report["scores"]
    folder.mkdir(exist_ok=True)
    with atomic_files.atomic_path(folder / "predictions.npz") as temporary, open(temporary, "wb") as handle:
        np.savez(handle, indices=clips.indices, labels=labels, logits=logits)
    confusion_matrix_png(labels, logits.argmax(axis=1), data.classes, folder / "confusion_matrix.png",
                         f"{name}: normalised confusion matrix")
    roc_png(labels, softmax(logits), data.classes, folder / "roc.png", f"{name}: ROC",
            [scores["per_class"][c]["roc_auc"] for c in data.classes])
    atomic_files.write_text(folder / "metrics.json", json.dumps(report, indent=2) + "\n")
    if scored.tensorboard:
        prefix = "test" if clips.source == "recorded" else f"test_{clips.settings['protocol']}_seed{clips.settings['seed']}"
        try:
            write_test_results(Path(scored.tensorboard), scores, {"confusion_matrix": folder / "confusion_matrix.png",
                                                                     "roc": folder / "roc.png"}, prefix)
        except OSError as error:  # a run folder moved or read-only: the files above hold everything anyway
            print(f"{name}: test scores not added to TensorBoard ({scored.tensorboard}: {error})", flush=True)
    return report


def evaluate_models(data: FramesData, chosen: dict[Path, TestClips], output_dir: Path, batch_size: int,
                    timing_runs: int) -> str:
    """Score every model (``chosen``: model file -> its test clips, already checked) and write the
    comparison; returns its Markdown table with the caption."""
    from utils.evaluation.paper_results import departures_caption
    from utils.evaluation.tables import markdown_table, write_csv
    from utils.sidecar import read_sidecar

    paths = list(chosen)
    names = output_names(paths)
    atomic_files.require_folder_can_be_made(output_dir, f"--output_dir {output_dir}")
    claim(output_targets(output_dir, names), overwrite=False, aside=None)
    # Every model is loaded, checked and scored before anything is written; one at a time: teachers are large.
    scored = {name: score_model(path, name, data, chosen[path], batch_size, timing_runs)
              for path, name in zip(paths, names)}
    atomic_files.require_writable_folder(output_dir, f"--output_dir {output_dir}")
    reports = {name: write_model_report(scored[name], name, data, chosen[path], output_dir / name)
               for path, name in zip(paths, names)}
    rows = [comparison_row(name, report) for name, report in reports.items()]
    table = markdown_table(COLUMNS, rows) + "\n" + departures_caption([read_sidecar(p) for p in paths]) + "\n"
    atomic_files.write_text(output_dir / "comparison.md", table)
    write_csv(output_dir / "comparison.csv", COLUMNS, rows)
    atomic_files.write_text(output_dir / "comparison.json", json.dumps(reports, indent=2) + "\n")
    return table

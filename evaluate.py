#!/usr/bin/env python3
"""Score trained models on their own test clips, and compare them side by side.

    python evaluate.py --data Output_dataset/UCF11 \\
        --recognizer models/UCF11_teacher_TFS.keras models/UCF11_student.keras models/UCF11_student_TFS.keras \\
        --output_dir evaluation/UCF11

Each model is scored on the test clips recorded in its sidecar (NAME.json), after checking that
the data rebuilds exactly that split and that the model's classes and clip shape match the data.
Give split flags (--split group, --seed 3, ...) to score on another split's test clips instead;
a model that trained or was validated on any of them is refused.

Writes, in --output_dir: NAME/metrics.json, NAME/predictions.npz, NAME/confusion_matrix.png,
NAME/roc.png per model, and comparison.md/.csv/.json (one row per model; see
utils/evaluation/report.py).
"""

from __future__ import annotations

from pathlib import Path

from utils.atomic_files import check_outputs_apart, output_lock
from utils.cli import (
    BATCH_SIZE,
    INPUT_FILE,
    OUTPUT_FOLDER,
    TIMING_RUNS,
    ArgumentParser,
    add_data_arguments,
    add_other_frames_argument,
    add_split_arguments,
    entry_point,
    given_split_settings,
)
from utils.errors import InputError


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="evaluate.py", description=__doc__)
    add_data_arguments(parser)
    add_other_frames_argument(parser)
    parser.add_argument("--recognizer", type=INPUT_FILE, nargs="+", required=True, metavar="MODEL",
                        help="one or more trained models (.keras/.h5, each with its .json sidecar)")
    parser.add_argument("--output_dir", type=OUTPUT_FOLDER, default=Path("evaluation"),
                        help="where metrics, predictions, plots and the comparison table go")
    parser.add_argument("--batch_size", type=BATCH_SIZE, default=8, help="clips per prediction batch")
    parser.add_argument("--timing_runs", type=TIMING_RUNS, default=10,
                        help="timed calls per batch size for CPU latency/throughput; 0 skips timing")
    add_split_arguments(parser, inherited="default: each model's own test clips; given, the test clips of that split "
                        "instead, refused where the model has seen any of them")
    return parser


def requested_split(args, model_path: Path):
    """None (the model's own split), or the recorded settings with the split flags given applied."""
    from utils.data.splits import SplitSettings
    from utils.evaluation.held_out_clips import recorded_settings
    from utils.sidecar import read_sidecar, sidecar_path

    given = given_split_settings(args)
    if not given:
        return None
    recorded = recorded_settings(read_sidecar(model_path), sidecar_path(model_path)).to_json()
    return SplitSettings.from_json({**recorded, **given})


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.timing_runs < 0:
        raise InputError(f"--timing_runs must be 0 or more, got {args.timing_runs}")

    from utils.data.frames_data import open_frames
    from utils.evaluation.held_out_clips import test_clips_for
    from utils.evaluation.report import evaluate_models, output_names

    data = open_frames(args.data, args.annotations)
    for path in args.recognizer:
        if not path.is_file():
            raise InputError(f"--recognizer {path}: model file not found")
    check_outputs_apart({"--output_dir": args.output_dir},
                        {"--data": data.frames_path, **{f"--recognizer {p}": p for p in args.recognizer}})
    output_names(args.recognizer)  # the same model twice is refused before any work
    # Every sidecar, split and model file is checked before anything is scored or written.
    chosen = {path: test_clips_for(path, data, requested_split(args, path), args.allow_other_frames)
              for path in args.recognizer}

    from utils.tensorflow_runtime import import_tensorflow

    import_tensorflow()
    with output_lock(args.output_dir, "--output_dir"):
        print(evaluate_models(data, chosen, args.output_dir, args.batch_size, args.timing_runs))
    print(f"metrics, predictions and plots in {args.output_dir}/", flush=True)


if __name__ == "__main__":
    entry_point(main, "evaluate.py")

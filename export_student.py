#!/usr/bin/env python3
"""Export a trained student (or any model trained here) for deployment, and check each export.

    python export_student.py --data Output_dataset/UCF11 --recognizer models/UCF11_student_T10.keras \
        --output_dir export/UCF11_student_T10

Writes, in --output_dir:
    model.keras                a copy of the model (a candidate like the others)
    saved_model/               TensorFlow SavedModel (serving signature: uint8 clips -> logits)
    model_float32.tflite       TFLite, float32, built-in operators only, every convolution run by XNNPACK
    model_dynamic_int8.tflite  TFLite, int8 weights and float activations (dynamic range)
    model_int8.tflite          TFLite, full integer: int8 weights and activations, calibrated on clips
                               of the model's training split; uint8 clips in, float32 logits out
    model_int8_mixed.tflite    the same but for the first convolutions (faster in float32 where int8 ones over
                               few channels are slow, as on AVX2 CPUs without VNNI) and the logits layer
                               (int8 logits tie close classes), kept in float32
    model.json                 the model's sidecar (classes, clip shape), for predict.py
    export_report.md/.json     per form: file size, top-1 agreement with the Keras model and the largest
                               logit difference on the model's test clips (absolute, and as a share of
                               the clip's logit range), CPU latency per clip (batch 1); the CPU; the
                               recommended form: the fastest here with >= 99% top-1 agreement
    export.json                the manifest: every file with its size and SHA-256

The set is written beside --output_dir and swapped in whole once complete, so the folder holds the
earlier export or the new one, never a mix, whatever stops the run. --output_dir must be absent, empty
or an earlier export: a folder holding anything else is refused before any work.

The clips are the model's own test clips, from its sidecar, as evaluate.py scores it. Inputs are
uint8 N x T x H x W x 3 RGB clips and outputs are logits, as in the Keras model (softmax them for
probabilities). predict.py --recognizer OUTPUT_DIR runs the recommended form.
"""

from __future__ import annotations

import sys
from pathlib import Path

from utils.atomic_files import check_outputs_apart, output_lock
from utils.cli import (
    BATCH_SIZE,
    CLIP_COUNT,
    EXIT_INTERRUPTED,
    INPUT_FILE,
    OUTPUT_FOLDER,
    TIMING_RUNS,
    ArgumentParser,
    Number,
    add_data_arguments,
    add_other_frames_argument,
    ctrl_c_as_keyboard_interrupt,
    entry_point,
)
from utils.errors import InputError
from utils.export.choice import MIN_AGREEMENT
from utils.sidecar import read_sidecar

CALIBRATION_CLIPS = Number(1, 10**9, integer=True)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="export_student.py", description=__doc__)
    add_data_arguments(parser)
    add_other_frames_argument(parser)
    parser.add_argument("--recognizer", type=INPUT_FILE, required=True, metavar="MODEL",
                        help="trained model (.keras/.h5) with its .json sidecar")
    parser.add_argument("--output_dir", type=OUTPUT_FOLDER, default=Path("export"),
                        help="where the exported forms go: a new or empty folder, or an earlier export")
    parser.add_argument("--max_clips", type=CLIP_COUNT, default=0,
                        help="compare on at most this many test clips (0: all of them)")
    parser.add_argument("--timing_runs", type=TIMING_RUNS, default=20,
                        help="timed single-clip calls per form for the CPU latency, in up to 10 alternating rounds; 0 "
                             "skips timing (no recommended form: predict.py then times the forms where it runs)")
    parser.add_argument("--batch_size", type=BATCH_SIZE, default=8, help="clips per Keras prediction batch")
    parser.add_argument("--calibration_clips", type=CALIBRATION_CLIPS, default=100,
                        help="training clips (spread over the training split) that calibrate the full-integer int8 "
                             "model's activation ranges")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if not args.recognizer.is_file():
        raise InputError(f"--recognizer {args.recognizer}: model file not found")

    staged = None
    try:  # Ctrl-C at any point says what the output folder holds
        with ctrl_c_as_keyboard_interrupt():  # also one that TensorFlow's bindings turned into an error
            from utils.data.frames_data import open_frames
            from utils.evaluation.held_out_clips import test_clips_for

            data = open_frames(args.data, args.annotations)
            check_outputs_apart({"--output_dir": args.output_dir},
                                {"--data": data.frames_path, "--recognizer": args.recognizer})
            clips = test_clips_for(args.recognizer, data, allow_other_frames=args.allow_other_frames)
            indices = clips.indices[:args.max_clips] if args.max_clips else clips.indices

            from utils.export import export_set

            with output_lock(args.output_dir, "--output_dir"):
                export_set.recover(args.output_dir)
                before = export_set.check_output_folder(args.output_dir)

                from utils.tensorflow_runtime import import_tensorflow

                import_tensorflow()
                import numpy as np

                from models.logits import load_logits_model
                from utils.export.report import export_all

                record = read_sidecar(args.recognizer)
                model = load_logits_model(args.recognizer, "--recognizer", record)
                train = np.asarray(record["split"]["train_indices"], np.int64)
                calibration = train[np.linspace(0, len(train) - 1, min(args.calibration_clips, len(train))).astype(int)]
                with export_set.staged_export(args.output_dir, before) as staged:
                    reports, recommended = export_all(model, args.recognizer, record, data, indices, staged.folder,
                                                      args.batch_size, args.timing_runs, calibration)
    except KeyboardInterrupt:
        on_disk = staged.on_disk() if staged else f"nothing was changed in {args.output_dir}"
        print(f"\nexport_student.py: interrupted; {on_disk}. Run the same command again to export.", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    if recommended:
        print(f"recommended here: {recommended['path']} ({recommended['why']})")
    else:
        print("recommended: none measured (--timing_runs 0); predict.py times the forms where it runs")
    below = [f"{r.path} {100 * r.top1_agreement:.1f}%" for r in reports if r.top1_agreement < MIN_AGREEMENT]
    if below:
        print(f"note: below {100 * MIN_AGREEMENT:g}% top-1 agreement with the Keras model, so predict.py runs them "
              f"only when --form asks: {', '.join(below)}")

if __name__ == "__main__":
    entry_point(main, "export_student.py")

#!/usr/bin/env python3
"""Export a trained student (or any model trained here) for deployment, and check each export.

    python export_student.py --data Output_dataset/UCF11 --recognizer models/UCF11_student_T10.keras \
        --output_dir export/UCF11_student_T10

Writes, in --output_dir:
    saved_model/               TensorFlow SavedModel (serving signature: uint8 clips -> logits)
    model_float32.tflite       TFLite, float32, built-in operators only, every convolution run by XNNPACK
    model_dynamic_int8.tflite  TFLite, int8 weights and float activations (dynamic range)
    model_int8.tflite          TFLite, full integer: int8 weights and activations, calibrated on clips
                               of the model's training split; uint8 clips in, float32 logits out
    model.json                 the model's sidecar (classes, clip shape), for predict.py
    export_report.md/.json     per form: file size, top-1 agreement with the Keras model and the largest
                               logit difference on the model's test clips (absolute, and as a share of
                               the clip's logit range), CPU latency per clip (batch 1)

The clips are the model's own test clips, from its sidecar, as evaluate.py scores it. Inputs are
uint8 N x T x H x W x 3 RGB clips and outputs are logits, as in the Keras model (softmax them for
probabilities).
"""

from __future__ import annotations

from pathlib import Path

from utils.atomic_files import check_outputs_apart, output_lock
from utils.cli import ArgumentParser, add_data_arguments, add_other_frames_argument, non_negative_int, positive_int, run
from utils.errors import InputError

INT8_AGREEMENT_WARNING = 0.95


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="export_student.py", description=__doc__)
    add_data_arguments(parser)
    add_other_frames_argument(parser)
    parser.add_argument("--recognizer", type=Path, required=True, metavar="MODEL",
                        help="trained model (.keras/.h5) with its .json sidecar")
    parser.add_argument("--output_dir", type=Path, default=Path("export"), help="where the exported forms go")
    parser.add_argument("--max_clips", type=non_negative_int, default=0,
                        help="compare on at most this many test clips (0: all of them)")
    parser.add_argument("--timing_runs", type=non_negative_int, default=10,
                        help="timed single-clip calls per form for the CPU latency; 0 skips timing")
    parser.add_argument("--batch_size", type=positive_int, default=8, help="clips per Keras prediction batch")
    parser.add_argument("--calibration_clips", type=positive_int, default=100,
                        help="training clips (spread over the training split) that calibrate the full-integer int8 "
                             "model's activation ranges")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.timing_runs < 0 or args.max_clips < 0:
        raise InputError("--timing_runs and --max_clips must be 0 or more")
    if not args.recognizer.is_file():
        raise InputError(f"--recognizer {args.recognizer}: model file not found")

    from utils.data.frames_data import open_frames
    from utils.evaluation.test_clips import test_clips_for

    data = open_frames(args.data, args.annotations)
    check_outputs_apart({"--output_dir": args.output_dir}, {"--data": data.frames_path, "--recognizer": args.recognizer})
    clips = test_clips_for(args.recognizer, data, allow_other_frames=args.allow_other_frames)
    indices = clips.indices[:args.max_clips] if args.max_clips else clips.indices

    from utils.tensorflow_runtime import import_tensorflow

    import_tensorflow()
    import numpy as np

    from utils.export.report import export_all
    from utils.sidecar import read_sidecar

    train = np.asarray(read_sidecar(args.recognizer)["split"]["train_indices"], np.int64)
    calibration = train[np.linspace(0, len(train) - 1, min(args.calibration_clips, len(train))).astype(int)]
    with output_lock(args.output_dir, "--output_dir"):
        reports = export_all(args.recognizer, data, indices, args.output_dir, args.batch_size, args.timing_runs,
                             calibration)
    int8 = reports[-1]
    if int8.top1_agreement < INT8_AGREEMENT_WARNING:
        print(f"note: the int8 model agrees with the Keras model on {100 * int8.top1_agreement:.1f}% of the test "
              f"clips only; deploy the float32 TFLite model where that matters")


if __name__ == "__main__":
    run(main, "export_student.py")

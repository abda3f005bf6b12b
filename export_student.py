#!/usr/bin/env python3
"""Export a trained student (or any model trained here) for deployment, and check each export.

    python export_student.py --data Output_dataset/UCF11 --recognizer models/UCF11_student_T10.keras \
        --output_dir export/UCF11_student_T10

Writes, in --output_dir:
    saved_model/          TensorFlow SavedModel (serving signature: uint8 clips -> logits)
    model_float32.tflite  TFLite, float32, built-in operators only
    model_int8.tflite     TFLite, dynamic-range int8 weights (about 4x smaller)
    export_report.md/.json  per form: file size, top-1 agreement with the Keras model and the largest
                          logit difference on the model's test clips, CPU latency per clip (batch 1)

The clips are the model's own test clips, from its sidecar, as evaluate.py scores it. Inputs are
uint8 N x T x H x W x 3 RGB clips and outputs are logits, as in the Keras model (softmax them for
probabilities).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from utils.cli import ArgumentParser, add_data_arguments, positive_int, run
from utils.errors import InputError

INT8_AGREEMENT_WARNING = 0.95


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="export_student.py", description=__doc__)
    add_data_arguments(parser)
    parser.add_argument("--recognizer", type=Path, required=True, metavar="MODEL",
                        help="trained model (.keras/.h5) with its .json sidecar")
    parser.add_argument("--output_dir", type=Path, default=Path("export"), help="where the exported forms go")
    parser.add_argument("--max_clips", type=int, default=0,
                        help="compare on at most this many test clips (0: all of them)")
    parser.add_argument("--timing_runs", type=int, default=10,
                        help="timed single-clip calls per form for the CPU latency; 0 skips timing")
    parser.add_argument("--batch_size", type=positive_int, default=8, help="clips per Keras prediction batch")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.timing_runs < 0 or args.max_clips < 0:
        raise InputError("--timing_runs and --max_clips must be 0 or more")
    if not args.recognizer.is_file():
        raise InputError(f"--recognizer {args.recognizer}: model file not found")

    from utils.evaluation.test_clips import test_clips_for
    from utils.data.frames_data import open_frames

    data = open_frames(args.data, args.annotations)
    clips = test_clips_for(args.recognizer, data)
    indices = clips.indices[:args.max_clips] if args.max_clips else clips.indices

    from utils.tensorflow_runtime import import_tensorflow

    import_tensorflow()
    import tensorflow as tf

    from models.logits import load_logits_model
    from utils import atomic_files
    from utils.evaluation.test_clips import predict_logits
    from utils.export.forms import FormReport, compare, median_latency_ms, saved_model_runner, tflite_bytes, tflite_runner
    from utils.training.input_pipeline import ClipReader
    from utils.evaluation.tables import markdown_table

    model = load_logits_model(args.recognizer, "--recognizer")
    atomic_files.require_writable_folder(args.output_dir, f"--output_dir {args.output_dir}")
    print(f"comparing on {len(indices)} test clips of {args.recognizer}", flush=True)
    reference, _ = predict_logits(model, data, indices, args.batch_size)
    reader = ClipReader(data)
    keras_call = tf.function(lambda x: model(x, training=False))
    reports = [FormReport("Keras (.keras)", str(args.recognizer), args.recognizer.stat().st_size, 1.0, 0.0,
                          median_latency_ms(lambda x: keras_call(x).numpy(), reader.read(indices[:1])[0],
                                            args.timing_runs))]

    staging, final = args.output_dir / "saved_model.partial", args.output_dir / "saved_model"
    shutil.rmtree(staging, ignore_errors=True)
    model.export(str(staging), format="tf_saved_model", verbose=False)
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    reports.append(compare("SavedModel", final, saved_model_runner(final), reader, indices, reference,
                           args.timing_runs))
    for form, name, quantize in (("TFLite float32", "model_float32.tflite", False),
                                 ("TFLite int8 (dynamic range)", "model_int8.tflite", True)):
        path = args.output_dir / name
        print(f"converting to {form}", flush=True)
        with atomic_files.atomic_path(path) as temporary:
            temporary.write_bytes(tflite_bytes(model, quantize))
        reports.append(compare(form, path, tflite_runner(path), reader, indices, reference, args.timing_runs))

    rows = [[r.form, f"{r.size_bytes / 1e6:.2f}", f"{100 * r.top1_agreement:.1f}", f"{r.max_abs_logit_difference:.2g}",
             "—" if r.latency_ms_per_clip is None else f"{r.latency_ms_per_clip:.1f}"] for r in reports]
    table = markdown_table(["form", "size (MB)", "top-1 agreement with Keras (%)", "max abs logit difference",
                            "CPU latency (ms/clip, batch 1)"], rows)
    atomic_files.write_text(args.output_dir / "export_report.md",
                            f"{args.recognizer}: {len(indices)} test clips\n\n{table}\n")
    atomic_files.write_text(args.output_dir / "export_report.json", json.dumps(
        {"model": str(args.recognizer), "test_clips": len(indices), "forms": [r.to_json() for r in reports]}, indent=2))
    print(table)
    int8 = reports[-1]
    if int8.top1_agreement < INT8_AGREEMENT_WARNING:
        print(f"note: the int8 model agrees with the Keras model on {100 * int8.top1_agreement:.1f}% of the test "
              f"clips only; deploy the float32 TFLite model where that matters")


if __name__ == "__main__":
    run(main, "export_student.py")

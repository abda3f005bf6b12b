#!/usr/bin/env python3
"""Label new videos with a trained model: the top classes of each, with probabilities and timings.

    python predict.py --recognizer export/UCF11_student clip1.avi clip2.mp4
    python predict.py --recognizer models/UCF11_student_TFS_T10.keras clip1.avi clip2.mp4
    python predict.py --recognizer export/UCF11_student/model_int8.tflite --json videos/*.avi

Given an export folder (export_student.py's --output_dir), it runs the form the export recommends: the
fastest with at least 99% top-1 agreement with the Keras model, as timed on the export's CPU; on
another CPU (model name or instruction-set flags differ) it times those forms on one clip here first
and runs the fastest. One line says which form and why; --form picks one instead.

Each video is decoded once and sampled with the paper's rule (16 frames, skip = n // T), resized to
the model's clip size, exactly as video_to_frames.py does for training; a video shorter than the
clip repeats its last frame. The class names and clip size come from the model's sidecar
(NAME.json beside the model; for an exported file, the model.json export_student.py writes beside
it), and the model is checked against them (and, in an export folder, against its manifest). A video
that cannot be read gets one line on stderr and the others go on; the exit status is then 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from utils.cli import INPUT_FILE, ArgumentParser, Number, entry_point
from utils.export.forms import TFLITE_FORMS

FORMS = ("keras", "saved_model", *TFLITE_FORMS)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="predict.py", description=__doc__)
    parser.add_argument("--recognizer", type=INPUT_FILE, required=True, metavar="MODEL",
                        help="an export folder (export_student.py's --output_dir), a trained .keras (or .h5) model, or "
                             "an exported .tflite file or saved_model/ folder, with its sidecar")
    parser.add_argument("--form", choices=FORMS, default=None,
                        help="with an export folder: run this form instead of the recommended one")
    parser.add_argument("videos", type=Path, nargs="+", metavar="VIDEO", help="video files to label")
    parser.add_argument("--top", type=Number(1, 10**6, integer=True), default=5,
                        help="how many classes to list per video")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (a list with each video's classes, probabilities and timings)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from utils.data.frame_sampler import VideoError  # first: it quiets OpenCV's own log lines before cv2 loads
    from utils.errors import InputError
    from utils.export.recognizer import Recognizer, is_saved_model, open_export
    from utils.tensorflow_runtime import import_tensorflow

    export_folder = args.recognizer.is_dir() and not is_saved_model(args.recognizer)
    if args.form and not export_folder:
        raise InputError(f"--form {args.form}: applies to an export folder, and --recognizer {args.recognizer} is a "
                         "model file")
    if not export_folder and args.recognizer.suffix != ".tflite":
        import_tensorflow()
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if args.json else print  # stdout: the JSON alone
    recognizer = open_export(args.recognizer, args.form, say) if export_folder else Recognizer(args.recognizer)
    results, failed = [], 0
    for video in args.videos:
        try:
            if not video.is_file():
                raise VideoError("file not found")
            prediction = recognizer.predict(video, args.top)
        except (VideoError, OSError) as error:
            failed += 1
            print(f"predict.py: error: {video}: {error}", file=sys.stderr, flush=True)
            continue
        results.append(prediction)
        if not args.json:
            classes = ", ".join(f"{name} {100 * p:.1f}%" for name, p in prediction.top)
            print(f"{video}: {classes} (decode {prediction.decode_ms:.0f} ms, model {prediction.inference_ms:.1f} ms)",
                  flush=True)
    if args.json:
        print(json.dumps([p.to_json() for p in results], indent=2))
    if failed:
        raise SystemExit(2)


if __name__ == "__main__":
    entry_point(main, "predict.py")

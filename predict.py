#!/usr/bin/env python3
"""Label new videos with a trained model: the top classes of each, with probabilities and timings.

    python predict.py --recognizer models/UCF11_student_TFS_T10.keras clip1.avi clip2.mp4
    python predict.py --recognizer export/UCF11_student/model_int8.tflite --json videos/*.avi

Each video is decoded once and sampled with the paper's rule (16 frames, skip = n // T), resized to
the model's clip size, exactly as video_to_frames.py does for training; a video shorter than the
clip repeats its last frame. The class names and clip size come from the model's sidecar
(NAME.json beside the model; for an exported .tflite file, the model.json export_student.py writes
beside it). A video that cannot be read gets one line on stderr and the others go on; the exit
status is then 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from utils.cli import ArgumentParser, positive_int, run


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="predict.py", description=__doc__)
    parser.add_argument("--recognizer", type=Path, required=True, metavar="MODEL",
                        help="a trained .keras (or .h5) model, or an exported .tflite file, with its sidecar")
    parser.add_argument("videos", type=Path, nargs="+", metavar="VIDEO", help="video files to label")
    parser.add_argument("--top", type=positive_int, default=5, help="how many classes to list per video")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (a list with each video's classes, probabilities and timings)")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    from utils.data.frame_sampler import VideoError  # first: it quiets OpenCV's own log lines before cv2 loads
    from utils.tensorflow_runtime import import_tensorflow

    if args.recognizer.suffix != ".tflite":
        import_tensorflow()
    from utils.export.recognizer import Recognizer

    recognizer = Recognizer(args.recognizer)
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
    run(main, "predict.py")

"""Student vs teacher as deployed: the case for distillation, measured side by side in one process.

Both at the paper's width and clip size (16x112x112, 101 classes as UCF101), float32 on this CPU:
parameters, forward FLOPs per clip, size of the saved .keras file, median latency per clip at
batch 1 and throughput at batch 8 (utils/evaluation/model_cost.py, as evaluate.py reports them).
Then the student as export_student.py writes it: TFLite float32 and full-integer int8 against the
Keras model, timed in alternating rounds (a shared machine's speed drifts; each form meets the
drift alike), and the int8 file's size against the .keras file's.

    python -m bench.deployment [--large]     # --large: more timed runs
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.results import save_measurement

ROOT = Path(__file__).resolve().parents[1]
CLIP = (16, 112, 112, 3)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="3x the timed runs")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "deployment.json")
    args = parser.parse_args(argv)

    import utils  # noqa: F401  CPU settings before TensorFlow loads
    from models.c3d import student_c3d, teacher_c3d
    from utils.evaluation.model_cost import cpu_speed, flops_per_clip, parameter_count, size_on_disk

    runs = 15 if args.large else 5
    models = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, build in (("teacher", teacher_c3d), ("student", student_c3d)):
            model = build(101, CLIP)
            path = Path(folder) / f"{name}.keras"
            model.save(path)
            models[name] = {"params": parameter_count(model)["parameters"], "flops_per_clip": flops_per_clip(model),
                            "size_bytes": size_on_disk(path), **cpu_speed(model, runs=runs)}
            m = models[name]
            print(f"{name}: {m['params'] / 1e6:.1f} M params, {m['flops_per_clip'] / 1e9:.2f} GFLOPs/clip, "
                  f"{m['size_bytes'] / 1e6:.1f} MB, {m['latency_ms_per_clip']:.0f} ms/clip at batch 1, "
                  f"{m['throughput_clips_per_s']:.2f} clips/s at batch 8", flush=True)
        tflite = tflite_forms(student_c3d(101, CLIP), Path(folder), runs)
    print(f"student, batch 1: Keras {tflite['latency_ms']['keras']:.1f} ms, TFLite float32 "
          f"{tflite['latency_ms']['float32']:.1f} ms, TFLite int8 {tflite['latency_ms']['int8']:.1f} ms", flush=True)
    t, s = models["teacher"], models["student"]
    ratios = {"params": t["params"] / s["params"], "flops": t["flops_per_clip"] / s["flops_per_clip"],
              "size": t["size_bytes"] / s["size_bytes"], "latency": t["latency_ms_per_clip"] / s["latency_ms_per_clip"],
              "throughput": s["throughput_clips_per_s"] / t["throughput_clips_per_s"],
              "tflite_float32_over_keras": tflite["latency_ms"]["float32"] / tflite["latency_ms"]["keras"],
              "tflite_int8_over_float32": tflite["latency_ms"]["int8"] / tflite["latency_ms"]["float32"],
              "keras_file_over_int8_file": s["size_bytes"] / tflite["size_bytes"]["int8"]}
    result = {"clip": list(CLIP), "classes": 101, "models": models, "tflite": tflite, "ratios": ratios}
    save_measurement(args.json, result)
    print(f"student vs teacher: {ratios['params']:.1f}x fewer parameters, {ratios['flops']:.1f}x fewer FLOPs, "
          f"{ratios['size']:.1f}x smaller file, {ratios['latency']:.1f}x lower latency, "
          f"{ratios['throughput']:.1f}x the throughput")
    return result


def tflite_forms(model, folder: Path, runs: int, rounds: int = 3) -> dict:
    """Median batch-1 latency of ``model`` in Keras and as TFLite float32 and full-integer int8 (through
    utils/export/forms.py, calibrated on random clips: the weights are untrained, only speed is
    measured), in ``rounds`` alternating rounds of ``runs`` calls each; file sizes."""
    import functools

    import numpy as np

    from models.logits import inference_call
    from utils.evaluation.model_cost import interleaved_median_seconds
    from utils.export.forms import tflite_bytes, tflite_runner

    clips = np.random.default_rng(0).integers(0, 256, (9, *CLIP), dtype=np.uint8)
    paths = {"float32": folder / "student_float32.tflite", "int8": folder / "student_int8.tflite"}
    for form, path in paths.items():
        path.write_bytes(tflite_bytes(model, form, calibration=clips[1:] if form == "int8" else None))
    runners = {"keras": lambda c, call=inference_call(model): call(c).numpy(),
               **{form: tflite_runner(path) for form, path in paths.items()}}
    seconds = interleaved_median_seconds({form: functools.partial(run, clips[:1]) for form, run in runners.items()},
                                         runs * rounds, rounds)
    return {"latency_ms": {form: 1000 * value for form, value in seconds.items()},
            "size_bytes": {form: path.stat().st_size for form, path in paths.items()}}


if __name__ == "__main__":
    main()

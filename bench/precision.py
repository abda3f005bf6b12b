"""Mixed precision through the real script: ``train_student.py`` with its default ``--mixed_precision auto``
against ``--mixed_precision off``, side by side, and (``--parity``) the accuracy each reaches.

  speed    the paper's student (width 1.0) on 16x112x112 clips, batch 8: three epochs per setting,
           alternating settings over three rounds; a step's time is the median, over the rounds'
           second and third epochs, of the epoch's time (``epoch_seconds`` in the run's history;
           the first epoch's tracing is left out) over its steps
  parity   the demo's recipe on the synthetic set (make_synthetic_dataset.py's defaults, 16x32x32,
           width 0.25, 20 epochs, batch 16, Adam 1e-3, --init motion) for each --seeds, in both
           settings: test accuracy, mean and spread over the seeds. At 20 epochs the student is
           still learning and the seeds spread widely; --parity_epochs 50 (the reproduction's
           equal-budget student) gives a tighter comparison

  depth    TensorFlow's own bfloat16 3-D filter gradient against float32's, per input depth 1-6 (batch 4,
           4x4 frames, 32 channels): wrong at depth 2 on a CPU with AVX-512 BF16 in TensorFlow 2.21, which
           models/bfloat16_conv.py works around; and what the workaround costs, a bfloat16 training step of
           the demo's student and teacher (width 0.25, 16x32x32, batch 8) with TensorFlow's gradient and with
           the layer's, alternating over five rounds

On a CPU without bfloat16 units ``auto`` is float32, and both sides are the same computation.

    python -m bench.precision [--parity [--parity_epochs 50] [--seeds 0 1 2]] [--skip_speed]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.results import save_measurement

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("auto", "off")


def train(frames: Path, output: Path, precision: str, extra: list[str]) -> dict:
    shutil.rmtree(output.parent, ignore_errors=True)
    output.parent.mkdir(parents=True)
    result = subprocess.run([sys.executable, str(ROOT / "train_student.py"), "--data", str(frames), "--output_path",
                             str(output), "--logdir", str(output.parent / "runs"), "--mixed_precision", precision,
                             *extra], cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    chosen = next(line for line in result.stdout.splitlines() if line.startswith("precision:"))
    record = json.loads(output.with_suffix(".json").read_text())
    return {"precision_line": chosen, "sidecar": record, "history": output.with_name(output.stem + ".history.csv")}


def speed(workdir: Path, clips: int, repeats: int) -> dict:
    from bench.input_pipeline import real_frames_folder
    from utils.training.curves import read_history

    frames = real_frames_folder(workdir / "frames_112", clips=clips, shape=(16, 112, 112))
    steps = int(np.ceil(int(0.72 * clips) / 8))  # 80% train, 10% of it held out for validation
    seconds = {setting: [] for setting in SETTINGS}
    chosen = {}
    for _ in range(repeats):
        for setting in SETTINGS:
            run = train(frames, workdir / "speed" / f"{setting}.keras", setting, ["--epochs", "3", "--batch_size", "8"])
            seconds[setting] += [epoch / steps for epoch in read_history(run["history"])["epoch_seconds"][1:]]
            chosen[setting] = run["precision_line"]
    median = {setting: float(np.median(values)) for setting, values in seconds.items()}
    return {"clips": clips, "steps_per_epoch": steps, "seconds_per_step": median, "all_seconds_per_step": seconds,
            "chosen": chosen, "ratio_off_over_auto": median["off"] / median["auto"]}


def parity(workdir: Path, seeds: list[int], epochs: int = 20) -> dict:
    from utils.evaluation.seed_statistics import paired_differences, summarise

    frames = workdir / "synthetic_frames"
    if not (frames / "frames.npy").is_file():
        videos = workdir / "synthetic_videos"
        subprocess.run([sys.executable, str(ROOT / "make_synthetic_dataset.py"), "--output_path", str(videos)],
                       cwd=ROOT, check=True, capture_output=True)
        subprocess.run([sys.executable, str(ROOT / "video_to_frames.py"), "--input_path", str(videos), "--output_path",
                        str(frames), "--frame_height", "32", "--frame_width", "32", "--no_progress"], cwd=ROOT,
                       check=True, capture_output=True)
    recipe = ["--width", "0.25", "--epochs", str(epochs), "--batch_size", "16", "--lr", "1e-3", "--init", "motion"]
    accuracy = {setting: {} for setting in SETTINGS}
    for seed in seeds:
        for setting in SETTINGS:
            run = train(frames, workdir / "parity" / f"{setting}_{seed}.keras", setting, recipe + ["--seed", str(seed)])
            accuracy[setting][seed] = run["sidecar"]["metrics"]["test_accuracy"]
    summaries = {setting: summarise(list(values.values())) for setting, values in accuracy.items()}
    summary = {setting: {"mean": v.mean, "std": v.std} for setting, v in summaries.items()}
    # the seeds share splits and initial weights across the two settings, so the paired difference is
    # what tells a precision effect from the spread between seeds
    difference = paired_differences(accuracy["auto"], accuracy["off"])
    return {"seeds": seeds, "epochs": epochs, "test_accuracy": accuracy, "summary": summary,
            "auto_minus_off": {"mean": difference.mean, "ci95": [difference.low, difference.high]}}


def filter_gradient_error(depth: int, guarded: bool) -> float:
    """max |bfloat16 - float32| / max |float32| of a 3x3x3 'same' Conv3D's filter gradient at ``depth`` frames."""
    import keras
    import tensorflow as tf

    from models.bfloat16_conv import Bfloat16GuardedConv3D

    rng = np.random.default_rng(depth)
    x = tf.constant(rng.normal(size=(4, depth, 4, 4, 32)).astype(np.float32))
    kernels = {}
    for dtype in ("float32", "mixed_bfloat16"):
        layer = (Bfloat16GuardedConv3D if guarded else keras.layers.Conv3D)(32, 3, padding="same", dtype=dtype)
        layer.build(x.shape)
        layer.kernel.assign(rng.normal(size=layer.kernel.shape).astype(np.float32) * 0.05 if not kernels else
                            kernels["float32"][1])
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(tf.cast(layer(x), tf.float32)))
        kernels[dtype] = (tape.gradient(loss, layer.kernel).numpy(), layer.kernel)
    want, got = kernels["float32"][0], kernels["mixed_bfloat16"][0]
    return float(np.nan_to_num(np.abs(got - want).max(), nan=np.inf) / np.abs(want).max())


def guard_cost(rounds: int = 5) -> dict:
    """ms per bfloat16 training step of the demo's networks with TensorFlow's filter gradient everywhere
    (``tensorflow``: wrong at depth 2 where its kernel is) and with models/bfloat16_conv.py's (``guarded``)."""
    import keras

    import models.bfloat16_conv as guard
    from models.c3d import student_c3d, teacher_c3d
    from utils.training.trainer import compile_classifier

    rng = np.random.default_rng(0)
    clips, labels = rng.integers(0, 256, (8, 16, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 8)
    real = guard.uses_float32_filter_gradient
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    result = {}
    try:
        for name, build in (("student", student_c3d), ("teacher", teacher_c3d)):
            models = {}
            for side in ("tensorflow", "guarded"):  # the choice is made when the step is traced
                guard.uses_float32_filter_gradient = real if side == "guarded" else (lambda *_: False)
                models[side] = build(10, (16, 32, 32, 3), width=0.25)
                compile_classifier(models[side], 1e-4)
                for _ in range(2):
                    models[side].train_on_batch(clips, labels)
            seconds = {side: [] for side in models}
            for _ in range(rounds):
                for side, model in models.items():
                    start = time.perf_counter()
                    for _ in range(3):
                        model.train_on_batch(clips, labels)
                    seconds[side].append((time.perf_counter() - start) / 3)
            result[name] = {side: float(np.median(values)) for side, values in seconds.items()}
    finally:
        guard.uses_float32_filter_gradient = real
        keras.mixed_precision.set_global_policy("float32")
    return result


def depth_two() -> dict:
    errors = {depth: {"tensorflow": filter_gradient_error(depth, False), "guarded": filter_gradient_error(depth, True)}
              for depth in range(1, 7)}
    return {"relative_error": errors, "step_seconds": guard_cost()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="more clips and rounds")
    parser.add_argument("--parity", action="store_true", help="also train the demo's student per seed and setting")
    parser.add_argument("--parity_epochs", type=int, default=20, help="epochs per parity run (the demo's: 20)")
    parser.add_argument("--skip_speed", action="store_true", help="only the parity runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "precision")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "precision.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from utils.machine import describe_cpu

    result = {"cpu": describe_cpu()}
    d = result["depth"] = depth_two()
    for depth, error in d["relative_error"].items():
        print(f"bfloat16 filter gradient at depth {depth}, relative to float32: TensorFlow's {error['tensorflow']:.3g}, "
              f"models/bfloat16_conv.py's {error['guarded']:.3g}")
    for name, seconds in d["step_seconds"].items():
        print(f"bfloat16 step of the demo's {name}: TensorFlow's filter gradient {1000 * seconds['tensorflow']:.1f} ms, "
              f"the guarded layers' {1000 * seconds['guarded']:.1f} ms "
              f"({seconds['tensorflow'] / seconds['guarded']:.2f}x)")
    if not args.skip_speed:
        s = result["speed"] = speed(args.workdir, 128 if args.large else 64, 3)
        print(f"train_student.py, width 1.0, 16x112x112, batch 8: default (auto) "
              f"{1000 * s['seconds_per_step']['auto']:.0f} ms/step, --mixed_precision off "
              f"{1000 * s['seconds_per_step']['off']:.0f} ms/step ({s['chosen']['auto']})")
        print(f"default over off: {s['ratio_off_over_auto']:.2f}x faster per step [target >= 1.3 with bfloat16 units]")
    if args.parity:
        result["parity"] = parity(args.workdir, args.seeds, args.parity_epochs)
        for setting, values in result["parity"]["summary"].items():
            spread = f" ± {100 * values['std']:.1f}" if values["std"] is not None else ""
            print(f"demo student, {args.parity_epochs} epochs, --mixed_precision {setting}: test accuracy "
                  f"{100 * values['mean']:.1f}{spread} % over seeds {args.seeds}: "
                  f"{result['parity']['test_accuracy'][setting]}")
        difference = result["parity"]["auto_minus_off"]
        interval = "" if difference["ci95"][0] is None else \
            f", 95% interval [{100 * difference['ci95'][0]:+.1f}, {100 * difference['ci95'][1]:+.1f}]"
        print(f"auto minus off, paired by seed: {100 * difference['mean']:+.1f} points{interval}")
    save_measurement(args.json, result)
    return result


if __name__ == "__main__":
    main()

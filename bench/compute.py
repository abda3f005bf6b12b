"""Compute efficiency: FLOP/s of teacher and student training steps against the machine's matmul.

Each variant runs in its own process (thread pools and oneDNN are fixed at TensorFlow's start),
which measures, side by side:

  matmul   float32 2048x2048 matrix products: the dense FLOP/s this machine reaches
  step     training steps of the model on one in-memory batch of 16x112x112 clips (the paper's
           clip size), width 1.0, after warm-up steps; FLOPs per step = 3 x forward FLOPs per
           clip (utils/evaluation/model_cost.py) x batch (backward = two forward-sized products)

  peaks    the same matmul and a 3x3x3 Conv3D (8x16x28x28x128 -> 256 channels) in float32 and in
           bfloat16, side by side: what the CPU's units reach in each precision

Variants: TensorFlow's default CPU setting on this machine (oneDNN off on AMD CPUs: the "before"),
this project's setting (oneDNN on), XLA (``--jit_compile on``), a larger batch, and Keras's mixed
bfloat16 policy (what ``--mixed_precision auto`` picks on a CPU with bfloat16 units). The efficiency
is step FLOP/s over the best matmul FLOP/s of the run in the precision the step computes in. GPU
speeds are bench/gpu.py's.

    python -m bench.compute [--large]     # --large: more timed steps
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.results import save_measurement

ROOT = Path(__file__).resolve().parents[1]
CLIP = (16, 112, 112, 3)
VARIANTS = [  # (name, model, batch, oneDNN, jit)
    ("student, TensorFlow default (oneDNN off)", "student", 8, "0", False),
    ("student, this project (oneDNN on)", "student", 8, "1", False),
    ("student, oneDNN + XLA", "student", 8, "1", True),
    ("student, oneDNN, batch 16", "student", 16, "1", False),
    ("teacher, TensorFlow default (oneDNN off)", "teacher", 8, "0", False),
    ("teacher, this project (oneDNN on)", "teacher", 8, "1", False),
]
BFLOAT16_VARIANTS = [  # (name, model, batch): oneDNN on, no XLA, Keras's mixed_bfloat16 policy
    ("student, mixed bfloat16 (oneDNN on)", "student", 8),
    ("teacher, mixed bfloat16 (oneDNN on)", "teacher", 8),
]


def peak_flops(dtype: str, reps: int = 10) -> dict:
    """Best FLOP/s of a 2048² matmul and of a 3x3x3 Conv3D (8x16x28x28x128 -> 256) in ``dtype``."""
    import tensorflow as tf

    def best(call, flops: float) -> float:
        call().numpy()
        fastest = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(reps):
                out = call()
            out.numpy()
            fastest = min(fastest, (time.perf_counter() - start) / reps)
        return flops / fastest

    n = 2048
    a, b = (tf.cast(tf.random.normal((n, n)), dtype) for _ in range(2))
    x = tf.cast(tf.random.normal((8, 16, 28, 28, 128)), dtype)
    k = tf.cast(tf.random.normal((3, 3, 3, 128, 256)), dtype)
    conv_flops = 2 * 8 * 16 * 28 * 28 * 256 * 27 * 128
    return {"matmul": best(tf.function(lambda: tf.matmul(a, b)), 2 * n**3),
            "conv3d": best(tf.function(lambda: tf.nn.conv3d(x, k, [1] * 5, "SAME")), conv_flops)}


def measure_peaks(dtypes: tuple[str, ...] = ("float32", "bfloat16")) -> dict:
    """Runs in its own process: each precision's peaks, interleaved, best of two rounds each."""
    rounds = [peak_flops(dtype) for dtype in dtypes * 2]
    return {dtype: {op: max(r[op] for r in rounds[i::len(dtypes)]) for op in ("matmul", "conv3d")}
            for i, dtype in enumerate(dtypes)}


def bfloat16_skip_reason() -> str | None:
    """Why bfloat16 is not measured here, or None where the CPU has bfloat16 units. Without them TensorFlow
    emulates bfloat16 (on a 2-core AVX2 EPYC the bfloat16 peaks had not finished after 17 minutes), and
    --mixed_precision auto never picks it there."""
    from utils.machine import has_native_bfloat16

    if has_native_bfloat16():
        return None
    return "no bfloat16 units on this CPU (avx512_bf16, amx_bf16): emulated, and --mixed_precision auto picks float32"


def measure(model_name: str, batch: int, jit: bool, steps: int, precision: str = "off") -> dict:
    """Runs inside the variant's own process."""
    import numpy as np
    import tensorflow as tf

    from models.c3d import student_c3d, teacher_c3d
    from utils.evaluation.model_cost import flops_per_clip
    from utils.training.precision import set_precision
    from utils.training.trainer import compile_classifier

    set_precision(precision)
    dtype = "bfloat16" if precision == "bfloat16" else "float32"

    def matmul_flops(n: int = 2048, reps: int = 10) -> float:
        a, b = (tf.cast(tf.random.normal((n, n)), dtype) for _ in range(2))
        product = tf.function(lambda: tf.matmul(a, b))
        product().numpy()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(reps):
                out = product()
            out.numpy()
            best = min(best, (time.perf_counter() - start) / reps)
        return 2 * n**3 / best

    build = student_c3d if model_name == "student" else teacher_c3d
    tf.keras.utils.set_random_seed(0)
    model = build(101, CLIP)
    compile_classifier(model, 1e-4, jit_compile=jit)
    clips = np.random.default_rng(0).integers(0, 256, (batch, *CLIP), dtype=np.uint8)
    labels = np.arange(batch) % 101
    before = matmul_flops()
    for _ in range(2 if model_name == "student" else 1):  # tracing, then oneDNN's primitive set-up
        model.train_on_batch(clips, labels)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(clips, labels)
    seconds = (time.perf_counter() - start) / steps
    after = matmul_flops()
    step_flops = 3 * flops_per_clip(model) * batch
    return {"seconds_per_step": seconds, "step_flops": step_flops, "step_flops_per_s": step_flops / seconds,
            "clips_per_s": batch / seconds, "matmul_flops_per_s": max(before, after)}


def run_variant(model_name: str, batch: int, onednn: str, jit: bool, steps: int, precision: str = "off") -> dict:
    code = (f"import json, bench.compute as c; "
            f"print(json.dumps(c.measure({model_name!r}, {batch}, {jit}, {steps}, {precision!r})))")
    return run_code(code, {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="3x the timed steps")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "compute.json")
    args = parser.parse_args(argv)
    skipped = bfloat16_skip_reason()
    dtypes = ("float32",) if skipped else ("float32", "bfloat16")
    peaks = run_code(f"import json, bench.compute as c; print(json.dumps(c.measure_peaks({dtypes!r})))")
    if skipped:
        print(f"bfloat16 not measured: {skipped}", flush=True)
    for dtype, values in peaks.items():
        print(f"{dtype}: matmul {values['matmul'] / 1e9:.0f} GFLOP/s, Conv3D {values['conv3d'] / 1e9:.0f} GFLOP/s",
              flush=True)
    variants = []
    runs = [(name, model, batch, onednn, jit, "off") for name, model, batch, onednn, jit in VARIANTS]
    runs += [(name, model, batch, "1", False, "bfloat16") for name, model, batch in BFLOAT16_VARIANTS if not skipped]
    for name, model_name, batch, onednn, jit, precision in runs:
        steps = (2 if model_name == "student" else 1) * (3 if args.large else 1)
        measured = run_variant(model_name, batch, onednn, jit, steps, precision)
        variants.append({"name": name, "model": model_name, "batch": batch, "onednn": onednn == "1", "jit": jit,
                         "precision": "bfloat16" if precision == "bfloat16" else "float32", "steps": steps, **measured})
        print(f"{name}: {measured['seconds_per_step']:.2f} s/step, "
              f"{measured['step_flops_per_s'] / 1e9:.1f} GFLOP/s", flush=True)
    for dtype, values in peaks.items():  # one peak per precision: the best matmul anywhere in the run
        values["matmul"] = max(values["matmul"], *(v["matmul_flops_per_s"] for v in variants if v["precision"] == dtype))
    for v in variants:  # against the peak of the precision the step computes in
        v["reference_flops_per_s"] = peaks[v["precision"]]["matmul"]
        v["efficiency"] = v["step_flops_per_s"] / v["reference_flops_per_s"]
    float32_peak = peaks["float32"]["matmul"]
    result = {"clip": list(CLIP), "width": 1.0, "matmul_flops_per_s": float32_peak, "peaks": peaks,
              "variants": variants, "bfloat16_skipped": skipped}
    save_measurement(args.json, result)
    for dtype, values in peaks.items():
        print(f"{dtype} peak, best in the run: matmul {values['matmul'] / 1e9:.0f} GFLOP/s")
    for v in variants:
        print(f"{v['name']}: {100 * v['efficiency']:.0f}% of the {v['precision']} matmul"
              + (f" [target >= {70 if v['model'] == 'teacher' else 40}%]" if v["precision"] == "float32" else ""))
    for model in ("student", "teacher") if not skipped else ():
        f32 = next(v for v in variants if v["model"] == model and v["onednn"] and not v["jit"] and v["batch"] == 8
                   and v["precision"] == "float32")
        b16 = next(v for v in variants if v["model"] == model and v["precision"] == "bfloat16")
        print(f"{model} step, mixed bfloat16 over float32: {f32['seconds_per_step'] / b16['seconds_per_step']:.2f}x faster")
    return result


def run_code(code: str, env: dict | None = None):
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env or dict(os.environ), capture_output=True,
                            text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()

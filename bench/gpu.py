"""GPU check: the teacher's and the student's training speed on a GPU, and whether the input
pipeline keeps the GPU fed.

Written for a GPU that is there for minutes: one process, a few steps of everything, and a time
budget after which no new measurement starts (those left out say so), under 5 minutes on one
H200-class GPU. Without a GPU it says so in one line and measures nothing.

  speed     teacher_c3d and student_c3d (width 1.0, 16x112x112, 11 classes, batch 16), compiled by
            utils.training.trainer.compile_classifier and trained on one batch held on the GPU: warm-up
            steps (tracing, XLA compilation, cuDNN autotuning), then timed steps. Settings: float32,
            mixed float16, each with and without XLA (jit_compile=True), and the training scripts'
            default on this GPU (--mixed_precision auto, --jit_compile auto).
  pipeline  the student in the scripts' default setting, fed by utils.training.input_pipeline.
            clip_dataset over a frames.npy on disk, against the same model fed the batch held on the
            GPU, in alternating rounds (best of each): streaming's overhead should stay under 10%.

    python -m bench.gpu [--large]       # python -m bench --only gpu also records the rows
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from bench.results import save_measurement

ROOT = Path(__file__).resolve().parents[1]
NO_GPU = "no GPU visible to TensorFlow on this machine: nothing measured, nothing written"


@dataclass(frozen=True)
class Setting:
    name: str
    precision: str  # utils.training.precision.set_precision's: off, float16, bfloat16
    jit: bool | str  # Model.compile's jit_compile


SETTINGS = (Setting("float32", "off", False), Setting("mixed float16", "float16", False),
            Setting("mixed float16 + XLA", "float16", True), Setting("float32 + XLA", "off", True))


@dataclass(frozen=True)
class Plan:
    """How much to measure; the defaults fit one GPU in under 5 minutes, with TensorFlow's start."""

    clip: tuple[int, int, int, int] = (16, 112, 112, 3)
    classes: int = 11
    width: float = 1.0
    batch: int = 16
    warmup: int = 3  # steps before timing: tracing, XLA compilation, cuDNN autotuning
    steps: int = 20  # timed steps per model and setting
    pipeline_clips: int = 256  # clips in the frames.npy the pipeline streams
    pipeline_steps: int = 30  # steps per side and round
    rounds: int = 2
    budget_s: float = 180.0  # no model and setting starts after this many seconds


def visible_gpus() -> list[dict]:
    from utils.tensorflow_runtime import import_tensorflow

    import_tensorflow()
    import tensorflow as tf

    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        capability = details.get("compute_capability")
        gpus.append({"name": details.get("device_name", device.name),
                     "compute_capability": f"{capability[0]}.{capability[1]}" if capability else None})
    return gpus


def unavailable() -> str | None:
    """Why this check cannot run here (python -m bench skips it with this line), or None."""
    return None if visible_gpus() else NO_GPU


def scripts_default() -> Setting:
    """What train_*.py run in here by default: --mixed_precision auto, --jit_compile auto (XLA on a GPU)."""
    from utils.training.precision import resolve_precision

    precision, _ = resolve_precision("auto")
    return Setting(f"scripts' default ({'float32' if precision == 'off' else 'mixed ' + precision}, XLA auto)",
                   precision, "auto")


def held_batch(plan: Plan, device: str):
    """One batch of random clips and labels, placed on ``device`` once."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    with tf.device(device):
        clips = tf.constant(rng.integers(0, 256, (plan.batch, *plan.clip), dtype=np.uint8))
        labels = tf.constant(np.arange(plan.batch, dtype=np.int64) % plan.classes)
    return clips, labels


def train_steps_per_second(model, batches, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(*next(batches))  # returns the loss as a Python number: waits for the step
    return steps / (time.perf_counter() - start)


def build(model_name: str, setting: Setting, plan: Plan):
    import keras

    from models.c3d import student_c3d, teacher_c3d
    from utils.training.precision import set_precision
    from utils.training.trainer import compile_classifier

    set_precision(setting.precision)
    keras.utils.set_random_seed(0)
    model = (teacher_c3d if model_name == "teacher" else student_c3d)(plan.classes, plan.clip, width=plan.width)
    compile_classifier(model, 1e-4, jit_compile=setting.jit)
    return model


def speed(model, held, plan: Plan) -> dict:
    from utils.evaluation.model_cost import flops_per_clip

    start = time.perf_counter()
    train_steps_per_second(model, itertools.repeat(held), plan.warmup)
    warmup_seconds = time.perf_counter() - start
    rate = train_steps_per_second(model, itertools.repeat(held), plan.steps)
    step_flops = 3 * flops_per_clip(model) * plan.batch  # backward = two forward-sized products
    return {"warmup_seconds": warmup_seconds, "seconds_per_step": 1 / rate, "clips_per_s": plan.batch * rate,
            "step_flops_per_s": step_flops * rate}


def pipeline(model, held, frames: Path, plan: Plan) -> dict:
    """Steps/s fed by clip_dataset over ``frames`` against steps/s on the held batch, same model."""
    from utils.data.frames_data import open_frames
    from utils.training.input_pipeline import clip_dataset

    data = open_frames(frames)
    streamed = iter(clip_dataset(data, np.arange(len(data.labels)), plan.batch, shuffle=True, seed=0, repeat=True))
    train_steps_per_second(model, streamed, plan.warmup)  # the pipeline's threads, the prefetch buffer
    rates = {"held": [], "streamed": []}
    for _ in range(plan.rounds):
        rates["held"].append(train_steps_per_second(model, itertools.repeat(held), plan.pipeline_steps))
        rates["streamed"].append(train_steps_per_second(model, streamed, plan.pipeline_steps))
    best = {side: max(values) for side, values in rates.items()}
    return {"clips": len(data.labels), "steps": plan.pipeline_steps, "rounds": plan.rounds,
            "steps_per_second": best, "slowdown": best["held"] / best["streamed"] - 1}


def measure(gpus: list[dict], plan: Plan, settings: list[Setting], pipeline_setting: Setting, device: str,
            workdir: Path) -> dict:
    """Every model in every setting, the pipeline check after the student in ``pipeline_setting``.

    ``device`` holds the batch; the models go where TensorFlow places them (its first GPU). A test
    passes a stand-in GPU list, "/CPU:0" and a tiny plan to run this same path on a CPU.
    """
    import keras

    from bench.input_pipeline import real_frames_folder
    from utils.training.precision import set_precision

    start = time.perf_counter()
    frames = real_frames_folder(workdir / "gpu_frames", plan.pipeline_clips, shape=plan.clip[:3])
    held = held_batch(plan, device)
    variants, checked = [], {"model": "student", "setting": pipeline_setting.name, "skipped": "not reached"}
    for setting, model_name in itertools.product(settings, ("student", "teacher")):
        entry = {"model": model_name, "setting": setting.name, "precision": setting.precision, "jit": setting.jit}
        if time.perf_counter() - start > plan.budget_s:
            variants.append({**entry, "skipped": f"past the {plan.budget_s:.0f} s budget"})
            continue
        try:  # one setting failing (XLA, memory) must not cost the rows of the others
            model = build(model_name, setting, plan)
            measured = speed(model, held, plan)
        except Exception as error:  # noqa: BLE001  recorded in its row, and printed
            variants.append({**entry, "skipped": f"failed: {failure(error)}"})
            print(f"{model_name}, {setting.name}: {variants[-1]['skipped']}", flush=True)
            keras.backend.clear_session()
            continue
        variants.append({**entry, **measured})
        print(f"{model_name}, {setting.name}: {measured['clips_per_s']:.0f} clips/s "
              f"({1000 * measured['seconds_per_step']:.1f} ms/step; warm-up {measured['warmup_seconds']:.0f} s)",
              flush=True)
        if model_name == "student" and setting == pipeline_setting:
            try:
                checked = {"model": "student", "setting": setting.name, **pipeline(model, held, frames, plan)}
                print(f"pipeline: {checked['steps_per_second']['streamed']:.1f} steps/s streamed, "
                      f"{checked['steps_per_second']['held']:.1f} held on the device", flush=True)
            except Exception as error:  # noqa: BLE001
                checked = {**checked, "skipped": f"failed: {failure(error)}"}
                print(f"pipeline: {checked['skipped']}", flush=True)
        del model
        keras.backend.clear_session()
    set_precision("off")
    return {"gpu": {**gpus[0], "count": len(gpus)}, "held_on": held[0].device, **asdict(plan),
            "variants": variants, "pipeline": checked, "seconds": time.perf_counter() - start}


def failure(error: Exception) -> str:
    """The error's type and first line: TensorFlow's messages run to pages."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first[:200]}" if first else type(error).__name__


def report(result: dict) -> str:
    lines = [f"GPU: {result['gpu']['name']} (compute capability {result['gpu']['compute_capability']}); "
             f"the held batch lives on {result['held_on']}"]
    for v in result["variants"]:
        lines.append(f"{v['model']}, {v['setting']}: " + (
            f"{v['clips_per_s']:.0f} clips/s, {v['step_flops_per_s'] / 1e12:.1f} TFLOP/s" if "clips_per_s" in v
            else f"not measured ({v['skipped']})"))
    p = result["pipeline"]
    if "slowdown" in p:
        lines.append(f"pipeline, student {p['setting']}: streaming from frames.npy "
                     f"{100 * p['slowdown']:+.1f}% slower than one batch held on the GPU [target < 10%]")
    else:
        lines.append(f"pipeline: not measured ({p['skipped']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="2x the timed steps")
    parser.add_argument("--budget", type=float, default=Plan.budget_s,
                        help="seconds after which no new model and setting starts (default %(default)s)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "gpu")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "gpu.json")
    args = parser.parse_args(argv)
    gpus = visible_gpus()
    if not gpus:
        print(f"bench.gpu: {NO_GPU}")
        return None
    plan = Plan(budget_s=args.budget)
    if args.large:
        plan = replace(plan, steps=2 * plan.steps, pipeline_steps=2 * plan.pipeline_steps)
    default = scripts_default()
    result = measure(gpus, plan, [*SETTINGS[:2], default, *SETTINGS[2:]], default, "/GPU:0", args.workdir)
    save_measurement(args.json, result)
    print(report(result))
    return result


if __name__ == "__main__":
    main()

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

On a CPU without bfloat16 units ``auto`` is float32, and both sides are the same computation.

    python -m bench.precision [--parity [--parity_epochs 50] [--seeds 0 1 2]] [--skip_speed]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
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

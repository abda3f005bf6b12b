"""Distillation benchmark: cached teacher logits vs running the teacher online, side by side.

Teacher and student at the paper's width (1.0), on 16x32x32 clips (a reduced frame size, so it fits
a CPU run), batch 8. Both sides are the project's own code in this process: distillation runs are
utils/training/run.train_and_save (the loop, callbacks and saving distill.py uses), and the cache is
utils/training/teacher_cache.teacher_logits_table.

  per epoch   the median epoch time (epoch_seconds in the run's history, from the second epoch on)
              of a run with the teacher called on every batch, and of one reading its cached logits
  sweep       the paper's 5 temperatures x --epochs epochs: five online runs, against one teacher
              pass to build the cache plus five cached runs (each run a fresh student)

    python -m bench.distillation [--large]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from bench.results import save_measurement

ROOT = Path(__file__).resolve().parents[1]
TEMPERATURES = (1, 5, 10, 15, 20)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="4x the clips")
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run of the sweep")
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs after the first, per side")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "distillation")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "distillation.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    import keras

    from bench.input_pipeline import real_frames_folder
    from models.c3d import student_c3d, teacher_c3d
    from models.distiller import Distiller
    from utils.data.frames_data import open_frames
    from utils.data.splits import SplitSettings, make_split
    from utils.training.curves import read_history
    from utils.training.outputs import RunPaths
    from utils.training.settings import TrainSettings
    from utils.training.teacher_cache import file_sha256, teacher_logits_table
    from utils.training.trainer import seed_everything, train_and_save

    clips = args.clips * (4 if args.large else 1)
    data = open_frames(real_frames_folder(args.workdir / "frames", clips=clips, shape=(16, 32, 32)))
    split = make_split(data.labels, data.paths, SplitSettings(val_size=0.0), data.classes)
    seen = np.concatenate([split.train, split.val])
    seed_everything(0)
    teacher_path = args.workdir / "teacher.keras"
    teacher_c3d(data.num_classes, data.clip_shape).save(teacher_path)
    teacher = keras.models.load_model(teacher_path)
    teacher_sha = file_sha256(teacher_path)

    def build_cache() -> np.ndarray:
        for stale in args.workdir.glob("teacher.logits-*.npz"):
            stale.unlink()
        return teacher_logits_table(teacher, teacher_path, teacher_sha, data, seen, 8)[0]

    def distil(name: str, temperature: float, epochs: int, table) -> Path:
        """One distill.py run at this temperature; returns its history file."""
        output = args.workdir / "runs" / f"{name}.keras"
        shutil.rmtree(output.parent, ignore_errors=True)
        output.parent.mkdir(parents=True)
        paths = RunPaths.for_output(output, logdir=output.parent / "tensorboard")  # not ./runs/ of the caller's folder
        settings = TrainSettings(data=data.frames_path, paths=paths, batch_size=8, epochs=epochs,
                                 split=SplitSettings(val_size=0.0))
        seed_everything(0)
        distiller = Distiller(student_c3d(data.num_classes, data.clip_shape), teacher)
        distiller.compile(keras.optimizers.Adam(1e-4), alpha=0.1, temperature=temperature)
        train_and_save(distiller, data, split, settings, {"role": "distilled_student", "architecture": "c3d_student"},
                       teacher_logits=table)
        return settings.paths.history

    def epoch_seconds(table) -> float:
        history = read_history(distil("epoch", 10, 1 + args.repeats, table))
        return float(np.median(history["epoch_seconds"][1:]))  # the first epoch traces the step

    def sweep_seconds(cached: bool) -> float:
        start = time.perf_counter()
        table = build_cache() if cached else None
        for temperature in TEMPERATURES:
            distil(f"sweep_T{temperature}", temperature, args.epochs, table)
        return time.perf_counter() - start

    start = time.perf_counter()
    cache_table = build_cache()
    cache_build = time.perf_counter() - start
    epoch = {"online": epoch_seconds(None), "cached": epoch_seconds(cache_table)}
    sweep = {"online": sweep_seconds(False), "cached": sweep_seconds(True)}
    result = {
        "clips": clips, "clip": list(data.clip_shape), "batch": 8, "width": 1.0,
        "epoch_seconds": epoch, "cache_build_seconds": cache_build,
        "sweep": {"temperatures": list(TEMPERATURES), "epochs_per_run": args.epochs, "seconds": sweep},
        "ratios": {"epoch": epoch["online"] / epoch["cached"], "sweep": sweep["online"] / sweep["cached"]},
    }
    save_measurement(args.json, result)
    print("\n".join([
        f"{clips} clips {result['clip']}, teacher and student at width 1.0, batch 8",
        f"one epoch: online teacher {epoch['online']:.2f} s, cached logits {epoch['cached']:.2f} s; "
        f"building the cache (one teacher pass) {cache_build:.2f} s",
        f"5-temperature sweep, {args.epochs} epochs each: five online runs {sweep['online']:.1f} s, "
        f"cache + five cached runs {sweep['cached']:.1f} s",
        f"per-epoch speed-up of the cache: {result['ratios']['epoch']:.2f}x [target >= 2.5]",
        f"sweep speed-up of the cache: {result['ratios']['sweep']:.2f}x (fixed start-up costs weigh more in short sweeps)",
    ]))
    return result


if __name__ == "__main__":
    main()

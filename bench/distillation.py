"""Distillation benchmark: cached teacher logits vs running the teacher online, side by side.

Teacher and student at the paper's width (1.0), on 16x32x32 clips (a reduced frame size, so it fits
a CPU run), batch 8. In this one process:

  per epoch   one distillation epoch with the teacher run on every batch, and one with its logits
              read from the cache (both after a warm-up epoch), best of --repeats
  sweep       the paper's 5 temperatures x --epochs epochs: five online runs, against one teacher
              pass to build the cache plus five cached runs (each run a fresh student)

    python -m bench.distillation [--large]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TEMPERATURES = (1, 5, 10, 15, 20)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="4x the clips")
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run of the sweep")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "distillation")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "distillation.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    import keras

    from bench.input_pipeline import real_frames_folder
    from models.c3d import student_c3d, teacher_c3d
    from models.distiller import Distiller
    from utils.data.frames_data import open_frames
    from utils.training.input_pipeline import clip_dataset
    from utils.training.run import seed_everything

    clips = args.clips * (4 if args.large else 1)
    data = open_frames(real_frames_folder(args.workdir / "frames", clips=clips, shape=(16, 32, 32)))
    indices = np.arange(clips)
    seed_everything(0)
    teacher = teacher_c3d(data.num_classes, data.clip_shape)

    def distiller_for(temperature: float) -> Distiller:
        distiller = Distiller(student_c3d(data.num_classes, data.clip_shape), teacher)
        distiller.compile(keras.optimizers.Adam(1e-4), ["accuracy"],
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          keras.losses.KLDivergence(), alpha=0.1, temperature=temperature)
        return distiller

    def build_cache() -> np.ndarray:
        table = np.zeros((clips, data.num_classes), np.float32)
        table[indices] = teacher.predict(clip_dataset(data, indices, 8, shuffle=False), verbose=0)
        return table

    def dataset(table):
        return clip_dataset(data, indices, 8, shuffle=True, seed=0, teacher_logits=table)

    def epoch_seconds(table) -> float:
        distiller = distiller_for(10)
        distiller.fit(dataset(table), epochs=1, verbose=0)  # warm-up: tracing
        start = time.perf_counter()
        distiller.fit(dataset(table), epochs=1, verbose=0)
        return time.perf_counter() - start

    def sweep_seconds(cached: bool) -> float:
        start = time.perf_counter()
        table = build_cache() if cached else None
        for temperature in TEMPERATURES:
            distiller_for(temperature).fit(dataset(table), epochs=args.epochs, verbose=0)
        return time.perf_counter() - start

    cache_table = build_cache()
    start = time.perf_counter()
    build_cache()
    cache_build = time.perf_counter() - start
    per_epoch = {"online": [], "cached": []}
    for _ in range(args.repeats):
        per_epoch["online"].append(epoch_seconds(None))
        per_epoch["cached"].append(epoch_seconds(cache_table))
    epoch = {k: min(v) for k, v in per_epoch.items()}
    sweep = {"online": sweep_seconds(False), "cached": sweep_seconds(True)}
    result = {
        "clips": clips, "clip": list(data.clip_shape), "batch": 8, "width": 1.0,
        "epoch_seconds": epoch, "cache_build_seconds": cache_build,
        "sweep": {"temperatures": list(TEMPERATURES), "epochs_per_run": args.epochs, "seconds": sweep},
        "ratios": {"epoch": epoch["online"] / epoch["cached"], "sweep": sweep["online"] / sweep["cached"]},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
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

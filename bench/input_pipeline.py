"""Input-pipeline benchmarks: streaming from frames.npy on disk vs one batch in memory, and memory.

1. Speed: the same student model trains ``--steps`` steps (after a warm-up epoch) fed by
   utils.training.input_pipeline.clip_dataset over a frames.npy file, and fed by one batch already in
   memory repeated; both in this process, alternating. Target: streaming under 10% slower.
2. Memory: one epoch of the input pipeline over a 1 GiB frames.npy and over a 4 GiB one (sparse
   files of 16x112x112 clips, so no disk is spent), each in its own process; and with ``--large``
   also a whole train_student.py run (one epoch, tiny model, 16x32x32 clips) over 150 MiB and
   600 MiB of frames, peak RSS from each run's sidecar. Target: under 10% growth. For reference,
   peak RSS of loading the smaller file whole, as the original code did.

    python -m bench.input_pipeline [--large]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.results import save_measurement

ROOT = Path(__file__).resolve().parents[1]


def sparse_frames_folder(folder: Path, clips: int, shape=(16, 32, 32), classes: int = 4) -> Path:
    """A frames folder whose frames.npy is a sparse file of zeros: any size, no disk or write time."""
    from utils.data.npy_stream import HEADER_BYTES, npy_header

    folder.mkdir(parents=True, exist_ok=True)
    frames = folder / "frames.npy"
    with open(frames, "wb") as handle:
        handle.write(npy_header((clips, *shape, 3)))
        handle.truncate(HEADER_BYTES + clips * int(np.prod(shape)) * 3)
    labels = np.arange(clips, dtype=np.int64) % classes
    np.save(folder / "labels.npy", labels)
    np.save(folder / "video_file_paths.npy", np.array([f"C{c}/v_C{c}_g{i % 7 + 1:02d}_c{i:05d}.avi"
                                                      for i, c in enumerate(labels)]))
    (folder / "classes.txt").write_text("".join(f"C{c}\n" for c in range(classes)))
    return folder


def real_frames_folder(folder: Path, clips: int, shape=(16, 64, 64)) -> Path:
    rng = np.random.default_rng(0)
    sparse_frames_folder(folder, clips, shape)
    data = np.load(folder / "frames.npy", mmap_mode="r+")
    for start in range(0, clips, 64):
        data[start:start + 64] = rng.integers(0, 256, size=data[start:start + 64].shape, dtype=np.uint8)
    data.flush()
    return folder


def steps_per_second(model, dataset, steps: int) -> float:
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)  # warm-up: tracing, threads, page cache
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps / (time.perf_counter() - start)


def speed(workdir: Path, steps: int, repeats: int) -> dict:
    import tensorflow as tf

    from models.c3d import student_c3d
    from utils.data.frames_data import open_frames
    from utils.training.input_pipeline import clip_dataset
    from utils.training.trainer import compile_classifier, seed_everything

    batch = 8
    data = open_frames(real_frames_folder(workdir / "speed_frames", clips=512))
    seed_everything(0)
    model = student_c3d(data.num_classes, data.clip_shape, width=0.5)
    compile_classifier(model, 1e-4)
    streamed = clip_dataset(data, np.arange(len(data.labels)), batch, shuffle=True, seed=0, repeat=True)
    one = (np.asarray(data.frames[:batch]), data.labels[:batch])
    in_memory = tf.data.Dataset.from_tensors(one).repeat().prefetch(tf.data.AUTOTUNE)  # same overlap as streaming
    rates = {"disk": [], "memory": []}
    for _ in range(repeats):
        rates["disk"].append(steps_per_second(model, streamed, steps))
        rates["memory"].append(steps_per_second(model, in_memory, steps))
    best = {k: max(v) for k, v in rates.items()}
    return {"steps": steps, "batch": batch, "clip": list(data.clip_shape), "steps_per_second": best,
            "slowdown": best["memory"] / best["disk"] - 1}


def train_peak(folder: Path, output: Path) -> dict:
    shutil.rmtree(output.parent, ignore_errors=True)  # an earlier run's model would be skipped, not trained again
    output.parent.mkdir(parents=True)
    subprocess.run([sys.executable, str(ROOT / "train_student.py"), "--data", str(folder), "--epochs", "1",
                    "--width", "0.125", "--batch_size", "64", "--val_size", "0.02", "--test_size", "0.02",
                    "--output_path", str(output), "--logdir", str(output.parent / "tb")],
                   check=True, cwd=ROOT, capture_output=True)
    return json.loads(output.with_suffix(".json").read_text())["metrics"]


def pipeline_peak(folder: Path) -> float:
    """Peak RSS (MiB) of a process that streams one shuffled epoch of batches of 8 from ``folder``."""
    code = ("import sys, numpy as np; from utils.data.frames_data import open_frames; "
            "from utils.training.input_pipeline import clip_dataset; from utils.machine import peak_rss_mib; "
            "d = open_frames(sys.argv[1]); "
            "n = sum(int(c.shape[0]) for c, _ in clip_dataset(d, np.arange(len(d.labels)), 8, True)); "
            "assert n == len(d.labels); print(peak_rss_mib())")
    result = subprocess.run([sys.executable, "-c", code, str(folder)], check=True, cwd=ROOT,
                            capture_output=True, text=True)
    return float(result.stdout.split()[-1])


def whole_load_peak(folder: Path) -> float:
    code = ("import numpy as np, sys; from utils.machine import peak_rss_mib; "
            "a = np.load(sys.argv[1]); a.sum(dtype=np.uint64); print(peak_rss_mib())")
    result = subprocess.run([sys.executable, "-c", code, str(folder / "frames.npy")], check=True, cwd=ROOT,
                            capture_output=True, text=True)
    return float(result.stdout.split()[-1])


def memory(workdir: Path, with_training: bool) -> dict:
    clip_mib = 16 * 112 * 112 * 3 / 2**20
    small = sparse_frames_folder(workdir / "mem_small", int(1024 / clip_mib), shape=(16, 112, 112))
    large = sparse_frames_folder(workdir / "mem_large", int(4096 / clip_mib), shape=(16, 112, 112))
    result = {
        "frames_mib": [os.path.getsize(f / "frames.npy") / 2**20 for f in (small, large)],
        "pipeline_peak_rss_mib": [pipeline_peak(small), pipeline_peak(large)],
        "whole_load_peak_rss_mib_small": whole_load_peak(small),
    }
    result["pipeline_growth"] = result["pipeline_peak_rss_mib"][1] / result["pipeline_peak_rss_mib"][0] - 1
    if with_training:
        folders = [sparse_frames_folder(workdir / f"train_{n}", n) for n in (3_000, 12_000)]
        runs = [train_peak(f, f.with_name(f.name + "_model") / "s.keras") for f in folders]
        result["training_frames_mib"] = [os.path.getsize(f / "frames.npy") / 2**20 for f in folders]
        result["training_peak_rss_mib"] = [r["peak_rss_mib"] for r in runs]
        result["training_growth"] = runs[1]["peak_rss_mib"] / runs[0]["peak_rss_mib"] - 1
    return result


def report(result: dict) -> str:
    s, m = result["speed"], result["memory"]
    lines = [
        f"speed: student (width 0.5) at {s['clip']}, batch {s['batch']}, {s['steps']} steps: "
        f"{s['steps_per_second']['disk']:.2f} steps/s streaming from disk, "
        f"{s['steps_per_second']['memory']:.2f} steps/s from one batch in memory",
        f"memory: one pipeline epoch over {m['frames_mib'][0]:.0f} -> {m['frames_mib'][1]:.0f} MiB of frames: "
        f"peak RSS {m['pipeline_peak_rss_mib'][0]:.0f} -> {m['pipeline_peak_rss_mib'][1]:.0f} MiB; loading the "
        f"smaller file whole (the original's way): {m['whole_load_peak_rss_mib_small']:.0f} MiB",
    ]
    if "training_growth" in m:
        lines.append(
            f"memory: one training epoch over {m['training_frames_mib'][0]:.0f} -> {m['training_frames_mib'][1]:.0f} "
            f"MiB: peak RSS {m['training_peak_rss_mib'][0]:.0f} -> {m['training_peak_rss_mib'][1]:.0f} MiB "
            f"({100 * m['training_growth']:+.1f}%) [target < 10%]")
    lines += [
        f"pipeline peak memory growth at 4x the data: {100 * m['pipeline_growth']:+.1f}% [target < 10%]",
        f"streaming slowdown vs in-memory batch: {100 * s['slowdown']:+.1f}% [target < 10%]",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="also measure whole training runs (~5 min more)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "input_pipeline")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "input_pipeline.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    result = {"memory": memory(args.workdir, args.large),
              "speed": speed(args.workdir, args.steps, args.repeats)}
    save_measurement(args.json, result)
    print(report(result))
    return result


if __name__ == "__main__":
    main()

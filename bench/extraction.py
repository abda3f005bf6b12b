"""Frame extraction benchmark: this project vs the original's seek method vs the decode-only floor.

All three run in this one process run, on the same UCF-like videos (synthetic, 320×240 XVID at
25 fps, 3–7 s each, like UCF101's), alternating, best of ``--repeats``:

  seek   the original: container frame count, CAP_PROP_POS_FRAMES seek per sampled frame, 1 process
  ours   utils.data.frame_extraction.extract_frames with all cores, writing frames.npy
  floor  every frame decoded once (grab) and nothing else, all cores, same process pool kind

It also counts the videos where the seek method took at least one wrong frame, and measures
peak memory of extraction over N videos and over 4N videos (run as separate processes) for this
project and for the seek method. Ratios are printed last. Run:

    python -m bench.extraction            # ~2 minutes on 2 cores
    python -m bench.extraction --large    # 4x the videos
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from bench.results import save_measurement
from bench.seek_baseline import seek_extract
from utils.data.dataset_layout import discover_videos
from utils.data.frame_extraction import ClipSettings, extract_frames
from utils.data.synthetic_dataset import SyntheticSpec, generate_dataset
from utils.machine import available_cores

ROOT = Path(__file__).resolve().parents[1]
T, H, W = 16, 112, 112


def ucf_like_videos(folder: Path, videos: int, workers: int) -> list[str]:
    """Generate (or reuse) ``videos`` synthetic clips at UCF101's size, rate and length."""
    groups = max(1, round(videos / 6 / 4))
    spec = SyntheticSpec(groups=groups, clips_per_group=4, width=320, height=240, fps=25,  # the 6 target actions
                         min_seconds=3.0, max_seconds=7.0, seed=1)
    described = json.loads(json.dumps(dataclasses.asdict(spec)))
    stamp = folder / "spec.json"
    if not (stamp.exists() and json.loads(stamp.read_text()) == described):
        shutil.rmtree(folder, ignore_errors=True)
        generate_dataset(spec, folder, workers)
        stamp.write_text(json.dumps(described))
    _, entries = discover_videos(folder)
    return [str(folder / e.relative_path) for e in entries]


def replicate(source: Path, target: Path, copies: int) -> None:
    """A collection ``copies`` times larger, as hard links (no extra disk, same decode work)."""
    if target.exists():
        return
    _, entries = discover_videos(source)
    for copy in range(copies):
        for e in entries:
            link = target / e.class_name / f"copy{copy}_{Path(e.relative_path).name}"
            link.parent.mkdir(parents=True, exist_ok=True)
            os.link(source / e.relative_path, link)


def _grab_all(path: str) -> int:
    cv2.setNumThreads(1)
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    return count


def decode_floor(paths: list[str], workers: int) -> int:
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return sum(pool.imap_unordered(_grab_all, paths, chunksize=1))


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def wrong_seek_videos(paths: list[str], exact: np.ndarray) -> int:
    """Videos where the seek method's frames differ from the exact ones (or are missing)."""
    wrong = 0
    for row, clip in enumerate(seek_extract(paths, T, H, W)):
        if len(clip) != T:
            wrong += 1
            continue
        seek_rgb = np.stack([np.round(frame * 255).astype(np.uint8)[..., ::-1] for frame in clip])
        wrong += int(not np.array_equal(seek_rgb, exact[row]))
    return wrong


def peak_memory_ours(videos: Path, output: Path, workers: int) -> tuple[float, float]:
    """(main process, largest worker) peak RSS in MiB, from the run's own summary."""
    subprocess.run([sys.executable, str(ROOT / "video_to_frames.py"), "--input_path", str(videos),
                    "--output_path", str(output), "--sequence_length", str(T), "--frame_height", str(H),
                    "--frame_width", str(W), "--workers", str(workers), "--no_progress"],
                   check=True, cwd=ROOT, capture_output=True)
    summary = (output / "Format_Time_Summary.txt").read_text()
    main, worker = re.search(r"main process ([\d.]+) MiB, largest worker ([\d.]+) MiB", summary).groups()
    return float(main), float(worker)


def peak_memory_seek(videos: Path) -> float:
    result = subprocess.run([sys.executable, "-m", "bench.seek_baseline", str(videos), str(T), str(H), str(W)],
                            check=True, cwd=ROOT, capture_output=True, text=True)
    return float(result.stdout.split()[-1])


def machine() -> str:
    model = ""
    if Path("/proc/cpuinfo").exists():
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        model = found.group(1).strip() if found else ""
    return f"{available_cores()} cores {model} ({platform.machine()}), OpenCV {cv2.__version__}"


def run(videos: int, repeats: int, workdir: Path) -> dict:
    workers = available_cores()
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"videos_{videos}"
    print(f"preparing {videos} UCF-like videos in {source} ...", flush=True)
    paths = ucf_like_videos(source, videos, workers)
    frames_total = decode_floor(paths, workers)
    print(f"{len(paths)} videos, {frames_total} frames, {frames_total / len(paths):.0f} per video", flush=True)

    times = {"seek": [], "ours": [], "floor": []}
    ours_out = workdir / "ours_frames"
    for repeat in range(repeats):
        times["seek"].append(timed(seek_extract, paths, T, H, W))
        times["ours"].append(timed(extract_frames, source, ours_out, ClipSettings(T, H, W), workers, False))
        times["floor"].append(timed(decode_floor, paths, workers))
        print(f"repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    best = {name: min(values) for name, values in times.items()}

    exact = np.load(ours_out / "frames.npy", mmap_mode="r")
    wrong = wrong_seek_videos(paths, exact)

    large = workdir / f"videos_{videos}_x4"
    replicate(source, large, 4)
    ours_small = peak_memory_ours(source, workdir / "mem_small", workers)
    ours_large = peak_memory_ours(large, workdir / "mem_large", workers)
    seek_small, seek_large = peak_memory_seek(source), peak_memory_seek(large)

    return {
        "machine": machine(),
        "videos": len(paths),
        "frames_decoded": frames_total,
        "clip": [T, H, W],
        "workers": workers,
        "seconds_best_of": repeats,
        "seconds": best,
        "seek_videos_with_wrong_frames": wrong,
        "peak_mib": {
            "ours_main": [ours_small[0], ours_large[0]],
            "ours_worker": [ours_small[1], ours_large[1]],
            "seek": [seek_small, seek_large],
        },
        "ratios": {
            "seek_over_ours": best["seek"] / best["ours"],
            "ours_over_floor": best["ours"] / best["floor"],
            "ours_main_memory_4x_over_1x": ours_large[0] / ours_small[0],
            "ours_worker_memory_4x_over_1x": ours_large[1] / ours_small[1],
            "seek_memory_4x_over_1x": seek_large / seek_small,
        },
    }


def report(result: dict) -> str:
    s, r, m = result["seconds"], result["ratios"], result["peak_mib"]
    n = result["videos"]
    lines = [
        f"machine: {result['machine']}",
        f"{n} videos, {result['frames_decoded']} frames, clip {result['clip']}, {result['workers']} workers, "
        f"best of {result['seconds_best_of']}",
        f"seek method (original, 1 process): {s['seek']:.2f} s, wrong frames in "
        f"{result['seek_videos_with_wrong_frames']} of {n} videos",
        f"this project:                      {s['ours']:.2f} s, exact",
        f"decode-only floor:                 {s['floor']:.2f} s",
        f"peak memory, {n} -> {4 * n} videos: this project main {m['ours_main'][0]:.0f} -> "
        f"{m['ours_main'][1]:.0f} MiB, worker {m['ours_worker'][0]:.0f} -> {m['ours_worker'][1]:.0f} MiB; "
        f"seek method {m['seek'][0]:.0f} -> {m['seek'][1]:.0f} MiB",
        f"memory growth at 4x videos: this project x{r['ours_main_memory_4x_over_1x']:.2f} (main), "
        f"x{r['ours_worker_memory_4x_over_1x']:.2f} (worker) [target < x1.10]; "
        f"seek method x{r['seek_memory_4x_over_1x']:.2f}",
        f"speed-up over the seek method: {r['seek_over_ours']:.2f}x [target >= 3]",
        f"cost over the decode floor:    {r['ours_over_floor']:.2f}x [target <= 1.5]",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=96, help="videos in the benchmark set")
    parser.add_argument("--large", action="store_true", help="4x the videos")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "extraction")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "extraction.json")
    args = parser.parse_args(argv)
    result = run(args.videos * (4 if args.large else 1), args.repeats, args.workdir)
    save_measurement(args.json, result)
    print(report(result))
    return result


if __name__ == "__main__":
    main()

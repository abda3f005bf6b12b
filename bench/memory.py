"""Peak memory of each step over a dataset 4x larger than another, and a run over more frames
than the memory it is allowed.

1. Growth: train_teacher.py, distill.py (from that teacher, cached logits) and evaluate.py (the
   distilled student) over N and over 4N clips of 16x112x112 (sparse frames.npy files of zeros:
   any size, no disk; the models are at width 0.125 so that the runs take seconds). Each step runs
   in its own process; its peak is the kernel's high-water mark of that process (``wait4``).
   Extraction's growth is measured by ``bench.extraction`` (its main and worker processes).
   Target: under 10% growth.
2. Larger than memory: train_student.py for one epoch over a frames.npy twice the size of a
   memory limit put on the run (a Linux memory cgroup; needs root, else reported as not
   measured). It completes only if nothing holds the frames in memory.

    python -m bench.memory [--large]     # --large: 4x the clips
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from bench.input_pipeline import sparse_frames_folder
from bench.results import save_measurement

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (16, 112, 112)
FAST = ["--width", "0.125", "--batch_size", "16", "--epochs", "1", "--val_size", "0.05"]
CGROUP_ROOT = Path("/sys/fs/cgroup/memory")


def peak_of(script: str, *args, cgroup: Path | None = None) -> float:
    """Run a script to the end and return its peak resident memory in MiB."""
    def join_cgroup():
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    with tempfile.TemporaryFile("w+") as errors:  # a pipe unread until the end could fill and stall the run
        process = subprocess.Popen([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=errors, text=True, preexec_fn=join_cgroup)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        error = errors.read()
    if process.returncode:
        raise RuntimeError(f"{script} failed ({process.returncode}): {error[-500:]}")
    return usage.ru_maxrss / 2**10  # KiB on Linux


def chain_peaks(frames: Path, work: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)  # an earlier run's models would be skipped, not trained again
    work.mkdir(parents=True)
    teacher, student = work / "teacher.keras", work / "student.keras"
    common = ["--data", frames, *FAST]
    return {
        "train_teacher": peak_of("train_teacher.py", *common, "--output_path", teacher, "--logdir", work / "tb_t"),
        "distill": peak_of("distill.py", *common, "--source", teacher, "--output_path", student,
                           "--logdir", work / "tb_s"),
        "evaluate": peak_of("evaluate.py", "--data", frames, "--recognizer", student, "--output_dir", work / "eval",
                            "--timing_runs", "0"),
    }


def larger_than_memory(work: Path, limit_mib: int) -> dict:
    """train_student.py over frames twice ``limit_mib`` under a memory cgroup of that limit."""
    clip_mib = SHAPE[0] * SHAPE[1] * SHAPE[2] * 3 / 2**20
    frames = sparse_frames_folder(work / "over_limit", int(2 * limit_mib / clip_mib), shape=SHAPE)
    result = {"limit_mib": limit_mib, "frames_mib": (frames / "frames.npy").stat().st_size / 2**20}
    if not (CGROUP_ROOT.is_dir() and os.access(CGROUP_ROOT, os.W_OK)):
        return {**result, "completed": None, "why_not_measured": "no writable memory cgroup (needs root on cgroup v1)"}
    cgroup = CGROUP_ROOT / f"har_kd_bench_{uuid.uuid4().hex[:8]}"
    cgroup.mkdir()
    try:
        (cgroup / "memory.limit_in_bytes").write_text(str(limit_mib * 2**20))
        swap_limit = cgroup / "memory.memsw.limit_in_bytes"  # present where swap accounting is on
        if swap_limit.exists():
            swap_limit.write_text(str(limit_mib * 2**20))
        try:
            shutil.rmtree(work / "over", ignore_errors=True)  # as in chain_peaks
            (work / "over").mkdir(parents=True)
            peak = peak_of("train_student.py", "--data", frames, *FAST, "--output_path", work / "over" / "s.keras",
                           "--logdir", work / "over" / "tb", cgroup=cgroup)
            result.update(completed=True, peak_rss_mib=peak)
        except RuntimeError as error:
            result.update(completed=False, error=str(error))
        result["cgroup_max_usage_mib"] = int((cgroup / "memory.max_usage_in_bytes").read_text()) / 2**20
    finally:
        cgroup.rmdir()
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="4x the clips")
    parser.add_argument("--clips", type=int, default=200, help="N")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "memory")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "memory.json")
    args = parser.parse_args(argv)
    n = args.clips * (4 if args.large else 1)
    sizes, peaks = {}, {}
    for label, clips in (("1x", n), ("4x", 4 * n)):
        folder = sparse_frames_folder(args.workdir / f"frames_{clips}", clips, shape=SHAPE)
        sizes[label] = (folder / "frames.npy").stat().st_size / 2**20
        peaks[label] = chain_peaks(folder, args.workdir / f"runs_{clips}")
        print(f"{clips} clips ({sizes[label]:.0f} MiB): " +
              ", ".join(f"{step} {mib:.0f} MiB" for step, mib in peaks[label].items()), flush=True)
    growth = {step: peaks["4x"][step] / peaks["1x"][step] - 1 for step in peaks["1x"]}
    limit = int(max(peaks["1x"].values()) * 1.5)
    over = larger_than_memory(args.workdir, limit)
    result = {"clip": list(SHAPE), "clips": [n, 4 * n], "frames_mib": sizes, "peak_rss_mib": peaks,
              "growth": growth, "larger_than_memory": over}
    save_measurement(args.json, result)
    if over["completed"] is None:
        print(f"larger than memory: not measured ({over['why_not_measured']})")
    else:
        print(f"larger than memory: train_student.py over {over['frames_mib']:.0f} MiB of frames under a "
              f"{over['limit_mib']} MiB limit: {'completed' if over['completed'] else 'FAILED'}")
    for step, value in growth.items():
        print(f"{step}: peak memory growth at 4x the clips {100 * value:+.1f}% [target < 10%]")
    return result


if __name__ == "__main__":
    main()

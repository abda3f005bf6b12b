"""``make demo``'s wall time with its models trained one after another, against the student without KD trained
beside the teacher and the distillation (``DEMO_OVERLAP``), side by side in one run on this CPU, at one
precision for both (float32 by default: what a CPU without bfloat16 units computes, on any CPU).

    python -m bench.demo                      # float32, each layout once (about 12 min on 2 cores)
    python -m bench.demo --precision auto --repeats 2
    python -m bench.demo --against HEAD~3     # this working tree's demo against that commit's (default layout)

Each run is a whole ``make demo`` (videos, frames, training, evaluation, export) in a data folder of its
own under --work_dir, after the install. The layouts alternate, so a machine that gets slower during the
run slows both. Prints each script's seconds, each run's total and the ratio, and whether the two layouts
gave the same predictions on the test clips (every training is seeded on its own, so they should).
Not part of ``python -m bench``: it takes as long as that whole run's slowest benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LAYOUTS = {"one after another": "no", "student beside": "yes"}  # name: DEMO_OVERLAP
SCRIPT_TIME = re.compile(r"^\((?P<script>[\w.]+)(?P<background>, in the background)?: (?P<seconds>[\d.]+) s\)$",
                         re.MULTILINE)


def script_seconds(output: str) -> dict[str, float]:
    """Each script's time as chain.py printed it; a background script's name gets " (background)"."""
    return {match["script"] + (" (background)" if match["background"] else ""): float(match["seconds"])
            for match in SCRIPT_TIME.finditer(output)}


def predictions(data: Path) -> dict[str, np.ndarray]:
    """Every evaluated model's saved test-clip outputs, by model name."""
    found = {}
    for path in sorted((data / "demo" / "evaluation").glob("*/predictions.npz")):
        with np.load(path) as saved:
            found[path.parent.name] = np.concatenate([saved[key].ravel().astype(np.float64) for key in sorted(saved)])
    return found


def start_afresh(folder: Path) -> None:
    """Remove an earlier run of this benchmark (a folder holding make demo's demo/ and nothing else); refuse any
    other folder at that name rather than delete what it holds."""
    if folder.exists():
        if {path.name for path in folder.iterdir()} - {"demo", "synthetic_videos"}:
            sys.exit(f"bench.demo: {folder} holds files that are not an earlier run of this benchmark; "
                     "choose another --work_dir")
        shutil.rmtree(folder)


def run_demo(data: Path, overlap: str | None, precision: str, source: Path = ROOT) -> dict:
    start = time.perf_counter()
    layout = [f"DEMO_OVERLAP={overlap}"] if overlap else []
    result = subprocess.run(["make", "demo", f"DATA={data}", *layout, f"DEMO_PRECISION={precision}"],
                            cwd=source, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"bench.demo: make demo DATA={data} DEMO_OVERLAP={overlap} failed:\n{result.stdout[-3000:]}"
                 f"{result.stderr[-3000:]}")
    accuracy = {name: scores["scores"]["top1_accuracy"] for name, scores in
                json.loads((data / "demo" / "evaluation" / "comparison.json").read_text()).items()}
    return {"seconds": seconds, "scripts": script_seconds(result.stdout), "top1": accuracy}


def checkout(revision: str, folder: Path) -> Path:
    """``revision`` of this repository as a detached worktree at ``folder`` sharing this tree's .venv, so that its
    ``make demo`` runs that revision's code with the same packages. A folder there that is not such a worktree
    is refused, not removed."""
    if folder.exists():
        removed = subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True)
        if removed.returncode != 0:
            sys.exit(f"bench.demo: {folder} is not a worktree this benchmark made; choose another --work_dir")
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), revision], cwd=ROOT, check=True,
                   capture_output=True)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    stamp = (ROOT / ".venv" / ".installed").stat().st_mtime  # make's setup target: this install serves both
    os.utime(folder / "requirements.txt", (stamp, stamp))
    return folder


def remove_checkout(folder: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True)


def compare(runs: dict[str, list[dict]], folders: dict[str, Path]) -> dict:
    """Median totals, the ratio (the first variant's time over the second's), and whether the variants' last
    runs predicted the same numbers."""
    median = {name: float(np.median([run["seconds"] for run in done])) for name, done in runs.items()}
    first, second = median.values()
    outputs = {name: predictions(folder) for name, folder in folders.items()}
    first, second = outputs.values()
    same = first.keys() == second.keys() and all(np.array_equal(first[key], second[key]) for key in first)
    return {"median_seconds": median, "speedup": first / second, "same_predictions": bool(same)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", default="off", help="DEMO_PRECISION for every run (off: float32)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each layout, alternating")
    parser.add_argument("--work_dir", type=Path, default=ROOT / "bench" / "out" / "demo")
    parser.add_argument("--against", metavar="REVISION",
                        help="compare this working tree's make demo with REVISION's (a git worktree of it), both in "
                             "the default layout, instead of the two layouts")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench.results import this_cpu

    work = args.work_dir.resolve()
    if args.against:
        variants = {args.against: (None, checkout(args.against, work / "source")), "this tree": (None, ROOT)}
    else:
        variants = {name: (overlap, ROOT) for name, overlap in LAYOUTS.items()}
    folders = {name: work / name.replace(" ", "_").replace("/", "_") for name in variants}
    runs = {name: [] for name in variants}
    try:
        for repeat in range(args.repeats):
            for name, (overlap, source) in variants.items():
                start_afresh(folders[name])
                run = run_demo(folders[name], overlap, args.precision, source)
                runs[name].append(run)
                print(f"{name} (run {repeat + 1}): {run['seconds']:.1f} s; " +
                      ", ".join(f"{script} {seconds:.1f} s" for script, seconds in run["scripts"].items()) +
                      "; top-1 " + ", ".join(f"{model} {value:.4f}" for model, value in run["top1"].items()),
                      flush=True)
    finally:
        if args.against:  # the repository keeps no worktree of this benchmark's
            remove_checkout(work / "source")
    summary = {"cpu": this_cpu(), "precision": args.precision, "against": args.against, "runs": runs,
               **compare(runs, folders)}
    (work / "demo.json").write_text(json.dumps(summary, indent=2))
    first, second = variants
    print(f"\nmake demo on {summary['cpu']['description']}, DEMO_PRECISION={args.precision}: "
          f"{summary['median_seconds'][first]:.1f} s {first}, {summary['median_seconds'][second]:.1f} s {second}: "
          f"{summary['speedup']:.2f}x; same predictions: {summary['same_predictions']}")
    return summary


if __name__ == "__main__":
    main()

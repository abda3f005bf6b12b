"""A script's TensorFlow import, with the garbage collector paused and the objects frozen after
(utils/garbage.py, what every script does through utils.tensorflow_runtime.import_tensorflow) against
the plain import, each in new interpreters, alternating: the CPU seconds the import costs, the full
collections that run during it, and what one full collection costs afterwards (Keras's clear_session()
ends with one; the TFLite converter runs one per conversion, four per export).

    python -m bench.imports [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
from pathlib import Path

from bench.results import save_measurement, this_cpu

ROOT = Path(__file__).resolve().parents[1]
MEASURE = """
import gc, json, time
full = []
gc.callbacks.append(lambda phase, info: full.append(1) if phase == "start" and info["generation"] == 2 else None)
import utils
{how}
during = len(full)
start = time.perf_counter()
gc.collect()
print(json.dumps({{"full_collections": during, "collection_seconds": time.perf_counter() - start}}))
"""
WAYS = {"paused, then frozen": "from utils.tensorflow_runtime import import_tensorflow\nimport_tensorflow()",
        "plain": "import keras, tensorflow"}


def one_import(how: str) -> dict:
    """One new interpreter: its CPU seconds (user + system), and what it measured of its collections."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", MEASURE.format(how=how)], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"cpu_seconds": cpu, **json.loads(done.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interpreters per way, alternating (default 3)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "imports.json")
    args = parser.parse_args(argv)
    runs = {way: [] for way in WAYS}
    for _ in range(args.rounds):
        for way, how in WAYS.items():
            runs[way].append(one_import(how))
    medians = {way: {key: statistics.median(run[key] for run in measured) for key in measured[0]}
               for way, measured in runs.items()}
    result = {"cpu": this_cpu(), "rounds": args.rounds, "runs": runs, "medians": medians}
    save_measurement(args.json, result)
    frozen, plain = medians["paused, then frozen"], medians["plain"]
    print(f"CPU: {result['cpu']['description']}")
    for way, m in medians.items():
        print(f"{way}: import {m['cpu_seconds']:.2f} s of CPU, {m['full_collections']:.0f} full collections during it, "
              f"one full collection after it {1e3 * m['collection_seconds']:.1f} ms (medians of {args.rounds})")
    print(f"import: {plain['cpu_seconds'] / frozen['cpu_seconds']:.2f}x less CPU paused then frozen; "
          f"a later full collection: {plain['collection_seconds'] / frozen['collection_seconds']:.0f}x faster")
    return result


if __name__ == "__main__":
    main()

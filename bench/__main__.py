"""Run every benchmark: ``python -m bench [--large] [--only NAME ...]``. Each prints its ratios last;
the headline numbers go to bench/RESULTS.md and bench/results.json (with --only, to bench/out/;
the raw numbers of each benchmark to bench/out/)."""

import argparse
import sys
import time
from pathlib import Path

from bench import compute, deployment, distillation, extraction, input_pipeline, memory, precision, results

BENCHMARKS = {"extraction": extraction, "input_pipeline": input_pipeline, "memory": memory,
              "distillation": distillation, "compute": compute, "precision": precision, "deployment": deployment}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--large", action="store_true", help="each benchmark at its larger size")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args()
    measured, seconds = {}, {}
    for name in args.only:
        print(f"\n== {name} ==", flush=True)
        start = time.perf_counter()
        measured[name] = BENCHMARKS[name].main(["--large"] if args.large else [])
        seconds[name] = time.perf_counter() - start
        print(f"== {name}: {seconds[name]:.0f} s ==", flush=True)
    command = "python -m bench" + " ".join(["", *sys.argv[1:]])
    here = Path(__file__).resolve().parent
    from utils.machine import describe_cpu

    path = results.write(measured, describe_cpu(), command, here if args.only == list(BENCHMARKS) else here / "out",
                         seconds)
    print(f"\n{path.read_text()}")

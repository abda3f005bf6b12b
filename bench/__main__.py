"""Run the benchmarks: ``python -m bench [--large] [--only NAME ...]``. Each prints its ratios last.

The headline numbers go to bench/RESULTS.md and bench/results.json as this machine's section: the
CPU's (its model and speed-relevant flags) for a full run of the CPU benchmarks, the GPU's for
``--only gpu`` (the GPU check, not part of the full run; it skips in one line without a GPU). Other
machines' sections are kept. A run of some CPU benchmarks (``--only``) writes to bench/out/
instead; the raw numbers of each benchmark go to bench/out/ as well.
"""

import argparse
import sys
import time
from pathlib import Path

from bench import (
    compute,
    conv1_gradient,
    deployment,
    distillation,
    extraction,
    gpu,
    input_pipeline,
    memory,
    precision,
    results,
)

CPU_BENCHMARKS = {"extraction": extraction, "input_pipeline": input_pipeline, "memory": memory,
                  "distillation": distillation, "compute": compute, "conv1_gradient": conv1_gradient,
                  "precision": precision, "deployment": deployment}
BENCHMARKS = {**CPU_BENCHMARKS, "gpu": gpu}
HERE = Path(__file__).resolve().parent


def record(measured: dict, seconds: dict, command: str) -> list[tuple[Path, dict]]:
    """Write the run's sections, each with the RESULTS.md it went to: the CPU benchmarks' to bench/
    if all of them ran (else to bench/out/), the GPU check's to bench/ (it is whole on its own)."""
    cpu = results.this_cpu()
    written = []
    on_cpu = {name: value for name, value in measured.items() if name in CPU_BENCHMARKS}
    if on_cpu:
        folder = HERE if on_cpu.keys() == CPU_BENCHMARKS.keys() else HERE / "out"
        section = results.section(on_cpu, cpu, command, {name: seconds[name] for name in on_cpu})
        written.append((results.record(folder, section), section))
    if measured.get("gpu"):
        section = results.section({"gpu": measured["gpu"]}, cpu, command, {"gpu": seconds["gpu"]},
                                  gpu=measured["gpu"]["gpu"])
        written.append((results.record(HERE, section), section))
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="each benchmark at its larger size")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(CPU_BENCHMARKS),
                        help="some benchmarks (default: every CPU benchmark; gpu runs only when named)")
    args = parser.parse_args()
    measured, seconds = {}, {}
    for name in args.only:
        why_not = getattr(BENCHMARKS[name], "unavailable", lambda: None)()
        if why_not:
            print(f"{name}: skipped, {why_not}", flush=True)
            continue
        print(f"\n== {name} ==", flush=True)
        start = time.perf_counter()
        measured[name] = BENCHMARKS[name].main(["--large"] if args.large else [])
        seconds[name] = time.perf_counter() - start
        print(f"== {name}: {seconds[name]:.0f} s ==", flush=True)
    command = "python -m bench" + " ".join(["", *sys.argv[1:]])
    for path, section in record(measured, seconds, command):
        print(f"\n{path}, this run's section:\n\n{results.render_section(section)}")

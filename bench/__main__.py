"""Run every benchmark: ``python -m bench [--large]``. Each prints its ratios last."""

import sys

from bench import distillation, extraction, input_pipeline

if __name__ == "__main__":
    for benchmark in (extraction, input_pipeline, distillation):
        print(f"\n== {benchmark.__name__} ==", flush=True)
        benchmark.main([a for a in sys.argv[1:] if a == "--large"])

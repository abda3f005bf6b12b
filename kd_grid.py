#!/usr/bin/env python3
"""Where distillation helps this student: alpha × T from one teacher, each cell's gain paired by seed.

    python kd_grid.py --reproduction data/reproduction/run --alphas 0.1 0.5 0.9 --temperatures 1 4 10 \\
        --seeds 0 1 2 --output_dir data/reproduction/kd_grid

For each seed, the TFS teacher of a finished reproduction (reproduce_paper.py --seeds; its
seed_S/models/teacher_TFS.keras) is distilled into the student at every (alpha, T), with the
reproduction's own recipe (epochs, batch, learning rate and schedule, init, width, precision, read
from its distilled students' sidecars). Cells the reproduction trained already (its alpha, its
temperatures) are its models, not trained again. A cell's gain is its top-1 minus the student
trained alone for the same epochs (the reproduction's equal-budget baseline) on the same seed: mean
and 95% t-interval over the seeds. Each distillation is distill.py in a fresh process, two at once
where the CPU has room (--parallel_steps); the grid resumes where it stopped when run again.

Writes, in --output_dir: kd_grid.md (gains and top-1 per cell), kd_grid.csv, kd_grid.png (heatmap of
the mean gain, each cell's interval in it), seed_S/ (models, evaluation, timings.json), runs/
(TensorBoard).
"""

from __future__ import annotations

from pathlib import Path

from utils.cli import (
    ALPHA,
    INPUT_FOLDER,
    INTERRUPTED_TRAINING,
    OUTPUT_FOLDER,
    PARALLEL_STEPS,
    PARALLEL_STEPS_HELP,
    SEED,
    TEMPERATURE,
    TIMING_RUNS,
    ArgumentParser,
    entry_point,
)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="kd_grid.py", description=__doc__)
    parser.add_argument("--reproduction", type=INPUT_FOLDER, required=True,
                        help="a finished reproduce_paper.py --seeds ... --output_dir (its TFS teachers and students)")
    parser.add_argument("--alphas", type=ALPHA, nargs="+", default=[0.1, 0.5, 0.9],
                        help="weights of the hard-label loss")
    parser.add_argument("--temperatures", type=TEMPERATURE, nargs="+", default=[1.0, 4.0, 10.0])
    parser.add_argument("--seeds", type=SEED, nargs="+", default=[0, 1, 2],
                        help="the reproduction's seeds to use")
    parser.add_argument("--output_dir", type=OUTPUT_FOLDER, default=Path("kd_grid"))
    parser.add_argument("--timing_runs", type=TIMING_RUNS, default=0,
                        help="evaluate.py's timed calls per model (0: no latency measurement)")
    parser.add_argument("--parallel_steps", type=PARALLEL_STEPS, default=None, help=PARALLEL_STEPS_HELP)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from utils import atomic_files
    from utils.ownership import claim_run_folder
    from utils.reproduction.kd_grid import GridSettings, run_grid, write_grid_report
    from utils.reproduction.side_by_side import default_side_by_side

    settings = GridSettings(args.reproduction, tuple(dict.fromkeys(args.alphas)),
                            tuple(sorted(set(args.temperatures))), tuple(dict.fromkeys(args.seeds)), args.output_dir,
                            args.timing_runs, args.parallel_steps or default_side_by_side())
    atomic_files.require_writable_folder(settings.output_dir, f"--output_dir {settings.output_dir}", create=True)
    atomic_files.check_outputs_apart({"--output_dir": settings.output_dir}, {"--reproduction": settings.reproduction})
    with atomic_files.output_lock(settings.output_dir, "--output_dir"):
        claim_run_folder(settings.output_dir, "--output_dir", "kd_grid.json", "kd_grid.py")
        text = write_grid_report(settings, run_grid(settings))
    print()
    print(text)
    print(f"grid: {settings.output_dir / 'kd_grid.md'}; heatmap: {settings.output_dir / 'kd_grid.png'}")


if __name__ == "__main__":
    from utils.reproduction.protocol import reporting_failed_steps

    entry_point(reporting_failed_steps(main, "kd_grid.py"), "kd_grid.py", INTERRUPTED_TRAINING)

#!/usr/bin/env python3
"""Run the paper's whole protocol on one dataset and write its table, ours beside the published one.

    # TFS rows only (no Sports-1M weights): 1 teacher, the baseline student, 5 distilled students
    python reproduce_paper.py --data Output_dataset/UCF11 --output_dir reproduction/UCF11

    # all 13 rows: add the Sports-1M weights for the TUTL teacher and its 5 students
    python reproduce_paper.py --data Output_dataset/UCF11 --weights sports1M_weights_tf.h5 \\
        --output_dir reproduction/UCF11

Steps, each the project's own script in a fresh process: TFS teacher (train_teacher.py), TUTL
teacher (with --weights), student without distillation (train_student.py), students distilled
from each teacher at T = 1, 5, 10, 15, 20 (distill.py), evaluation of every model (evaluate.py).
Defaults are the paper's: Adam 1e-4, batch 8, teachers 50 epochs, distillation 100, alpha 0.1,
random 80/20 split. Steps already finished are skipped, so an interrupted reproduction resumes
when the same command is run again (an interrupted step resumes from its last finished epoch).

Writes, in --output_dir: models/ (models, sidecars, histories, curves), runs/ (TensorBoard),
evaluation/ (evaluate.py's outputs), paper_table.md and .csv (13 rows, the published numbers
beside ours), accuracy_vs_temperature.png.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from utils.cli import (
    INTERRUPTED_TRAINING,
    ArgumentParser,
    add_data_arguments,
    add_split_arguments,
    positive_float,
    positive_int,
    run,
    unit_interval,
)
from utils.errors import InputError
from utils.paper_results import DATASETS, TEMPERATURES, guess_dataset


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="reproduce_paper.py", description=__doc__)
    add_data_arguments(parser)
    parser.add_argument("--weights", type=Path, default=None,
                        help="Sports-1M C3D weights (sports1M_weights_tf.h5) for the TUTL rows; without it they "
                             "are marked not run")
    parser.add_argument("--output_dir", type=Path, default=Path("reproduction"), help="where everything goes")
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="which published column to compare with (default: guessed from the --data folder "
                             "name; all four if none matches)")
    group = parser.add_argument_group("training (the paper's values by default)")
    group.add_argument("--epochs", type=positive_int, default=None,
                       help="one number of epochs for every model (a quick run); overrides the three below")
    group.add_argument("--teacher_epochs", type=positive_int, default=50, help="epochs of each teacher")
    group.add_argument("--student_epochs", type=positive_int, default=50,
                       help="epochs of the student without distillation (the paper does not say; 100 gives it "
                            "the distilled students' budget)")
    group.add_argument("--distill_epochs", type=positive_int, default=100, help="epochs of each distilled student")
    group.add_argument("--batch_size", type=positive_int, default=8, help="clips per step")
    group.add_argument("--lr", type=positive_float, default=1e-4, help="Adam learning rate")
    group.add_argument("--teacher_width", type=positive_float, default=1.0,
                       help="channel multiplier of the TFS teacher (the TUTL teacher is always 1.0)")
    group.add_argument("--student_width", type=positive_float, default=1.0, help="channel multiplier of the students")
    group.add_argument("--alpha", type=unit_interval, default=0.1, help="weight of the hard-label loss")
    group.add_argument("--temperatures", type=positive_float, nargs="+", default=list(TEMPERATURES),
                       help="distillation temperatures")
    group.add_argument("--timing_runs", type=int, default=10,
                       help="evaluate.py's timed calls per model for CPU latency/throughput (0: skip)")
    add_split_arguments(parser)
    return parser


def check_inputs(args):
    """Everything that can be checked before hours of training: data, split, weights, output folder."""
    from utils.atomic_files import require_writable_folder
    from utils.frames_data import open_frames
    from utils.splits import SplitSettings, make_split

    data = open_frames(args.data, args.annotations)
    settings = SplitSettings(protocol=args.split, test_size=args.test_size, val_size=args.val_size, seed=args.seed,
                             split_dir=str(args.split_dir) if args.split_dir else None, split_id=args.split_id)
    split = make_split(data.labels, data.paths, settings, data.classes)
    if args.batch_size > len(split.train):
        raise InputError(f"--batch_size {args.batch_size} is larger than the {len(split.train)} training clips")
    if args.weights is not None and not args.weights.is_file():
        raise InputError(f"--weights {args.weights}: file not found")
    if args.timing_runs < 0:
        raise InputError(f"--timing_runs must be 0 or more, got {args.timing_runs}")
    require_writable_folder(args.output_dir / "models", f"--output_dir {args.output_dir}")
    return data


def evaluation_is_current(comparison: Path, models: list[Path]) -> bool:
    if not comparison.is_file():
        return False
    listed = {Path(report["model"]) for report in json.loads(comparison.read_text()).values()}
    newest = max(path.stat().st_mtime_ns for path in models)
    return listed == {path.resolve() for path in models} and comparison.stat().st_mtime_ns > newest


def main() -> None:
    args = build_parser().parse_args()
    if args.epochs:
        args.teacher_epochs = args.student_epochs = args.distill_epochs = args.epochs
    args.temperatures = sorted(set(args.temperatures))
    data = check_inputs(args)
    dataset = args.dataset or guess_dataset(data.frames_path.resolve().parent.name)

    from utils import atomic_files
    from utils.plots import temperature_sweep_png
    from utils.reproduction import is_done, paper_table, plan, run_script
    from utils.tables import markdown_table, write_csv

    out = args.output_dir
    steps = plan(args, out / "models", out / "runs")
    shape = list(data.frames.shape)
    for number, step in enumerate(steps, 1):  # teachers come first: is_done of a distillation hashes its teacher
        if is_done(step, shape):
            print(f"[{number}/{len(steps)}] {step.title}: done, skipping", flush=True)
            continue
        print(f"[{number}/{len(steps)}] {step.title}: python {step.script} {' '.join(step.arguments)}", flush=True)
        run_script(step.script, step.arguments)

    rows = {row: path for step in steps for row, path in step.rows.items()}
    models = list(rows.values())
    evaluation = out / "evaluation"
    if evaluation_is_current(evaluation / "comparison.json", models):
        print(f"evaluation of the {len(models)} models: done, skipping", flush=True)
    else:
        print(f"evaluating {len(models)} models", flush=True)
        run_script("evaluate.py", ["--data", str(args.data),
                                   *(["--annotations", str(args.annotations)] if args.annotations else []),
                                   "--recognizer", *map(str, models), "--output_dir", str(evaluation),
                                   "--batch_size", str(args.batch_size), "--timing_runs", str(args.timing_runs)])
    reports = {Path(report["model"]): report for report in
               json.loads((evaluation / "comparison.json").read_text()).values()}
    scores = {row: reports[path.resolve()]["scores"] for row, path in rows.items()}

    headers, table = paper_table(scores, args.temperatures, dataset)
    split_text = (f"official {args.split_id} from {args.split_dir}" if args.split == "official"
                  else f"{args.split} (test {args.test_size:g}, seed {args.seed})")
    settings = (f"Data: {data.frames_path} ({len(data.labels)} clips, {data.num_classes} classes, clips "
                f"{'x'.join(map(str, data.clip_shape[:3]))}); split {split_text}; epochs: teachers {args.teacher_epochs}, student {args.student_epochs}, distillation "
                f"{args.distill_epochs}; widths: TFS teacher {args.teacher_width:g}, students {args.student_width:g}; "
                f"batch {args.batch_size}, lr {args.lr:g}, alpha {args.alpha:g}. Published numbers: Ullah & Munir "
                "2023, random 80/20 split, full-size models.")
    text = markdown_table(headers, table) + "\n" + settings + "\n"
    atomic_files.write_text(out / "paper_table.md", text)
    write_csv(out / "paper_table.csv", headers, table)
    sweeps = {}
    for teacher in ("TFS", "TUTL"):
        points = {t: scores[f"Student-{teacher} (T={t:g})"]["top1_accuracy"] for t in args.temperatures
                  if f"Student-{teacher} (T={t:g})" in scores}
        if points:
            sweeps[f"Student-{teacher}"] = points
    references = {row: scores[row]["top1_accuracy"] for row in ("TFS Teacher", "TUTL Teacher", "Student w/o KD")
                  if row in scores}
    temperature_sweep_png(sweeps, references, out / "accuracy_vs_temperature.png",
                          f"{dataset or data.frames_path.parent.name}: test accuracy against temperature")
    print()
    print(text)
    print(f"table: {out / 'paper_table.md'}; plot: {out / 'accuracy_vs_temperature.png'}; "
          f"per-model metrics and plots: {evaluation}/")


def main_reporting_killed_steps() -> None:
    from utils.reproduction import StepFailed

    try:
        main()
    except StepFailed as error:
        print(f"reproduce_paper.py: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run(main_reporting_killed_steps, "reproduce_paper.py", INTERRUPTED_TRAINING)

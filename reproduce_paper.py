#!/usr/bin/env python3
"""Run the paper's whole protocol on one dataset and write its table, ours beside the published one.

    # TFS rows only (no Sports-1M weights): 1 teacher, the baseline student, 5 distilled students
    python reproduce_paper.py --data Output_dataset/UCF11 --output_dir reproduction/UCF11

    # all 13 rows: add the Sports-1M weights for the TUTL teacher and its 5 students
    python reproduce_paper.py --data Output_dataset/UCF11 --weights sports1M_weights_tf.h5 \\
        --output_dir reproduction/UCF11

    # three seeds: mean ± std per row, and each distillation gain with its 95% interval
    python reproduce_paper.py --data Output_dataset/UCF11 --weights sports1M_weights_tf.h5 \\
        --seeds 0 1 2 --output_dir reproduction/UCF11

Steps, each the project's own script in a fresh process: TFS teacher (train_teacher.py), TUTL
teacher (with --weights), student without distillation (train_student.py) at the paper's budget
and, when it differs, at the distilled students' (--distill_epochs), students distilled from each
teacher at T = 1, 5, 10, 15, 20 (distill.py), evaluation of every model (evaluate.py). Defaults are
the paper's: Adam 1e-4, batch 8, teachers 50 epochs, distillation 100, alpha 0.1, random 80/20
split. Steps already finished are skipped, so an interrupted reproduction resumes when the same
command is run again (an interrupted step resumes from its last finished epoch). Two steps run at
once where the CPU has room (--parallel_steps; a distillation waits for its teacher), each with
its share of the cores as TensorFlow's thread pools, recorded in each sidecar: that changes the
models' last bits, so --parallel_steps 1 repeats a run made one step at a time. The evaluations run
alone, after the training: they time the models.

Writes, in --output_dir (with --seeds, each seed's in seed_S/ and the summary over seeds at the
top): models/ (models, sidecars, histories, curves), runs/ (TensorBoard), evaluation/
(evaluate.py's outputs), timings.json, paper_table.md and .csv (the published numbers beside
ours), accuracy_vs_temperature.png.
"""

from __future__ import annotations

from pathlib import Path

from utils.cli import (
    ALPHA,
    BATCH_SIZE,
    EPOCHS,
    INITS,
    INPUT_FILE,
    INPUT_FOLDER,
    INTERRUPTED_TRAINING,
    LEARNING_RATE,
    LR_SCHEDULES,
    OUTPUT_FOLDER,
    PARALLEL_STEPS,
    PARALLEL_STEPS_HELP,
    PRECISIONS,
    SEED,
    TEMPERATURE,
    TIMING_RUNS,
    WIDTH,
    ArgumentParser,
    add_data_arguments,
    add_split_arguments,
    entry_point,
)
from utils.errors import InputError
from utils.evaluation.paper_results import DATASETS, TEMPERATURES


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="reproduce_paper.py", description=__doc__)
    add_data_arguments(parser)
    parser.add_argument("--weights", type=INPUT_FILE, default=None,
                        help="Sports-1M C3D weights (sports1M_weights_tf.h5, or a stand-in from pretrain_teacher.py) "
                             "for the TUTL rows; without it they are marked not run")
    parser.add_argument("--output_dir", type=OUTPUT_FOLDER, default=Path("reproduction"), help="where everything goes")
    parser.add_argument("--compare_with", type=INPUT_FOLDER, default=None, metavar="DIR",
                        help="another reproduction's --output_dir, of the same data and seeds (e.g. the corrected run "
                             "beside an --original_code one): writes paired_comparison.md, each row beside that run's "
                             "with the difference paired by seed")
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="which published column to compare with (default: guessed from the --data folder "
                             "name; all four if none matches)")
    parser.add_argument("--seeds", type=SEED, nargs="+", default=None, metavar="SEED",
                        help="repeat the protocol once per seed (split, weights, shuffling), each in seed_S/, and "
                             "report mean ± std and the gains' 95%% intervals; replaces --seed")
    group = parser.add_argument_group("training (the paper's values by default)")
    group.add_argument("--epochs", type=EPOCHS, default=None,
                       help="one number of epochs for every model (a quick run); overrides the three below")
    group.add_argument("--teacher_epochs", type=EPOCHS, default=50, help="epochs of each teacher")
    group.add_argument("--student_epochs", type=EPOCHS, default=50,
                       help="epochs of the student without distillation (the paper does not say); a second such "
                            "student is trained for --distill_epochs, the distilled students' budget")
    group.add_argument("--distill_epochs", type=EPOCHS, default=100, help="epochs of each distilled student")
    group.add_argument("--batch_size", type=BATCH_SIZE, default=8, help="clips per step")
    group.add_argument("--lr", type=LEARNING_RATE, default=1e-4, help="Adam learning rate")
    group.add_argument("--teacher_lr", type=LEARNING_RATE, default=None,
                       help="Adam learning rate of the two teachers (default: --lr; a departure from the paper's one "
                            "rate, named in the caption): a C3D trained from scratch at a rate its students take can "
                            "fall to chance and stay there (docs/reproduction.md)")
    group.add_argument("--lr_schedule", choices=LR_SCHEDULES, default="constant",
                       help="learning rate over each run (see train_teacher.py --help); constant is the paper's")
    group.add_argument("--mixed_precision", choices=PRECISIONS, default="auto",
                       help="training precision of every model (see train_teacher.py --help); off is the paper's "
                            "float32")
    group.add_argument("--init", choices=INITS, default="glorot",
                       help="initial weights of the TFS teacher and the students (see train_teacher.py --help)")
    group.add_argument("--teacher_width", type=WIDTH, default=1.0,
                       help="channel multiplier of the TFS teacher (the TUTL teacher's is its weights file's)")
    group.add_argument("--student_width", type=WIDTH, default=1.0, help="channel multiplier of the students")
    group.add_argument("--alpha", type=ALPHA, default=0.1, help="weight of the hard-label loss")
    group.add_argument("--temperatures", type=TEMPERATURE, nargs="+", default=list(TEMPERATURES),
                       help="distillation temperatures")
    group.add_argument("--original_code", action="store_true",
                       help="an ablation: every model computes what the authors' code computed (networks ending in "
                            "softmax, the temperature dividing probabilities; see train_teacher.py --help)")
    group.add_argument("--timing_runs", type=TIMING_RUNS, default=10,
                       help="evaluate.py's timed calls per model for CPU latency/throughput (0: skip)")
    group.add_argument("--parallel_steps", type=PARALLEL_STEPS, default=None, help=PARALLEL_STEPS_HELP)
    add_split_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from utils.reproduction.protocol import ReproductionSettings
    from utils.reproduction.report import reproduce, write_paired_comparison
    from utils.reproduction.side_by_side import default_side_by_side

    args.parallel_steps = args.parallel_steps or default_side_by_side()
    settings = ReproductionSettings.from_args(args)
    if args.compare_with is not None and not args.compare_with.is_dir():
        raise InputError(f"--compare_with {args.compare_with}: not a folder (a reproduction's --output_dir)")
    reproduce(settings, args.dataset)
    if args.compare_with is not None:
        write_paired_comparison(settings, args.compare_with)


if __name__ == "__main__":
    from utils.reproduction.protocol import reporting_failed_steps

    entry_point(reporting_failed_steps(main, "reproduce_paper.py"), "reproduce_paper.py", INTERRUPTED_TRAINING)

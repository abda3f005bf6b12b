#!/usr/bin/env python3
"""Distil a trained teacher into the small student (response-based offline knowledge distillation).

    # the paper's settings: alpha 0.1, T = 10, Adam 1e-4, batch 8, 100 epochs
    python distill.py --data Output_dataset/UCF11 --source models/UCF11_teacher_TFS.keras \\
        --output_path models/UCF11_student_TFS.keras

    # the paper's temperature sweep: one student per T (NAME_T1.keras, NAME_T5.keras, ...)
    python distill.py --data Output_dataset/UCF11 --source models/UCF11_teacher_TFS.keras \\
        --temperature 1 5 10 15 20 --output_path models/UCF11_student_TFS.keras

loss = alpha * CE(y, student) + (1 - alpha) * T^2 * KL(softmax(teacher/T) || softmax(student/T)),
on logits. The split is the teacher's (from its sidecar): the teacher has seen its training clips,
so any other split is refused. The teacher's logits are computed once and cached beside it
(--teacher_logits). Each student is saved alone, with its sidecar, history and TensorBoard run;
an interrupted run or sweep continues where it stopped when the same command is run again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from utils.cli import (
    INTERRUPTED_TRAINING,
    SPLIT_SETTING_OF_FLAG,
    ArgumentParser,
    add_data_arguments,
    add_split_arguments,
    add_training_arguments,
    jit_compile_value,
    positive_float,
    run,
    unit_interval,
)
from utils.errors import InputError
from utils.training.run_setup import RunPaths, data_and_split
from utils.sidecar import read_sidecar


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="distill.py", description=__doc__)
    add_data_arguments(parser)
    parser.add_argument("--source", type=Path, required=True,
                        help="trained teacher model (.keras or .h5) with its .json sidecar")
    group = add_training_arguments(parser, epochs=100, output="outputs/student_distilled.keras")
    group.add_argument("--temperature", "--temperatures", type=positive_float, nargs="+", default=[10.0],
                       action=TemperaturesAction, metavar="T",
                       help="softening temperature T; several (e.g. 1 5 10 15 20) run the paper's sweep, one student "
                            "per T saved as NAME_T1.keras, NAME_T5.keras, ... (as does the spelling --temperatures, "
                            "even for one T)")
    group.add_argument("--alpha", type=unit_interval, default=0.1, help="weight of the hard-label loss")
    group.add_argument("--teacher_logits", choices=("auto", "cache", "online"), default="auto",
                       help="cache: run the teacher once and reuse its logits; online: run it on every batch; "
                            "auto: cache (no augmentation is ever active here)")
    add_split_arguments(parser, inherited="default: the teacher's, and a different one is refused (the teacher saw "
                        "those clips)")
    return parser


class TemperaturesAction(argparse.Action):
    """--temperature T [T ...]; the spelling --temperatures asks for NAME_T{t} file names even for one T."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.sweep_names = option_string == "--temperatures"


def inherit_split(args, teacher_record: dict) -> None:
    """Fill the split flags from the teacher's sidecar; refuse values that differ from it."""
    recorded = teacher_record.get("split", {})
    for flag, key in SPLIT_SETTING_OF_FLAG.items():
        given, theirs = getattr(args, flag), recorded.get(key)
        if given is None:
            setattr(args, flag, Path(theirs) if flag == "split_dir" and theirs else theirs)
        elif str(given) != str(theirs):
            raise InputError(f"--{flag} {given}: the teacher {args.source} was trained with {flag} {theirs}; "
                             "distilling on another split would test on clips the teacher has seen")


def check_teacher_matches(args, teacher_record: dict, data, split) -> None:
    if teacher_record.get("classes") != data.classes:
        raise InputError(f"{args.source}: teacher classes differ from {data.frames_path.parent}/classes.txt")
    if list(teacher_record.get("input_shape", [])) != list(data.clip_shape):
        raise InputError(f"{args.source}: teacher input shape {teacher_record.get('input_shape')} but the "
                         f"clips in {data.frames_path} are {list(data.clip_shape)}")
    if teacher_record["split"].get("test_indices") != split.test.tolist():
        raise InputError(f"{args.source}: the split of {data.frames_path} does not reproduce the teacher's test "
                         "clips (other frames than the teacher's?)")


def run_paths(args, temperature: float, sweep: bool) -> RunPaths:
    def tagged(path: Path | None) -> Path | None:
        if path is None or not sweep:
            return path
        return path.with_name(f"{path.stem}_T{temperature:g}{path.suffix}")

    return RunPaths.from_args(tagged(args.output_path), tagged(args.log_path), tagged(args.logdir))


def finished_before(paths: RunPaths, teacher_sha256: str) -> bool:
    """True when this output was already distilled, completely, from this very teacher file."""
    if not paths.is_complete():
        return False
    return read_sidecar(paths.output).get("distillation", {}).get("teacher_sha256") == teacher_sha256


def main() -> None:
    parser = build_parser()
    parser.set_defaults(sweep_names=False)
    args = parser.parse_args()
    if not args.source.is_file():
        raise InputError(f"--source {args.source}: teacher model not found")
    teacher_record = read_sidecar(args.source)
    inherit_split(args, teacher_record)
    data, split = data_and_split(args)  # fails fast, before TensorFlow loads
    check_teacher_matches(args, teacher_record, data, split)
    temperatures = list(dict.fromkeys(args.temperature))
    sweep = len(temperatures) > 1 or args.sweep_names  # NAME_T{t} names
    todo = [(t, run_paths(args, t, sweep)) for t in temperatures]

    from utils.tensorflow_runtime import training_runtime

    strategy = training_runtime(args)
    import keras
    import numpy as np

    from models.c3d import student_c3d
    from models.logits import load_logits_model
    from models.distiller import Distiller
    from models.initialisation import initialise
    from utils.training.distribution import chief_decides, is_chief
    from utils.training.teacher_cache import file_sha256, teacher_logits_table
    from utils.training.run import seed_everything, train_and_save

    chief = is_chief(strategy)  # the one worker that writes files and reports on them
    with strategy.scope():
        teacher = load_logits_model(args.source, "--source")
    teacher_sha256 = file_sha256(args.source)  # keys the logit cache and the skipping of finished runs
    table = None
    if args.teacher_logits in ("auto", "cache"):
        seen = np.concatenate([split.train, split.val])
        table, cache, reused = teacher_logits_table(teacher, args.source, teacher_sha256, data, seen,
                                                    args.batch_size, write=chief)
        if chief:  # the others compute the same table but do not write it
            print(f"teacher logits {'reused from' if reused else 'cached in'} {cache}", flush=True)

    for temperature, paths in todo:
        if chief_decides(strategy, finished_before(paths, teacher_sha256)):
            if chief:
                print(f"T={temperature:g}: {paths.output} already exists, skipping (delete it to train again)")
            continue
        seed_everything(args.seed)
        with strategy.scope():
            student = student_c3d(data.num_classes, data.clip_shape, width=args.width)
            initialise(student, args.init)
            distiller = Distiller(student, teacher)
            distiller.compile(keras.optimizers.Adam(learning_rate=args.lr),
                              [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                              keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                              keras.losses.KLDivergence(), alpha=args.alpha, temperature=temperature,
                              jit_compile=jit_compile_value(args.jit_compile))
        record = {"role": "distilled_student", "architecture": "c3d_student", "task": "distillation",
                  "width": args.width,
                  "distillation": {"teacher": str(args.source.resolve()), "teacher_architecture":
                                   teacher_record.get("architecture"), "temperature": temperature,
                                   "alpha": args.alpha, "teacher_logits": "online" if table is None else "cache",
                                   "teacher_sha256": teacher_sha256}}
        train_and_save(distiller, data, split, args, record, paths=paths, teacher_logits=table, strategy=strategy)


if __name__ == "__main__":
    run(main, "distill.py", INTERRUPTED_TRAINING)

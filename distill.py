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
    ALPHA,
    INPUT_FILE,
    INTERRUPTED_TRAINING,
    SPLIT_SETTING_OF_FLAG,
    TEMPERATURE,
    ArgumentParser,
    add_data_arguments,
    add_original_code_argument,
    add_other_frames_argument,
    add_split_arguments,
    add_training_arguments,
    entry_point,
    jit_compile_value,
)
from utils.data.splits import SplitSettings
from utils.errors import InputError
from utils.evaluation.held_out_clips import check_model_matches_data
from utils.ownership import claim
from utils.sidecar import read_sidecar, sidecar_path
from utils.training.outputs import RunPaths
from utils.training.preflight import check_run_outputs, run_targets
from utils.training.settings import TrainSettings, data_and_split, output_path


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="distill.py", description=__doc__)
    add_data_arguments(parser)
    add_other_frames_argument(parser)
    parser.add_argument("--source", type=INPUT_FILE, required=True,
                        help="trained teacher model (.keras or .h5) with its .json sidecar")
    group = add_training_arguments(parser, epochs=100, output="outputs/student_distilled.keras")
    group.add_argument("--temperature", "--temperatures", type=TEMPERATURE, nargs="+", default=[10.0],
                       action=TemperaturesAction, metavar="T",
                       help="softening temperature T; several (e.g. 1 5 10 15 20) run the paper's sweep, one student "
                            "per T saved as NAME_T1.keras, NAME_T5.keras, ... (as does the spelling --temperatures, "
                            "even for one T)")
    group.add_argument("--alpha", type=ALPHA, default=0.1, help="weight of the hard-label loss")
    group.add_argument("--teacher_logits", choices=("cache", "online", "auto"), default="cache",
                       help="cache: run the teacher once and reuse its logits (nothing here augments clips, so they "
                            "never change); online: run it on every batch ('auto', an older spelling, means cache)")
    add_original_code_argument(parser)
    add_split_arguments(parser, inherited="default: the teacher's, and a different one is refused (the teacher saw "
                        "those clips)")
    return parser


class TemperaturesAction(argparse.Action):
    """--temperature T [T ...]; the spelling --temperatures asks for NAME_T{t} file names even for one T."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.sweep_names = option_string == "--temperatures"


def teacher_split(args, teacher_record: dict) -> SplitSettings:
    """The teacher's recorded split; a split flag given with another value is refused."""
    recorded = teacher_record.get("split")
    if not isinstance(recorded, dict) or "protocol" not in recorded:
        raise InputError(f"{args.source}: its sidecar records no split; it was not trained by this project")
    for flag, key in SPLIT_SETTING_OF_FLAG.items():
        given, theirs = getattr(args, flag), recorded.get(key)
        if given is not None and str(given) != str(theirs):
            raise InputError(f"--{flag} {given}: the teacher {args.source} was trained with {flag} {theirs}; "
                             "distilling on another split would test on clips the teacher has seen")
    return SplitSettings.from_json({key: recorded.get(key) for key in SPLIT_SETTING_OF_FLAG.values()})


def check_teacher_matches(source: Path, teacher_record: dict, data, split, allow_other_frames: bool) -> None:
    check_model_matches_data(source, teacher_record, data, allow_other_frames)
    if teacher_record["split"].get("test_indices") != split.test.tolist():
        raise InputError(f"{source}: the split of {data.frames_path} does not reproduce the teacher's test "
                         "clips (other frames than the teacher's?)")


def run_paths(args, temperature: float, sweep: bool) -> RunPaths:
    """The files of one temperature's student: NAME_T{t}.keras and, unless given, its history and logs
    named after it, in a sweep."""
    def tagged(path: Path | None) -> Path | None:
        if path is None or not sweep:
            return path
        return path.with_name(f"{path.stem}_T{temperature:g}{path.suffix}")

    return RunPaths.for_output(tagged(output_path(args)), tagged(args.log_path), tagged(args.logdir),
                               create=args.output_path is None)


def planned_runs(args, data, split) -> list[tuple[float, RunPaths]]:
    """(T, its files) of every student to distil, checked before any work: no two write the same names (two
    temperatures that print alike), and none writes over the teacher or the frames."""
    temperatures = list(dict.fromkeys(args.temperature))
    sweep = len(temperatures) > 1 or args.sweep_names  # NAME_T{t} names
    todo = [(t, run_paths(args, t, sweep)) for t in temperatures]
    seen: dict[Path, float] = {}
    for temperature, paths in todo:
        earlier = seen.setdefault(paths.output.resolve(), temperature)
        if earlier != temperature:
            raise InputError(f"--temperature {earlier:.10g} and {temperature:.10g}: both would be saved as "
                             f"{paths.output.name}; give temperatures that differ in their first 6 digits")
    teacher_files = {"--source": args.source, "the teacher's sidecar": sidecar_path(args.source)}
    for _, paths in todo:  # a student written over its teacher, or over a user's file, is refused before any work
        check_run_outputs(paths, data, args.annotations, teacher_files)
        claim(run_targets(paths), args.overwrite, paths.previous, paths.output)
    return todo


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    parser.set_defaults(sweep_names=False)
    args = parser.parse_args(argv)
    if not args.source.is_file():
        raise InputError(f"--source {args.source}: teacher model not found")
    teacher_record = read_sidecar(args.source)
    settings = TrainSettings.from_args(args, split=teacher_split(args, teacher_record))
    settings, data, split = data_and_split(settings)  # fails fast, before TensorFlow loads
    check_teacher_matches(args.source, teacher_record, data, split, args.allow_other_frames)
    if bool(teacher_record.get("original_code")) != settings.original_code:
        raise InputError(f"--source {args.source}: " + (
            "was trained without --original_code; that ablation distils from a teacher trained with it" if
            settings.original_code else "was trained with --original_code (it ends in softmax); distil from it "
                                        "with --original_code, or from a teacher trained without it"))
    todo = planned_runs(args, data, split)

    from utils.training.runtime import training_runtime

    strategy, settings = training_runtime(settings)
    from models.logits import load_recognizer
    from utils.training.distribution import is_chief
    from utils.training.teacher_cache import file_sha256, teacher_logits_table

    chief = is_chief(strategy)  # the one worker that writes files and reports on them
    with strategy.scope():
        teacher = load_recognizer(args.source, "--source", teacher_record)
    teacher_sha256 = file_sha256(args.source)  # keys the logit cache and the skipping of finished runs
    table = None
    if args.teacher_logits != "online":
        import numpy as np

        seen = np.concatenate([split.train, split.val])
        table, cache, reused = teacher_logits_table(teacher, args.source, teacher_sha256, data, seen,
                                                    settings.batch_size, write=chief)
        if chief:  # the others compute the same table but do not write it
            print(f"teacher logits {'reused from' if reused else 'cached in'} {cache}", flush=True)
    for temperature, paths in todo:
        distil_one(args, settings.with_paths(paths), data, split, teacher, teacher_record, teacher_sha256, temperature,
                   table, strategy)


def distil_one(args, settings: TrainSettings, data, split, teacher, teacher_record: dict, teacher_sha256: str,
               temperature: float, table, strategy) -> None:
    """One student distilled at ``temperature`` (utils/training/trainer.train_and_save)."""
    import keras

    from models.c3d import student_c3d
    from models.distiller import Distiller
    from models.initialisation import initialise
    from utils.training.trainer import seed_everything, train_and_save

    if settings.original_code:
        from models.original_code import quiet_from_logits_warning, with_softmax

        quiet_from_logits_warning()
    seed_everything(settings.seed)
    with strategy.scope():
        student = student_c3d(data.num_classes, data.clip_shape, width=settings.width)
        initialise(student, settings.init)
        if settings.original_code:
            student = with_softmax(student)
        distiller = Distiller(student, teacher, original_code=settings.original_code)
        distiller.compile(settings.optimizer(len(split.train), strategy.num_replicas_in_sync),
                          [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                          alpha=args.alpha, temperature=temperature,
                          jit_compile=jit_compile_value(settings.jit_compile))
    record = {"role": "distilled_student", "architecture": "c3d_student", "task": "distillation",
              "width": settings.width, **settings.network_record(),
              "distillation": {"teacher": str(args.source.resolve()), "teacher_architecture":
                               teacher_record.get("architecture"), "temperature": temperature,
                               "alpha": args.alpha, "teacher_logits": "online" if table is None else "cache",
                               "teacher_sha256": teacher_sha256}}
    train_and_save(distiller, data, split, settings, record, teacher_logits=table, strategy=strategy,
                   inputs={"--source": args.source, "the teacher's sidecar": sidecar_path(args.source)})


if __name__ == "__main__":
    entry_point(main, "distill.py", INTERRUPTED_TRAINING)

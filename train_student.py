#!/usr/bin/env python3
"""Train the small 3D-CNN student on hard labels alone: the paper's "Student w/o KD" baseline.

    python train_student.py --data Output_dataset/UCF11 --output_path models/UCF11_student.keras

Same flags, outputs and resumption as train_teacher.py; the paper trains it like the teacher
(Adam 1e-4, batch 8). The distilled students (distill.py) use the same architecture, so this is
the row they are compared with.
"""

from __future__ import annotations

from utils.cli import (
    INTERRUPTED_TRAINING,
    ArgumentParser,
    add_data_arguments,
    add_original_code_argument,
    add_split_arguments,
    add_training_arguments,
    entry_point,
)
from utils.training.settings import TrainSettings, data_and_split


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="train_student.py", description=__doc__)
    add_data_arguments(parser)
    add_training_arguments(parser, epochs=50, output="outputs/student.keras")
    add_original_code_argument(parser)
    add_split_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    settings = TrainSettings.from_args(build_parser().parse_args(argv))
    settings, data, split = data_and_split(settings)  # fails fast, before TensorFlow loads

    from utils.training.runtime import training_runtime

    strategy, settings = training_runtime(settings)
    from models.c3d import student_c3d
    from models.initialisation import initialise
    from utils.training.trainer import seed_everything, train_and_save

    seed_everything(settings.seed)
    with strategy.scope():
        model = student_c3d(data.num_classes, data.clip_shape, width=settings.width)
        initialise(model, settings.init)
        if settings.original_code:
            from models.original_code import quiet_from_logits_warning, with_softmax

            quiet_from_logits_warning()
            model = with_softmax(model)
    record = {"role": "student", "architecture": "c3d_student", "task": "student_without_kd", "width": settings.width,
              **settings.network_record()}
    train_and_save(model, data, split, settings, record, strategy=strategy)


if __name__ == "__main__":
    entry_point(main, "train_student.py", INTERRUPTED_TRAINING)

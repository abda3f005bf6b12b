#!/usr/bin/env python3
"""Train the C3D teacher: from scratch ("TFS") or fine-tuned from Sports-1M weights ("TUTL").

    # TFS: C3D trained from scratch (the paper: Adam 1e-4, batch 8, 50 epochs)
    python train_teacher.py --data Output_dataset/UCF11 --task train_local_teacher \\
        --output_path models/UCF11_teacher_TFS.keras

    # TUTL: Sports-1M C3D, every layer through fc7 frozen, a new classification head trained
    python train_teacher.py --data Output_dataset/UCF11 --task fintuning_C3D_Sports1M \\
        --weights sports1M_weights_tf.h5 --output_path models/UCF11_teacher_TUTL.keras

The model outputs logits. Beside it: NAME.json (sidecar: classes, input shape, split and its test
indices, hyper-parameters, metrics), NAME.history.csv, and TensorBoard logs in runs/NAME/.
Killed or interrupted, the same command resumes from the last finished epoch.
"""

from __future__ import annotations

from dataclasses import replace

from utils.cli import (
    INPUT_FILE,
    INTERRUPTED_TRAINING,
    ArgumentParser,
    add_data_arguments,
    add_original_code_argument,
    add_split_arguments,
    add_training_arguments,
    entry_point,
)
from utils.errors import InputError
from utils.training.settings import TrainSettings, data_and_split

TASKS = ("train_local_teacher", "fintuning_C3D_Sports1M")  # spelled as in the original project


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="train_teacher.py", description=__doc__)
    add_data_arguments(parser)
    parser.add_argument("--task", choices=TASKS, default="train_local_teacher",
                        help="train_local_teacher: C3D from scratch (TFS); fintuning_C3D_Sports1M: Sports-1M "
                             "C3D with a new head (TUTL, needs --weights)")
    parser.add_argument("--weights", type=INPUT_FILE, default=None,
                        help="Sports-1M C3D weights (sports1M_weights_tf.h5 of the public Keras port, or a stand-in "
                             "written by pretrain_teacher.py); the TUTL teacher's width is the file's")
    add_training_arguments(parser, epochs=50, output="outputs/teacher.keras")
    add_original_code_argument(parser)
    parser.set_defaults(width=None)  # TFS: 1.0; TUTL: the weights file's
    add_split_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    transfer = args.task == "fintuning_C3D_Sports1M"
    if transfer and args.weights is None:
        raise InputError("--task fintuning_C3D_Sports1M needs --weights PATH/sports1M_weights_tf.h5")
    settings = TrainSettings.from_args(args, width=args.width or 1.0)  # TUTL: the weights file's, below
    settings, data, split = data_and_split(settings)  # fails fast, before TensorFlow loads

    from utils.training.runtime import training_runtime

    strategy, settings = training_runtime(settings)
    from models.c3d import teacher_c3d
    from models.initialisation import initialise
    from models.sports1m import port_width, sports1m_c3d, weights_pretext
    from utils.training.trainer import seed_everything, train_and_save

    seed_everything(settings.seed)
    with strategy.scope():
        if not transfer:
            model = teacher_c3d(data.num_classes, data.clip_shape, width=settings.width)
            initialise(model, settings.init)
            record = {"role": "teacher", "architecture": "c3d_teacher", "task": args.task, "width": settings.width}
        else:
            width = port_width(args.weights)
            if args.width not in (None, width):
                raise InputError(f"--width {args.width:g}: the weights in {args.weights} are of width {width:g}")
            settings = replace(settings, width=width)
            model = sports1m_c3d(data.num_classes, args.weights, data.clip_shape)
            record = {"role": "teacher", "architecture": "c3d_sports1m", "task": args.task, "width": width,
                      "weights": str(args.weights.resolve()), "weights_pretext": weights_pretext(args.weights)}
    if settings.original_code:
        from models.original_code import quiet_from_logits_warning, with_softmax

        quiet_from_logits_warning()
        with strategy.scope():
            model = with_softmax(model)
    train_and_save(model, data, split, settings, {**record, **settings.network_record()}, strategy=strategy,
                   inputs={"--weights": args.weights} if transfer else None)


if __name__ == "__main__":
    entry_point(main, "train_teacher.py", INTERRUPTED_TRAINING)

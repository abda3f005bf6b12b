#!/usr/bin/env python3
"""Pre-train C3D on other actions and write it as Sports-1M weights: a stand-in for the TUTL teacher.

The paper's TUTL teacher starts from C3D trained on Sports-1M (the public Keras port's
sports1M_weights_tf.h5), which cannot be downloaded here. This trains the same network (the port's
layout: conv1 ... fc8, no dropout between conv blocks, BGR minus the Sports-1M means as input) on a
pretext dataset whose classes are disjoint from the target's, and writes its weights in the port's
file layout, so that the unchanged TUTL path reads them:

    python make_synthetic_dataset.py --actions pretext --output_path data/pretext_videos
    python video_to_frames.py --input_path data/pretext_videos --output_path data/pretext_frames \\
        --frame_height 32 --frame_width 32
    python pretrain_teacher.py --data data/pretext_frames --width 0.25 --init motion \\
        --output_path models/pretext_c3d.keras --weights_output models/pretext_sports1M_weights_tf.h5
    python train_teacher.py --data data/synthetic_frames --task fintuning_C3D_Sports1M \\
        --weights models/pretext_sports1M_weights_tf.h5 --output_path models/teacher_TUTL.keras

The clips must have the target's size (fc6's input size follows it). Beside the weights file:
the trained model with its sidecar, history and TensorBoard logs, as for any training; killed or
interrupted, the same command resumes, and a finished run is not repeated.
"""

from __future__ import annotations

from pathlib import Path

from utils.cli import (
    FRAMES_INPUT,
    INTERRUPTED_TRAINING,
    OUTPUT_FILE,
    SEED,
    ArgumentParser,
    add_data_arguments,
    add_split_arguments,
    add_training_arguments,
    entry_point,
)
from utils.data.frames_data import open_frames
from utils.errors import InputError
from utils.training.settings import TrainSettings, data_and_split, output_path

# Trained on inputs scaled to unit range (Adam's steps suit that scale); the port's file, written for
# 0-255 inputs, gets the scale folded into conv1 (models/sports1m.py).
TRAINING_INPUT_SCALE = 1 / 255


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="pretrain_teacher.py", description=__doc__)
    add_data_arguments(parser)
    add_training_arguments(parser, epochs=50, output="outputs/pretext_c3d.keras")
    parser.add_argument("--weights_output", type=OUTPUT_FILE, default=None,
                        help="the weights in the Sports-1M port's layout (default: OUTPUT_sports1M_weights_tf.h5 "
                             "beside the model)")
    probe = parser.add_argument_group("transfer check", "a linear probe on the frozen fc7 features: a logistic "
                                      "regression trained on the target's training clips, scored on its test clips "
                                      "(utils/evaluation/linear_probe.py); printed and recorded in the weights file")
    probe.add_argument("--probe_data", type=FRAMES_INPUT, default=None, metavar="FRAMES",
                       help="the target's frames folder (same clip size as --data)")
    probe.add_argument("--probe_seeds", type=SEED, nargs="+", default=[0], metavar="SEED",
                       help="the target's random 80/20 splits to probe, one per seed (the reproduction's seeds)")
    add_split_arguments(parser)
    return parser


def weights_path(args) -> Path:
    output = output_path(args)
    return args.weights_output or output.with_name(f"{output.stem}_sports1M_weights_tf.h5")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    target = weights_path(args)
    if target.suffix != ".h5":
        raise InputError(f"--weights_output {target}: use an .h5 file name (the port's format)")
    settings = TrainSettings.from_args(args)
    settings, data, split = data_and_split(settings)  # fails fast, before TensorFlow loads
    probe_data = open_frames(args.probe_data) if args.probe_data else None
    if probe_data is not None and probe_data.clip_shape != data.clip_shape:
        raise InputError(f"--probe_data {args.probe_data}: clips {list(probe_data.clip_shape)}, but the network is "
                         f"trained on {list(data.clip_shape)} (fc6's input size follows the clip size)")
    paths = settings.paths
    done = paths.is_complete() and target.is_file() and not settings.overwrite
    if done and (probe_data is None or _probe_recorded(target, probe_data, args.probe_seeds)):
        print(f"{paths.output} and {target} exist, skipping (--overwrite trains them again)")
        return

    from utils.training.runtime import training_runtime

    strategy, settings = training_runtime(settings)
    import keras

    from models.initialisation import initialise
    from models.sports1m import sports1m_c3d_full, weights_pretext, write_sports1m_weights
    from utils.ownership import Target, claim
    from utils.sidecar import read_sidecar
    from utils.training.trainer import seed_everything, train_and_save

    # a weights file is replaced only if it is a stand-in this project wrote (the real port's has no record)
    claim([Target(target, "--weights_output", ours=lambda path: weights_pretext(path) is not None)],
          overwrite=False, aside=None)

    if not paths.is_complete() or settings.overwrite:
        seed_everything(settings.seed)
        with strategy.scope():
            model = sports1m_c3d_full(None, data.clip_shape, width=settings.width, num_classes=data.num_classes,
                                      input_scale=TRAINING_INPUT_SCALE)
            initialise(model, settings.init, head="fc8")
        record = {"role": "pretext", "architecture": "c3d_sports1m_full", "task": "pretext", "width": settings.width}
        train_and_save(model, data, split, settings, record, strategy=strategy, inputs={"--weights_output": target})
    record = read_sidecar(paths.output)
    pretext = {"model": str(paths.output.resolve()), "classes": record["classes"], "input_shape": record["input_shape"],
               "width": record["width"], "frames": record["data"]["frames"], "metrics": record["metrics"]}
    print(f"pretext network: validation accuracy {record['metrics'].get('val_accuracy', float('nan')):.4f}, test "
          f"accuracy {record['metrics']['test_accuracy']:.4f} on its own {len(record['classes'])} classes")
    model = keras.models.load_model(paths.output)
    write_sports1m_weights(model, target, pretext)
    if probe_data is not None:
        pretext["probe"] = _probe(target, probe_data, args.probe_seeds)
        write_sports1m_weights(model, target, pretext)
    print(f"weights in the Sports-1M port's layout: {target} (use with train_teacher.py --task "
          f"fintuning_C3D_Sports1M --weights {target})")


def _probe_recorded(weights: Path, data, seeds: list[int]) -> bool:
    from models.sports1m import weights_pretext

    probe = (weights_pretext(weights) or {}).get("probe") or {}
    return probe.get("frames") == str(data.frames_path.resolve()) and probe.get("seeds") == [int(s) for s in seeds]


def _probe(weights: Path, data, seeds: list[int]) -> dict:
    """The linear probe on the target's split of each seed, printed; the record kept in the weights file."""
    import numpy as np

    from utils.data.splits import SplitSettings, make_split
    from utils.evaluation.linear_probe import linear_probe

    scores = []
    for seed in seeds:
        split = make_split(data.labels, data.paths, SplitSettings(seed=seed), data.classes)
        result = linear_probe(weights, data, split)
        scores.append(result["test_accuracy"])
        print(f"linear probe on frozen fc7, {data.frames_path} split seed {seed}: test accuracy "
              f"{result['test_accuracy']:.4f} ({result['test_clips']} clips; train {result['train_accuracy']:.4f})")
    print(f"linear probe: {100 * np.mean(scores):.1f}% mean test accuracy over {len(seeds)} split(s)")
    return {"frames": str(data.frames_path.resolve()), "seeds": [int(s) for s in seeds],
            "test_accuracy": [float(s) for s in scores], "mean_test_accuracy": float(np.mean(scores))}


if __name__ == "__main__":
    entry_point(main, "pretrain_teacher.py", INTERRUPTED_TRAINING)

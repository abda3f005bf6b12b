"""A training run's settings, built once from the command line, and what is settled before TensorFlow loads.

Kept free of TensorFlow so that a wrong flag or a broken frames folder is reported in a second,
not after TensorFlow's start-up. Library code takes these settings, never the argparse namespace,
so tests and benchmarks call the real training code in-process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from utils.data.frames_data import FramesData, open_frames
from utils.data.splits import Split, SplitSettings, describe, make_split
from utils.errors import InputError
from utils.training.outputs import RunPaths

WARMUP_SHARE = 0.1  # of a cosine schedule's steps, spent raising the learning rate from 0


@dataclass(frozen=True)
class TrainSettings:
    """Everything one training or distillation run is asked to do (the paper's values by default)."""

    data: Path
    paths: RunPaths
    split: SplitSettings = SplitSettings()
    annotations: Path | None = None
    batch_size: int = 8
    epochs: int = 50
    steps: int | None = None  # --steps: the epochs are then the fewest that take this many steps (data_and_split)
    lr: float = 1e-4
    lr_schedule: str = "constant"
    width: float = 1.0
    init: str = "glorot"
    mixed_precision: str = "off"  # the CLI's default is "auto", resolved by utils/training/runtime.training_runtime
    jit_compile: str = "auto"
    strategy: str = "auto"
    requested_precision: str | None = None  # what --mixed_precision said, when it was resolved from "auto"
    original_code: bool = False  # the authors' arithmetic, an ablation (models/original_code.py)
    overwrite: bool = False  # redo a finished output / discard a backup of other settings (utils/training/preflight.py)
    command_line: tuple[str, ...] = ()  # the script and its words as typed, for NAME.log

    @classmethod
    def from_args(cls, parsed, **overrides) -> TrainSettings:
        """From the flags of utils/cli.add_data_arguments, add_training_arguments and add_split_arguments."""
        paths = RunPaths.for_output(output_path(parsed), parsed.log_path, parsed.logdir,  # refused before any work
                                    create=parsed.output_path is None)
        split = overrides.pop("split", None) or SplitSettings.from_args(parsed)
        values = dict(data=parsed.data, annotations=parsed.annotations, paths=paths, split=split,
                      batch_size=parsed.batch_size, epochs=parsed.epochs, steps=parsed.steps, lr=parsed.lr,
                      lr_schedule=parsed.lr_schedule, width=parsed.width,
                      init=parsed.init, mixed_precision=parsed.mixed_precision, jit_compile=parsed.jit_compile,
                      strategy=parsed.strategy, overwrite=getattr(parsed, "overwrite", False),
                      original_code=getattr(parsed, "original_code", False),
                      command_line=tuple(getattr(parsed, "command_line", ())))
        return cls(**{**values, **overrides})

    @property
    def seed(self) -> int:
        """One seed for the split, the initial weights, dropout and shuffling."""
        return self.split.seed

    def network_record(self) -> dict:
        """Sidecar keys every model of this run carries besides its role: the ablation flag, when set."""
        return {"original_code": True} if self.original_code else {}

    def with_paths(self, paths: RunPaths) -> TrainSettings:
        return replace(self, paths=paths)

    def steps_per_epoch(self, train_clips: int, replicas: int) -> int:
        """Training steps of one epoch: the last batch may be smaller, except across several replicas,
        which need equal shares (utils/training/input_pipeline.clip_dataset drops it)."""
        return train_clips // self.batch_size if replicas > 1 else math.ceil(train_clips / self.batch_size)

    def optimizer(self, train_clips: int, replicas: int = 1):
        """Adam at --lr, held constant (the paper) or, with --lr_schedule cosine, raised linearly from 0
        over the first tenth of the run's steps and then decayed to 0 along a half cosine (a departure:
        the warm-up lets a large step size start without collapsing the network to one class, and the
        decay lets the last epochs settle instead of swinging with each step)."""
        import keras

        rate = self.lr
        if self.lr_schedule == "cosine":
            steps = self.epochs * self.steps_per_epoch(train_clips, replicas)
            warmup = round(WARMUP_SHARE * steps)
            rate = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=max(1, steps - warmup),
                                                          warmup_target=self.lr, warmup_steps=warmup)
        return keras.optimizers.Adam(learning_rate=rate)

    def hyperparameters(self, replicas: int) -> dict:
        """The sidecar's record of how the model was trained."""
        return {"batch_size": self.batch_size, "epochs": self.epochs, "steps": self.steps, "lr": self.lr,
                "lr_schedule": self.lr_schedule, "width": self.width,
                "seed": self.seed, "optimizer": "adam", "init": self.init, "mixed_precision": self.mixed_precision,
                "mixed_precision_flag": self.requested_precision or self.mixed_precision,
                "jit_compile": self.jit_compile, "strategy": self.strategy, "replicas": replicas}


def output_path(parsed) -> Path:
    """--output_path, or the script's default (utils/cli.add_training_arguments)."""
    return parsed.output_path or parsed.default_output_path


def data_and_split(settings: TrainSettings) -> tuple[TrainSettings, FramesData, Split]:
    """Open the frames and split them as ``settings`` say; InputError for anything that cannot work.
    Returns the settings with --steps turned into epochs (the fewest whole epochs that take that many
    steps on one replica)."""
    data = open_frames(settings.data, settings.annotations)
    split = make_split(data.labels, data.paths, settings.split, data.classes)
    if settings.batch_size > len(split.train):
        raise InputError(f"--batch_size {settings.batch_size} is larger than the {len(split.train)} training clips")
    print(describe(split, data.labels), flush=True)
    if settings.steps is not None:
        settings = replace(settings, epochs=math.ceil(settings.steps / settings.steps_per_epoch(len(split.train), 1)))
        print(f"--steps {settings.steps}: {settings.epochs} epochs of "
              f"{settings.steps_per_epoch(len(split.train), 1)} steps", flush=True)
    return settings, data, split

"""What a training script settles before TensorFlow is even imported: outputs, data and split.

Kept free of TensorFlow so that a wrong flag or a broken frames folder is reported in a second,
not after TensorFlow's start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from utils import atomic_files
from utils.errors import InputError
from utils.data.frames_data import open_frames
from utils.data.splits import SplitSettings, describe, make_split


@dataclass(frozen=True)
class RunPaths:
    output: Path
    history: Path
    tensorboard: Path

    @property
    def best(self) -> Path:
        return self.output.with_name(self.output.stem + ".best.keras")

    @property
    def curves(self) -> Path:
        return self.output.with_name(self.output.stem + ".curves.png")

    @property
    def backup(self) -> Path:
        return self.output.with_name(self.output.stem + ".backup")

    def is_complete(self) -> bool:
        return output_is_complete(self.output)

    @classmethod
    def from_args(cls, output_path: Path, log_path: Path | None, logdir: Path | None) -> RunPaths:
        output = Path(output_path)
        if output.suffix not in (".keras", ".h5"):
            raise InputError(f"--output_path {output}: use a .keras (or legacy .h5) file name")
        atomic_files.require_writable_folder(output.parent, f"--output_path {output}", create=False)
        history = Path(log_path) if log_path else output.with_name(output.stem + ".history.csv")
        tensorboard = Path(logdir) if logdir else Path("runs") / output.stem
        return cls(output, history, tensorboard)


def output_is_complete(output: Path) -> bool:
    """True when a training run finished ``output``: the model and its sidecar exist, and no backup
    says the run is still going. A backup without the running best model is the exception: the
    best is saved before the backup in every epoch, so it is gone only because the final step
    moved it into place and was stopped while removing the backup."""
    from utils.sidecar import sidecar_path

    output = Path(output)
    if not (output.is_file() and sidecar_path(output).is_file()):
        return False
    backup = output.with_name(output.stem + ".backup")
    best = output.with_name(output.stem + ".best.keras")
    return not backup.exists() or not best.exists()


def data_and_split(args):
    """Check the output flags, open --data/--annotations and split as the split flags say."""
    RunPaths.from_args(args.output_path, args.log_path, args.logdir)  # refuse a bad output before any work
    data = open_frames(args.data, args.annotations)
    args.split_settings = SplitSettings(protocol=args.split, test_size=args.test_size, val_size=args.val_size,
                                        seed=args.seed, split_dir=str(args.split_dir) if args.split_dir else None,
                                        split_id=args.split_id)
    split = make_split(data.labels, data.paths, args.split_settings, data.classes)
    if args.batch_size > len(split.train):
        raise InputError(f"--batch_size {args.batch_size} is larger than the {len(split.train)} training clips")
    print(describe(split, data.labels), flush=True)
    return data, split

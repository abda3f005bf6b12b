"""What every script shares on the command line: parsing, and the bad-input contract.

Bad input ends in one line on stderr naming the file or flag and the problem, exit status 2 and
no traceback; Ctrl-C ends with status 130 and a line instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from utils.errors import InputError

EXIT_BAD_INPUT = 2
INITS = ("glorot", "motion")
LR_SCHEDULES = ("constant", "cosine")  # models/initialisation.py's schemes, named here so --help needs no TensorFlow
EXIT_INTERRUPTED = 130


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the script docstring's layout (examples) and shows defaults that say something."""

    def _get_help_string(self, action):
        help_text = action.help or ""
        if action.required or action.default in (None, False) or "default" in help_text:
            return help_text
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with useful defaults in --help and one-line errors (no usage dump)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(**kwargs)

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def seed_int(text: str) -> int:
    """A random seed NumPy and TensorFlow both accept: 0 to 2**32 - 1."""
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 4294967295, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number (finite), got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def absolute_path(text: str) -> Path:
    """For paths recorded in sidecars: a later step may run from another working directory."""
    return Path(text).expanduser().resolve()


INTERRUPTED = "interrupted; nothing incomplete was kept. Run the same command again."
INTERRUPTED_TRAINING = ("interrupted; the epochs finished so far are kept. Run the same command again to resume "
                        "from the last one.")


def run(main: Callable[[], None], prog: str, interrupted: str = INTERRUPTED) -> None:
    """Call ``main`` and turn InputError and Ctrl-C into the contract's exits; ``interrupted`` is
    what Ctrl-C prints (how to resume)."""
    try:
        main()
    except InputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print(f"\n{prog}: {interrupted}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as error:  # noqa: BLE001  only a full disk is turned into a line; the rest re-raised
        from utils.atomic_files import disk_full_error

        full = disk_full_error(error)
        if full is None:
            raise
        where = f" writing {full.filename}" if getattr(full, "filename", None) else ""
        print(f"{prog}: error: disk full{where} ({full.strerror or 'no space left on device'}); partial files were "
              "removed and earlier outputs kept. Free some space and run the same command again.", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


# --- argument groups shared by the training scripts ---------------------------------------------


def unit_interval(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", type=Path, required=True,
                       help="frames folder written by video_to_frames.py (or its frames.npy)")
    group.add_argument("--annotations", type=Path, default=None,
                       help="labels file (default: labels.npy beside frames.npy)")


def add_other_frames_argument(parser: argparse.ArgumentParser) -> None:
    """For scripts that read a trained model with --data: refuse frames other than its own, unless asked."""
    parser.add_argument("--allow_other_frames", action="store_true",
                        help="use --data although its content differs from the frames the model was trained on (its "
                             "sidecar records a digest of them); by default that is refused, since the same clip "
                             "indices would then name other clips")


def add_split_arguments(parser: argparse.ArgumentParser, inherited: str | None = None) -> None:
    """The split flags; with ``inherited`` (what --help says about it) they default to None, for a
    split recorded in a sidecar."""
    defaults = {"split": "random", "test_size": 0.2, "val_size": 0.1, "seed": 0, "split_id": 1}
    if inherited:
        defaults = dict.fromkeys(defaults)
    group = parser.add_argument_group(
        "split", "train/validation/test split; recorded in the model's sidecar" + (f"; {inherited}" if inherited else ""))
    group.add_argument("--split", choices=("random", "group", "official"), default=defaults["split"],
                       help="random: stratified over clips (the paper); group: all clips of a UCF group on one "
                            "side; official: UCF101/HMDB51 split lists from --split_dir")
    group.add_argument("--test_size", type=unit_interval, default=defaults["test_size"],
                       help="test fraction (random and group splits)")
    group.add_argument("--val_size", type=unit_interval, default=defaults["val_size"],
                       help="fraction of the training part held out to pick the best epoch (0: keep the last)")
    group.add_argument("--seed", type=seed_int, default=defaults["seed"],
                       help="seed of the split, initial weights and shuffling")
    group.add_argument("--split_dir", type=absolute_path, default=None,
                       help="folder with trainlist0K.txt/testlist0K.txt (UCF101) or *_test_splitK.txt (HMDB51)")
    group.add_argument("--split_id", type=int, choices=(1, 2, 3), default=defaults["split_id"],
                       help="which official split K")


# split flag -> its key in SplitSettings and in a sidecar's "split" record
SPLIT_SETTING_OF_FLAG = {"split": "protocol", "test_size": "test_size", "val_size": "val_size", "seed": "seed",
                         "split_dir": "split_dir", "split_id": "split_id"}


def given_split_settings(args) -> dict:
    """The split settings the user gave on the command line (flags left at None are absent)."""
    return {key: str(value) if key == "split_dir" else value
            for flag, key in SPLIT_SETTING_OF_FLAG.items() if (value := getattr(args, flag)) is not None}


def add_training_arguments(parser: argparse.ArgumentParser, epochs: int, output: str) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("training")
    group.add_argument("--batch_size", type=positive_int, default=8, help="clips per step")
    group.add_argument("--epochs", type=positive_int, default=epochs, help="training epochs")
    group.add_argument("--steps", type=positive_int, default=None,
                       help="train for at least this many optimizer steps instead: --epochs becomes the fewest whole "
                            "epochs that take them, so that a budget does not depend on the data set's size (the demo)")
    group.add_argument("--lr", type=positive_float, default=1e-4, help="Adam learning rate")
    group.add_argument("--lr_schedule", choices=LR_SCHEDULES, default="constant",
                       help="constant: --lr throughout (the paper); cosine: from --lr down to 0 along a half cosine "
                            "over the run's steps, so that the last epochs settle")
    group.add_argument("--width", type=positive_float, default=1.0,
                       help="channel multiplier of every layer (1.0 = the paper's model)")
    group.add_argument("--init", choices=INITS, default="glorot",
                       help="initial weights: glorot (the paper's, Keras's defaults) or motion (He-normal, conv1 as "
                            "temporal differences: leaves the first-epochs loss plateau at once; see "
                            "models/initialisation.py)")
    compute = parser.add_argument_group("compute", "speed settings; they do not change what is saved (always a "
                                        "float32 model)")
    compute.add_argument("--mixed_precision", choices=("auto", "off", "float16", "bfloat16"), default="auto",
                         help="16-bit compute with float32 weights, logits and loss. auto: bfloat16 on a CPU with "
                              "bfloat16 units (avx512_bf16, amx_bf16) or a GPU of compute capability >= 8.0, float16 on "
                              "older GPUs, float32 elsewhere; off: float32, the paper's exact protocol")
    compute.add_argument("--jit_compile", choices=("auto", "on", "off"), default="auto",
                         help="XLA-compile the training step; auto: Keras's choice, on with a GPU, off on "
                              "CPU-only machines (XLA's CPU 3-D convolutions are several times slower)")
    compute.add_argument("--strategy", choices=("auto", "none", "mirrored", "multiworker"), default="auto",
                         help="tf.distribute strategy: mirrored = all GPUs of this machine, multiworker = the "
                              "machines in TF_CONFIG, auto = mirrored with 2+ GPUs, else none; --batch_size is the "
                              "global batch (see README)")
    outputs = parser.add_argument_group("outputs")
    outputs.add_argument("--output_path", type=Path, default=None,
                         help=f"model file (.keras; a legacy .h5 name also works); its sidecar is the same name with "
                              f".json (default: {output}, its folder created if missing; a folder given here must "
                              f"exist, so that a mistyped path is not silently created)")
    parser.set_defaults(default_output_path=Path(output))
    outputs.add_argument("--log_path", type=Path, default=None,
                         help="CSV training history (default: OUTPUT.history.csv beside the model)")
    outputs.add_argument("--logdir", type=Path, default=None,
                         help="TensorBoard log folder (default: runs/OUTPUT_STEM)")
    outputs.add_argument("--overwrite", action="store_true",
                         help="train again although --output_path holds a finished model (by default a finished "
                              "model with the same settings is skipped and one with other settings refused); the "
                              "old files wait in OUTPUT_STEM.previous/ until the new model is complete. Also starts "
                              "over instead of refusing to resume a backup made with other settings")
    return group


def add_original_code_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--original_code", action="store_true",
                        help="an ablation: compute what the authors' code computed (networks ending in softmax, their "
                             "losses on those outputs, the temperature dividing probabilities; models/original_code.py). "
                             "Recorded in the sidecar; not for models meant to be used")


def jit_compile_value(choice: str):
    """--jit_compile as Model.compile takes it."""
    return {"auto": "auto", "on": True, "off": False}[choice]

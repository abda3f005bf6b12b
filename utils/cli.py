"""What every script shares on the command line: parsing, and the bad-input contract.

Bad input ends in one line on stderr naming the file or flag and the problem, exit status 2 and
no traceback; Ctrl-C ends with status 130 and a line instead of a traceback.
"""

from __future__ import annotations

import _thread
import argparse
import contextlib
import math
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from utils.errors import InputError

EXIT_BAD_INPUT = 2
INITS = ("glorot", "motion")  # models/initialisation.py's schemes, named here so --help needs no TensorFlow
LR_SCHEDULES = ("constant", "cosine")  # utils/training/settings.TrainSettings.optimizer's
JIT_COMPILE = ("auto", "on", "off")
PRECISIONS = ("auto", "off", "float16", "bfloat16")  # utils/training/precision.resolve_precision's
STRATEGIES = ("auto", "none", "mirrored", "multiworker")  # utils/training/distribution.make_strategy's
SPLIT_PROTOCOLS = ("random", "group", "official")
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

    def parse_known_args(self, args=None, namespace=None):
        """Also keeps the command as typed (``command_line``: the script, then its words) for the run's log:
        sys.argv names another program when a script's main() is called from chain.py or a test."""
        words = sys.argv[1:] if args is None else [str(word) for word in args]
        parsed, rest = super().parse_known_args(args, namespace)
        parsed.command_line = [self.prog, *words]
        return parsed, rest


@dataclass(frozen=True)
class Number:
    """An argparse type for a number flag with its declared range, checked before any work: NaN, the
    infinities and anything outside [low, high] are refused in the flag's one-line error (the ends
    are excluded where ``low_open`` / ``high_open``). tests/test_bad_flags.py generates the cases
    every range calls for from these declarations."""

    low: float
    high: float
    integer: bool = False
    low_open: bool = False
    high_open: bool = False

    @property
    def __name__(self) -> str:  # argparse names the type in some messages
        return "integer" if self.integer else "number"

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        low, high = (f"{int(v)}" if self.integer else f"{v:g}" for v in (self.low, self.high))
        if self.low_open and self.high_open:
            return f"{kind} between {low} and {high} (both excluded)"
        if self.low_open:
            return f"{kind} above {low} and at most {high}"
        if self.high_open:
            return f"{kind} from {low} and below {high}"
        return f"{kind} from {low} to {high}"

    def contains(self, value: float) -> bool:
        return (math.isfinite(value) and (value > self.low if self.low_open else value >= self.low)
                and (value < self.high if self.high_open else value <= self.high))

    def __call__(self, text: str):
        try:
            value = int(text) if self.integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text!r}") from None
        if not self.contains(value):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text}")
        return value


# The ranges of the numbers the scripts take (shared where several scripts take the same one).
BATCH_SIZE = Number(1, 65536, integer=True)
EPOCHS = Number(1, 100_000, integer=True)
STEPS = Number(1, 10**9, integer=True)
LEARNING_RATE = Number(0, 1, low_open=True)
WIDTH = Number(0, 8, low_open=True)  # 8x the paper's channels: larger models do not fit a machine here
TEMPERATURE = Number(0, 1000, low_open=True)
ALPHA = Number(0, 1)
SEED = Number(0, 2**32 - 1, integer=True)  # what NumPy and TensorFlow both accept
FRACTION_OPEN = Number(0, 1, low_open=True, high_open=True)
FRACTION_BELOW_ONE = Number(0, 1, high_open=True)
TIMING_RUNS = Number(0, 100_000, integer=True)
PARALLEL_STEPS = Number(1, 8, integer=True)
PARALLEL_STEPS_HELP = ("steps (models or temperature sweeps) trained at once, each in its own process: the small networks "
                       "leave CPU cores idle; each gets its share of the cores as TensorFlow's thread pools, which changes "
                       "the models' last bits (1: those of one at a time; default: 2 on a machine without an NVIDIA "
                       "GPU, 1 with one)")
CLIP_COUNT = Number(0, 10**9, integer=True)
WORKERS = Number(1, 1024, integer=True)
FRAMES_PER_CLIP = Number(1, 1024, integer=True)
FRAME_SIDE = Number(1, 4096, integer=True)


class PathFlag:
    """An argparse type for a path flag, declaring its role: what the script does with the path (reads a
    file or a folder, writes one, logs into one). tests/test_bad_flags.py generates the bad-input cases
    each role calls for (a folder where a file goes, a path under a file, a user's file at the name, ...)."""

    def __init__(self, role: str, absolute: bool = False):
        self.role, self.absolute, self.__name__ = role, absolute, role

    def __call__(self, text: str) -> Path:
        if not text:
            raise argparse.ArgumentTypeError("an empty path")
        path = Path(text).expanduser()
        return path.resolve() if self.absolute else path

    def __repr__(self) -> str:
        return f"PathFlag({self.role!r})"


INPUT_FILE = PathFlag("input file")
INPUT_FOLDER = PathFlag("input folder")
FRAMES_INPUT = PathFlag("frames input")  # a frames folder, or its frames.npy
OUTPUT_FILE = PathFlag("output file")
OUTPUT_FOLDER = PathFlag("output folder")
HISTORY_FILE = PathFlag("history file")
TENSORBOARD_FOLDER = PathFlag("TensorBoard folder")
ABSOLUTE_INPUT_FOLDER = PathFlag("input folder", absolute=True)  # recorded in sidecars: later steps may run elsewhere


INTERRUPTED = "interrupted; nothing incomplete was kept. Run the same command again."
INTERRUPTED_TRAINING = ("interrupted; the epochs finished so far are kept. Run the same command again to resume "
                        "from the last one.")


def entry_point(main: Callable[[], None], prog: str, interrupted: str = INTERRUPTED, *,
                ends_process: bool = True) -> None:
    """Call ``main`` inside the scripts' one error boundary: problems that come from the user's files,
    settings or machine (bad input, a path that cannot be read or written, a full disk, too little
    memory) end in one line on stderr and exit status 2; Ctrl-C ends with status 130 and
    ``interrupted`` (how to resume). Anything else is a bug of this project and keeps its traceback.

    Once the outcome is decided, a process that ends here (``ends_process``) ignores Ctrl-C: the
    interpreter's shutdown (TensorFlow's teardown takes a moment) would otherwise die of the signal,
    status -2 and no word, after a run that had finished or had said what it left on disk."""
    try:
        with ctrl_c_as_keyboard_interrupt(), lost_ctrl_c_raised_again():
            main()
    except KeyboardInterrupt:
        _ignore_ctrl_c(ends_process)
        print(f"\n{prog}: {interrupted}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as error:  # noqa: BLE001  only the user's side is turned into a line; the rest re-raised
        message = user_side_problem(error)
        if message is None:
            raise
        print(f"{prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        _ignore_ctrl_c(ends_process)


# pybind11's words when the KeyboardInterrupt of a Ctrl-C replaced an error it was converting (TensorFlow raises and
# catches errors in its own normal work, such as loading a SavedModel for the TFLite converter)
CTRL_C_IN_BINDINGS = "REPLACED BY KeyboardInterrupt"


@contextlib.contextmanager
def ctrl_c_as_keyboard_interrupt():
    """A Ctrl-C that arrives while TensorFlow's pybind11 bindings convert one of its errors comes out of them as a
    RuntimeError (pybind11 sees the exception change under it); raised here as the KeyboardInterrupt it was, so that
    the run says what it left on disk and exits 130 instead of printing a traceback."""
    try:
        yield
    except RuntimeError as error:
        if CTRL_C_IN_BINDINGS not in str(error):
            raise
        raise KeyboardInterrupt from error


CTRL_C_AGAIN_AFTER_S = 0.01  # long enough for the finalizer or callback to have returned


@contextlib.contextmanager
def lost_ctrl_c_raised_again():
    """Python raises a Ctrl-C's KeyboardInterrupt in whatever the main thread runs at that moment. In a finalizer or
    a weakref callback (importlib's module locks have one: any import) it is printed as "Exception ignored" and
    dropped, and the run would go on as if no Ctrl-C had come (seen once in the suite: video_to_frames.py, stopped
    while it started its workers, finished with status 0). Such a lost interrupt is delivered again a moment later,
    through the SIGINT handler then in force (a deferred one defers it, an ignored one drops it), from a thread: a
    SIGINT raised in the hook itself would land in the hook, and be dropped again."""
    previous = sys.unraisablehook

    def hook(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            again = threading.Timer(CTRL_C_AGAIN_AFTER_S, _thread.interrupt_main, args=(signal.SIGINT,))
            again.daemon = True
            again.start()
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _ignore_ctrl_c(ends_process: bool) -> None:
    if ends_process:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def user_side_problem(error: BaseException) -> str | None:
    """The one line for an error that comes from the user's files, settings or machine; None for a bug."""
    from utils.atomic_files import disk_full_error

    if isinstance(error, InputError):
        return str(error)
    full = disk_full_error(error)
    if full is not None:
        where = f" writing {full.filename}" if getattr(full, "filename", None) else ""
        return (f"disk full{where} ({full.strerror or 'no space left on device'}); partial files were removed and "
                "earlier outputs kept. Free some space and run the same command again.")
    if isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError":
        return ("out of memory (" + " ".join(str(error).split())[:160] + "); try a smaller --batch_size, or free memory "
                "and run the same command again")
    if isinstance(error, OSError) and getattr(error, "filename", None):
        return f"{error.filename}: {error.strerror or error} (check the path and its permissions)"
    if type(error).__module__.startswith("tensorflow") and _file_system_message(str(error)):
        return " ".join(str(error).split())[:300] + " (check the path and its permissions)"
    return None


def _file_system_message(text: str) -> bool:
    """Whether a TensorFlow error is about a path it could not use (its file system layer says so)."""
    return any(phrase in text.lower() for phrase in ("not a directory", "is a directory", "permission denied",
                                                     "read-only file system", "no such file or directory",
                                                     "failed to create a directory", "file exists"))


# --- argument groups shared by the training scripts ---------------------------------------------


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", type=FRAMES_INPUT, required=True,
                       help="frames folder written by video_to_frames.py (or its frames.npy)")
    group.add_argument("--annotations", type=INPUT_FILE, default=None,
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
    group.add_argument("--split", choices=SPLIT_PROTOCOLS, default=defaults["split"],
                       help="random: stratified over clips (the paper); group: all clips of a UCF group on one "
                            "side; official: UCF101/HMDB51 split lists from --split_dir")
    group.add_argument("--test_size", type=FRACTION_OPEN, default=defaults["test_size"],
                       help="test fraction (random and group splits)")
    group.add_argument("--val_size", type=FRACTION_BELOW_ONE, default=defaults["val_size"],
                       help="fraction of the training part held out to pick the best epoch (0: keep the last)")
    group.add_argument("--seed", type=SEED, default=defaults["seed"],
                       help="seed of the split, initial weights and shuffling")
    group.add_argument("--split_dir", type=ABSOLUTE_INPUT_FOLDER, default=None,
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
    group.add_argument("--batch_size", type=BATCH_SIZE, default=8, help="clips per step")
    group.add_argument("--epochs", type=EPOCHS, default=epochs, help="training epochs")
    group.add_argument("--steps", type=STEPS, default=None,
                       help="train for at least this many optimizer steps instead: --epochs becomes the fewest whole "
                            "epochs that take them, so that a budget does not depend on the data set's size (the demo)")
    group.add_argument("--lr", type=LEARNING_RATE, default=1e-4, help="Adam learning rate")
    group.add_argument("--lr_schedule", choices=LR_SCHEDULES, default="constant",
                       help="constant: --lr throughout (the paper); cosine: from --lr down to 0 along a half cosine "
                            "over the run's steps, so that the last epochs settle")
    group.add_argument("--width", type=WIDTH, default=1.0,
                       help="channel multiplier of every layer (1.0 = the paper's model)")
    group.add_argument("--init", choices=INITS, default="glorot",
                       help="initial weights: glorot (the paper's, Keras's defaults) or motion (He-normal, conv1 as "
                            "temporal differences: leaves the first-epochs loss plateau at once; see "
                            "models/initialisation.py)")
    compute = parser.add_argument_group("compute", "speed settings; they do not change what is saved (always a "
                                        "float32 model)")
    compute.add_argument("--mixed_precision", choices=PRECISIONS, default="auto",
                         help="16-bit compute with float32 weights, logits and loss. auto: bfloat16 on a CPU with "
                              "bfloat16 units (avx512_bf16, amx_bf16) or a GPU of compute capability >= 8.0, float16 on "
                              "older GPUs, float32 elsewhere; off: float32, the paper's exact protocol")
    compute.add_argument("--jit_compile", choices=JIT_COMPILE, default="auto",
                         help="XLA-compile the training step; auto: Keras's choice, on with a GPU, off on "
                              "CPU-only machines (XLA's CPU 3-D convolutions are several times slower)")
    compute.add_argument("--strategy", choices=STRATEGIES, default="auto",
                         help="tf.distribute strategy: mirrored = all GPUs of this machine, multiworker = the "
                              "machines in TF_CONFIG, auto = mirrored with 2+ GPUs, else none; --batch_size is the "
                              "global batch (see README)")
    outputs = parser.add_argument_group("outputs")
    outputs.add_argument("--output_path", type=OUTPUT_FILE, default=None,
                         help=f"model file (.keras; a legacy .h5 name also works); its sidecar is the same name with "
                              f".json (default: {output}, its folder created if missing; a folder given here must "
                              f"exist, so that a mistyped path is not silently created)")
    parser.set_defaults(default_output_path=Path(output))
    outputs.add_argument("--log_path", type=HISTORY_FILE, default=None,
                         help="CSV training history (default: OUTPUT.history.csv beside the model)")
    outputs.add_argument("--logdir", type=TENSORBOARD_FOLDER, default=None,
                         help="TensorBoard log folder (default: runs/OUTPUT_STEM)")
    outputs.add_argument("--overwrite", action="store_true",
                         help="train again although --output_path holds a finished model (by default a finished "
                              "model with the same settings is skipped and one with other settings refused); the "
                              "old files wait in OUTPUT_STEM.previous/ until the new model is complete, and files of "
                              "yours at the names this run writes are moved there too (kept, never deleted). Also "
                              "starts over instead of refusing to resume a backup made with other settings")
    return group


def add_original_code_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--original_code", action="store_true",
                        help="an ablation: compute what the authors' code computed (networks ending in softmax, their "
                             "losses on those outputs, the temperature dividing probabilities; models/original_code.py). "
                             "Recorded in the sidecar; not for models meant to be used")


def jit_compile_value(choice: str):
    """--jit_compile as Model.compile takes it."""
    return {"auto": "auto", "on": True, "off": False}[choice]

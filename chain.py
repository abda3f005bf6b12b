#!/usr/bin/env python3
"""Run several of this project's scripts one after another in one Python process, as a shell would run them.

    python chain.py "video_to_frames.py --input_path videos --output_path frames" \\
        "train_teacher.py --data frames --output_path models/teacher.keras" \\
        "evaluate.py --data frames --recognizer models/teacher.keras"

Each command is printed, then run by calling that script's main() with its arguments: the same
code, flags, outputs and checks as ``python SCRIPT ...``, but TensorFlow starts once instead of
once per script (about 6 s each on a 2-core CPU), which is what ``make demo`` uses it for. A
command that fails stops the chain with the script's own one-line message and exit status.
"""

from __future__ import annotations

import importlib
import shlex
import sys
import time

from utils.cli import ArgumentParser, entry_point
from utils.errors import InputError

SCRIPTS = ("make_synthetic_dataset.py", "video_to_frames.py", "pretrain_teacher.py", "train_teacher.py",
           "train_student.py", "distill.py", "evaluate.py", "export_student.py", "predict.py")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="chain.py", description=__doc__)
    parser.add_argument("commands", nargs="+", metavar="COMMAND",
                        help=f"one script and its flags, quoted; scripts: {', '.join(SCRIPTS)}")
    return parser


def parse_command(command: str) -> tuple[str, list[str]]:
    """(script, its arguments) of one quoted command; InputError for anything else."""
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise InputError(f"command {command!r}: {error}") from None
    if words[:1] == ["python"] or words[:1] == ["python3"]:
        words = words[1:]
    if not words or words[0] not in SCRIPTS:
        raise InputError(f"command {command!r}: must start with one of {', '.join(SCRIPTS)}")
    return words[0], words[1:]


def main(argv: list[str] | None = None) -> None:
    commands = [parse_command(command) for command in build_parser().parse_args(argv).commands]  # all checked first
    for script, arguments in commands:
        print(f"\n$ python {script} {shlex.join(arguments)}", flush=True)
        start = time.perf_counter()
        try:
            importlib.import_module(script.removesuffix(".py")).main(arguments)
        except InputError as error:
            raise InputError(f"{script}: {error}") from None
        except SystemExit as exit_:  # argparse's errors, and scripts that end with a status of their own
            if exit_.code not in (0, None):
                raise
        if "keras" in sys.modules:  # free the finished script's models and graphs
            sys.modules["keras"].backend.clear_session()
        print(f"({script}: {time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    entry_point(main, "chain.py")

#!/usr/bin/env python3
"""Run several of this project's scripts in one Python process, as a shell would run them.

    python chain.py "video_to_frames.py --input_path videos --output_path frames" \\
        "train_student.py --data frames --output_path models/student.keras &" \\
        "train_teacher.py --data frames --output_path models/teacher.keras" \\
        "wait" \\
        "evaluate.py --data frames --recognizer models/teacher.keras models/student.keras"

Each command is printed, then run by calling that script's main() with its arguments: the same
code, flags, outputs and checks as ``python SCRIPT ...``, but TensorFlow starts once instead of
once per script (about 6 s each on a 2-core CPU). A command that fails stops the chain with the
script's own one-line message and exit status.

A command ending in ``&`` runs in a process of its own at the lowest CPU priority, beside the
commands after it: it only takes the CPU time they leave idle (a small network's training step
keeps 2 cores only about half busy), so it costs them next to nothing. Its output is printed when
it has finished, at ``wait`` or at the end of the chain; a failure there stops the chain with its
status, and a chain that stops early interrupts it (Ctrl-C) rather than leave it running. Commands
that measure speed (evaluate.py, export_student.py) belong after a ``wait``.
"""

from __future__ import annotations

import importlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from utils.cli import ArgumentParser, entry_point
from utils.errors import InputError

SCRIPTS = ("make_synthetic_dataset.py", "video_to_frames.py", "pretrain_teacher.py", "train_teacher.py",
           "train_student.py", "distill.py", "evaluate.py", "export_student.py", "predict.py")
WAIT = "wait"
LOWEST_PRIORITY = 19  # the largest niceness: a CFS share of about 1.5% against a process at 0


@dataclass(frozen=True)
class Command:
    script: str  # one of SCRIPTS, or WAIT
    arguments: list[str] = field(default_factory=list)
    background: bool = False


@dataclass
class BackgroundRun:
    command: Command
    process: subprocess.Popen
    output: object  # the temporary file its stdout and stderr go to
    start: float


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="chain.py", description=__doc__)
    parser.add_argument("commands", nargs="+", metavar="COMMAND",
                        help=f"one script and its flags, quoted, with a final & to run it in the background; "
                             f"or {WAIT!r}; scripts: {', '.join(SCRIPTS)}")
    return parser


def parse_command(command: str) -> Command:
    """One quoted command as a Command; InputError for anything else."""
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise InputError(f"command {command!r}: {error}") from None
    background = bool(words) and words[-1] == "&"
    if background:
        words = words[:-1]
    if words[:1] == ["python"] or words[:1] == ["python3"]:
        words = words[1:]
    if words == [WAIT] and not background:
        return Command(WAIT)
    if not words or words[0] not in SCRIPTS:
        raise InputError(f"command {command!r}: must start with one of {', '.join(SCRIPTS)}, or be {WAIT!r}")
    return Command(words[0], words[1:], background)


def run_here(command: Command) -> None:
    """Call the script's main() in this process; its one-line error keeps the script's name."""
    try:
        importlib.import_module(command.script.removesuffix(".py")).main(command.arguments)
    except InputError as error:
        raise InputError(f"{command.script}: {error}") from None
    except SystemExit as exit_:  # argparse's errors, and scripts that end with a status of their own
        if exit_.code not in (0, None):
            raise
    if "keras" in sys.modules:  # free the finished script's models and graphs
        sys.modules["keras"].backend.clear_session()


def start_in_background(command: Command) -> BackgroundRun:
    output = tempfile.TemporaryFile("w+")  # a pipe nobody reads until the end would fill up and stall it
    script = Path(__file__).resolve().parent / command.script
    process = subprocess.Popen([sys.executable, str(script), *command.arguments], stdout=output,
                               stderr=subprocess.STDOUT, text=True)
    os.setpriority(os.PRIO_PROCESS, process.pid, LOWEST_PRIORITY)
    return BackgroundRun(command, process, output, time.perf_counter())


def finish_background(runs: list[BackgroundRun]) -> None:
    """Wait for each run, print its output; the first that failed ends the chain with its status."""
    while runs:
        run = runs.pop(0)
        status = run.process.wait()
        run.output.seek(0)
        output = run.output.read()
        run.output.close()
        print(f"\n(output of {run.command.script}, which ran in the background)", flush=True)
        sys.stdout.write(output)
        if status != 0:
            last = next((line for line in reversed(output.splitlines()) if line.strip()), "no output")
            print(f"chain.py: {run.command.script} in the background ended with exit status {status}: {last}",
                  file=sys.stderr)
            sys.exit(status if status > 0 else 128 - status)
        print(f"({run.command.script}, in the background: {time.perf_counter() - run.start:.1f} s)", flush=True)


def stop(runs: list[BackgroundRun], already_interrupted: bool) -> None:
    """End runs the chain no longer waits for as Ctrl-C does, so the training scripts keep their backups. After
    a Ctrl-C at the terminal they got it too; one that is still running after a grace period gets its own."""
    for run in runs:
        try:
            run.process.wait(timeout=10 if already_interrupted else 0)
        except subprocess.TimeoutExpired:
            run.process.send_signal(signal.SIGINT)
            try:
                run.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()
        run.output.close()


def main(argv: list[str] | None = None) -> None:
    commands = [parse_command(command) for command in build_parser().parse_args(argv).commands]  # all checked first
    running: list[BackgroundRun] = []
    try:
        for command in commands:
            print(f"\n$ python {command.script} {shlex.join(command.arguments)}{' &' if command.background else ''}"
                  if command.script != WAIT else f"\n$ {WAIT}", flush=True)
            start = time.perf_counter()
            if command.script == WAIT:
                finish_background(running)
            elif command.background:
                running.append(start_in_background(command))
            else:
                run_here(command)
                print(f"({command.script}: {time.perf_counter() - start:.1f} s)", flush=True)
        finish_background(running)
    except BaseException as error:
        stop(running, already_interrupted=isinstance(error, KeyboardInterrupt))
        raise


if __name__ == "__main__":
    entry_point(main, "chain.py")

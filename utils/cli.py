"""What every script shares on the command line: parsing, and the bad-input contract.

Bad input ends in one line on stderr naming the file or flag and the problem, exit status 2 and
no traceback; Ctrl-C ends with status 130 and a line instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from utils.errors import InputError

EXIT_BAD_INPUT = 2
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


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def run(main: Callable[[], None], prog: str) -> None:
    """Call ``main`` and turn InputError and Ctrl-C into the contract's exits."""
    try:
        main()
    except InputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; nothing incomplete was kept. Run the same command again.",
              file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)

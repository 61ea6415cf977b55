"""What every command's parser is made of: the parser class, the help formatter, the
argument types and the two options that may also stand before the command.

Nothing here imports numpy, torch or Qt: `vaedesk --help` stays instant.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence
from typing import Any

# A latent coordinate such as -1e-3 is a number, not an option (argparse itself takes
# only -1 and -0.5 forms for numbers).
NEGATIVE_NUMBER = re.compile(r"^-((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf|infinity|nan)$", re.IGNORECASE)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that says which options it has (`options`, each option string to
    its action), so that the entry point can check options without argparse's private
    attributes; whose help shows each option's default; and, with `numbers_are_values`,
    takes negative numbers as values, never options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options: dict[str, argparse.Action] = {}
        self.numbers_are_values = False
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        text, default = kwargs.get("help"), kwargs.get("default")
        # Each option's help shows its default, unless it has none or already says it.
        shown = text and text != argparse.SUPPRESS and "default" not in text
        if shown and default not in (None, False, argparse.SUPPRESS):
            kwargs["help"] = f"{text} (default: %(default)s)"
        action = super().add_argument(*args, **kwargs)
        self.options.update(dict.fromkeys(action.option_strings, action))
        return action

    def parse_known_args(  # type: ignore[override]  # typeshed's overloads, one behaviour
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self.numbers_are_values and args is not None:
            # A leading space: argparse reads the token as a value; float() ignores it.
            args = [f" {a}" if NEGATIVE_NUMBER.match(a) else a for a in args]
        return super().parse_known_args(args, namespace)


def add_data_option(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    """--data; given before the command it counts as if given after it. A command's own
    default is SUPPRESS, so that its parser never undoes what came before it."""
    parser.add_argument(
        "--data",
        metavar="DIR",
        default=default,
        help="folder with the MNIST .gz files (default: $VAEDESK_DATA, the folder chosen in the "
        "window, the user data folder, then the test set shipped with vaedesk)",
    )


def add_weights_option(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    """--weights, before or after the command, as --data."""
    parser.add_argument(
        "--weights",
        metavar="FILE",
        default=default,
        help="a .safetensors weights file (default: the bundled model)",
    )


def number_or_file(text: str) -> float | str:
    """A finite number, or (anything that is not a number) a file name."""
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text.strip()} is not a finite number")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more")
    return value


SEED_LIMIT = 2**32  # what every generator vaedesk seeds takes (torch's, numpy's)


def seed(text: str) -> int:
    """A seed: a whole number from 0 to 2^32 - 1 (-1 or 2^64 ended in a traceback)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: a seed is a whole number") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"{text}: a seed is from 0 to {SEED_LIMIT - 1}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text}: must be a positive number")
    return value

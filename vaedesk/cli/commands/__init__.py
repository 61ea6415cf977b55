"""The commands: one module each, holding its options (`add_arguments`) beside what it does
(`run`), as pip's `commands/` does. The table below is all the entry point knows about
them: `vaedesk --help` lists it without importing a single command module, and only the
module of the command that runs is ever imported.

To add a command, write vaedesk/cli/commands/<name>.py with `add_arguments(parser)` and
`run(args) -> int`, and add its line here.
"""

from __future__ import annotations

import argparse
import importlib
from typing import NamedTuple, Protocol, cast

from vaedesk.cli.parsing import Parser


class Command(Protocol):
    """What a command module provides."""

    def add_arguments(self, parser: Parser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class CommandInfo(NamedTuple):
    module: str  # imported only when the command runs, or its --help is asked for
    summary: str  # its line in `vaedesk --help`


def _here(name: str) -> str:
    return f"{__name__}.{name}"


# In the order `vaedesk --help` lists them.
COMMANDS: dict[str, CommandInfo] = {
    "train": CommandInfo(_here("train"), "train a VAE on the MNIST training set"),
    "eval": CommandInfo(_here("eval"), "test-set metrics of a weights file"),
    "encode": CommandInfo(_here("encode"), "encode pictures of digits"),
    "decode": CommandInfo(_here("decode"), "decode a latent point to a PNG"),
    "morph": CommandInfo(_here("morph"), "an animated GIF of one latent point morphing into another"),
    "data": CommandInfo(_here("data"), "where MNIST is, and download it"),
    "classifier": CommandInfo(_here("classifier"), "train the digit classifier"),
    "classify": CommandInfo(_here("classify"), "say which digit each picture shows (one JSON line each)"),
    "experiment": CommandInfo(
        _here("experiment"),
        "the report's experiments: augment trains the classifier with VAE-generated digits",
    ),
    "info": CommandInfo(_here("info"), "the bundled models: architecture, test metrics, how each was made"),
    "upgrade": CommandInfo(
        _here("upgrade"),
        "add the ONNX export to a weights file from an older vaedesk (the viewer then runs it without torch)",
    ),
}


def load(name: str) -> Command:
    """The module of command `name`, imported now."""
    return cast(Command, importlib.import_module(COMMANDS[name].module))

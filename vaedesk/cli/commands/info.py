"""`vaedesk info`: the bundled models' cards: each model's architecture, latent size,
test metrics and the commands that made it."""

from __future__ import annotations

import argparse

from vaedesk.cli.parsing import Parser


def add_arguments(parser: Parser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    from vaedesk.core.cards import describe_bundled

    print(describe_bundled())
    return 0

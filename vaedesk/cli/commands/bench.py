"""`vaedesk bench`: decode, encode and training speed, each beside a same-run baseline."""

from __future__ import annotations

import argparse

from vaedesk.cli.parsing import Parser, add_data_option, add_weights_option


def add_arguments(parser: Parser) -> None:
    add_data_option(parser)
    add_weights_option(parser)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--packaged", metavar="EXE", help="also time the start-up of this packaged vaedesk")
    parser.add_argument("--startup-only", action="store_true", help="only the start-up figures")
    parser.add_argument("--iwae", action="store_true", help="also time the IWAE bound, k=64 (2 minutes)")


def run(args: argparse.Namespace) -> int:
    from vaedesk.cli.bench import run_bench

    return run_bench(args)

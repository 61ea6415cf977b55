"""`vaedesk upgrade`: add the ONNX export to a weights file from an older vaedesk, so that
the viewer runs it without torch."""

from __future__ import annotations

import argparse

from vaedesk.cli.common import CommandError
from vaedesk.cli.parsing import Parser


def add_arguments(parser: Parser) -> None:
    parser.add_argument("file", metavar="FILE", help="the weights file")
    parser.add_argument("-o", "--output", metavar="OUT", help="write here instead of replacing FILE")


def run(args: argparse.Namespace) -> int:
    from vaedesk.core import weights

    output = args.output or args.file
    try:
        vae, card = weights.load(args.file)
        weights.save(output, vae, card)
    except weights.WeightsError as e:
        raise CommandError(str(e)) from None
    except OSError as e:
        raise CommandError(f"{output}: cannot write ({e.strerror or e})") from None
    print(f"wrote {output}: the same weights and card, with the ONNX export")
    return 0

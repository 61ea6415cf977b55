"""`vaedesk classify`: which digit each picture shows, by the digit classifier, one JSON
line per picture."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from vaedesk.cli.common import each_picture, load_classifier
from vaedesk.cli.parsing import Parser

if TYPE_CHECKING:
    import numpy as np


def add_arguments(parser: Parser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--classifier", metavar="FILE", help="a classifier file (default: the bundled one)")


def run(args: argparse.Namespace) -> int:
    classifier = load_classifier(args.classifier)

    def describe(mnist_like: np.ndarray) -> dict[str, Any]:
        p = classifier.probabilities(mnist_like)[0]
        return {"digit": int(p.argmax()), "p": [round(float(v), 4) for v in p]}

    return each_picture(args.images, describe)

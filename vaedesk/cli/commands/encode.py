"""`vaedesk encode`: each picture's point in the latent space, its spread and the digit it
shows, one JSON line per picture."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from vaedesk.cli.common import CommandError, each_picture, load_model
from vaedesk.cli.parsing import Parser, add_data_option, add_weights_option

if TYPE_CHECKING:
    import numpy as np


def add_arguments(parser: Parser) -> None:
    add_data_option(parser)
    add_weights_option(parser)
    parser.add_argument("images", nargs="+", metavar="IMAGE")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from vaedesk.core.classify import Classifier, ClassifierError
    from vaedesk.core.digits import DigitGuesser

    model = load_model(args.weights)
    if model.conditional:
        raise CommandError(f"{model.path}: a conditional model encodes styles; open it in View > Style view")
    try:  # "digit" is what the classifier reads in the picture, as the model's input
        classifier, guesser = Classifier.load(), None
    except ClassifierError as e:  # then the nearest encoded test images vote, if MNIST is here
        print(f"vaedesk: {e}; the digit is guessed from the nearest test images", file=sys.stderr)
        classifier, guesser = None, DigitGuesser.for_model(model, args.data)

    def describe(mnist_like: np.ndarray) -> dict[str, Any]:
        mu, logvar = model.encode(mnist_like)
        digit: int | None
        if classifier is not None:
            digit = int(classifier.probabilities(mnist_like)[0].argmax())
        else:
            digit = guesser.guess(mu)[0] if guesser is not None else None
        sigma = np.exp(0.5 * logvar[0])
        return {
            "mu": [round(float(v), 4) for v in mu[0]],
            "sigma": [round(float(v), 4) for v in sigma],
            "digit": digit,
        }

    return each_picture(args.images, describe)

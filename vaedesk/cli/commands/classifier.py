"""`vaedesk classifier train`: train the digit classifier (the report's CNN) and save it
with its card."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from vaedesk.cli.common import CommandError, check_output, load_data
from vaedesk.cli.parsing import Parser, add_data_option, positive_int, seed

if TYPE_CHECKING:
    from vaedesk.core.classifier import ClassifierEpoch


def add_arguments(parser: Parser) -> None:
    add_data_option(parser)
    parser.add_argument("action", choices=["train"], help="train: train it on the MNIST training set")
    parser.add_argument(
        "-o",
        "--output",
        default="classifier-trained.safetensors",
        metavar="FILE",
        help="where to save it and its card (default: %(default)s)",
    )
    parser.add_argument("--epochs", type=positive_int, default=12, help="passes over the training images")
    parser.add_argument("--seed", type=seed, default=0, help="seeds the weights, the split and the batches")
    parser.add_argument("--threads", type=positive_int, help="torch threads (default: torch's)")


def run(args: argparse.Namespace) -> int:
    import torch

    from vaedesk import __version__
    from vaedesk.core import data
    from vaedesk.core.classifier import ClassifierOptions, accuracy, options_dict, save, train_classifier

    if args.threads:
        torch.set_num_threads(args.threads)
    output = check_output(args.output)
    images, labels = load_data("train", args.data)
    test = load_data("test", args.data)
    options = ClassifierOptions(epochs=args.epochs, seed=args.seed)
    started = time.perf_counter()

    def report(e: ClassifierEpoch) -> None:
        print(
            f"epoch {e.epoch:3d}/{e.epochs}  loss {e.train_loss:.4f}  "
            f"val accuracy {100 * e.val_accuracy:.2f}%  {e.seconds:.0f}s",
            flush=True,
        )

    model, history = train_classifier(images, labels, options, report)
    seconds = time.perf_counter() - started
    test_accuracy = accuracy(model, *test)
    card = {
        "vaedesk_version": __version__,
        "model": "digit classifier (the report's CNN)",
        "command": " ".join(["vaedesk", *args.argv]),
        "seed": args.seed,
        "options": options_dict(options),
        "train_images": len(images) - options.validation_size(len(images)),
        "training_seconds": round(seconds, 1),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "data_sha256": {spec.name: spec.sha256 for spec in data.ALL_FILES},  # verified when loaded
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "test_metrics": {"n_test": len(test[1]), "accuracy": round(test_accuracy, 5)},
        "history": [
            {"epoch": e.epoch, "train_loss": round(e.train_loss, 5), "val_accuracy": round(e.val_accuracy, 5)}
            for e in history
        ],
    }
    try:
        save(output, model, card)
    except OSError as e:
        raise CommandError(f"could not save the classifier to {output} ({e.strerror or e})") from None
    minutes = seconds / 60
    print(f"test accuracy {100 * test_accuracy:.2f}% on {len(test[1])} images; trained in {minutes:.1f} min")
    print(f"saved {output}")
    return 0

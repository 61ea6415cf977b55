"""`vaedesk experiment augment`: the report's Table 5, a classifier trained with digits
the VAE generates beside one trained without them."""

from __future__ import annotations

import argparse
import json
import math
import sys

from vaedesk.cli.common import CommandError, check_output, load_data
from vaedesk.cli.parsing import Parser, add_data_option, positive_int, seed


def add_arguments(parser: Parser) -> None:
    add_data_option(parser)
    parser.add_argument("name", choices=["augment"], help="augment: the report's Table 5")
    parser.add_argument("-o", "--output", default="augment.json", metavar="FILE", help="the results as JSON")
    parser.add_argument(
        "--vae-epochs", type=positive_int, default=10, help="epochs of the VAE (default: %(default)s)"
    )
    parser.add_argument(
        "--classifier-epochs",
        type=positive_int,
        default=12,
        help="epochs of each classifier (default: %(default)s)",
    )
    parser.add_argument(
        "--noise", type=float, default=0.5, help="noise added to the encodings (default: %(default)s)"
    )
    parser.add_argument("--seed", type=seed, default=0, help="seeds the halves, the models and the noise")
    parser.add_argument(
        "--limit", type=positive_int, help="use only the first N training images (a quick run)"
    )
    parser.add_argument("--threads", type=positive_int, help="torch threads (default: torch's)")


def run(args: argparse.Namespace) -> int:
    import time

    import torch
    from tqdm import tqdm

    from vaedesk.core.atomic import atomic_write
    from vaedesk.core.experiment import AugmentSettings, as_json, images_needed, run_augment, table

    if args.threads:
        torch.set_num_threads(args.threads)
    if not (args.noise >= 0 and math.isfinite(args.noise)):
        raise CommandError("--noise must be a non-negative number")
    output = check_output(args.output, example="augment.json")  # before the run, not after
    settings = AugmentSettings(
        vae_epochs=args.vae_epochs, noise=args.noise, classifier_epochs=args.classifier_epochs, seed=args.seed
    )
    if args.limit and args.limit < images_needed(settings):  # --limit 20 ended in a traceback
        raise CommandError(
            f"--limit {args.limit}: the experiment needs at least {images_needed(settings)} images"
        )
    train = load_data("train", args.data)
    if args.limit:
        train = (train[0][: args.limit], train[1][: args.limit])
    test = load_data("test", args.data)
    started = time.perf_counter()
    with tqdm(total=1 + 3 * len(settings.fractions), file=sys.stderr, disable=None, unit="step") as bar:
        begun: list[str] = []

        def step(what: str) -> None:  # a step begins: the one before it is done
            if begun:
                bar.update(1)
            begun.append(what)
            bar.set_description(what)

        rows, vae = run_augment(train, test, settings, step)
        bar.update(1)
    seconds = time.perf_counter() - started
    print(table(rows))
    print(f"({seconds / 60:.1f} min; the report's column is its Table 5)")
    record = as_json(rows, settings, vae, seconds)
    record["command"] = " ".join(["vaedesk", *args.argv])
    try:
        atomic_write(output, (json.dumps(record, indent=2) + "\n").encode())
    except OSError as e:
        raise CommandError(f"{output}: cannot write ({e.strerror or e})") from None
    print(f"saved {output}")
    return 0

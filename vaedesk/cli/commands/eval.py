"""`vaedesk eval`: the test-set metrics of a weights file (ELBO terms, IWAE bound, latent
5-NN accuracy, optionally the amortization gap)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from vaedesk.cli.common import format_metrics, load_data, load_model
from vaedesk.cli.parsing import Parser, add_data_option, add_weights_option, non_negative_int, positive_int
from vaedesk.cli.progress import StageBars

if TYPE_CHECKING:
    import numpy as np

    from vaedesk.core.api import Model
    from vaedesk.core.evaluate import Progress


def add_arguments(parser: Parser) -> None:
    add_data_option(parser)
    add_weights_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "-k",
        type=non_negative_int,
        help="importance samples for the IWAE bound, 0 for none (default: 64, or 500 with --binarized)",
    )
    parser.add_argument(
        "--binarized",
        action="store_true",
        help="on the test set binarized with a fixed seed, as the published log-likelihoods are"
        " (Burda et al. 2016; Davidson et al. 2018: k = 500)",
    )
    parser.add_argument("--threads", type=positive_int, help="torch threads (default: all cores)")
    parser.add_argument(
        "--amortization",
        type=positive_int,
        metavar="N",
        help="also the amortization gap on N test and N training images: how much each one's"
        " -ELBO falls when its posterior is optimised on its own (about 9 minutes for 500)",
    )


def run(args: argparse.Namespace) -> int:
    import time

    from vaedesk.core import data
    from vaedesk.core.evaluate import BINARIZE_SEED, binarized, evaluate

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model = load_model(args.weights)
    test = load_data("test", args.data)
    train: tuple[np.ndarray, np.ndarray] | None
    try:
        train = data.load("train", args.data)
    except data.DataError as e:
        print(f"vaedesk: no kNN accuracy: {e}", file=sys.stderr)
        train = None
    k = args.k if args.k is not None else (500 if args.binarized else 64)
    if args.binarized:  # fixed seeds: every run and every model sees the same pixels
        test = (binarized(test[0], seed=BINARIZE_SEED), test[1])
        train = (binarized(train[0], seed=BINARIZE_SEED + 1), train[1]) if train is not None else None
    started = time.perf_counter()
    bars = StageBars()
    try:
        metrics = evaluate(model.vae, test, train, k_iwae=k, progress=bars)
    finally:
        bars.close()
    if args.amortization:
        try:
            metrics.update(_amortization(model, test, train, args.amortization, bars))
        finally:
            bars.close()
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    metrics["binarized"] = args.binarized
    _print(args, model, metrics, BINARIZE_SEED)
    return 0


def _print(args: argparse.Namespace, model: Model, metrics: dict[str, Any], seed: int) -> None:
    if args.json:
        finite = {k: v if not isinstance(v, float) or math.isfinite(v) else None for k, v in metrics.items()}
        # JSON has no NaN: a metric that is not a number is null.
        print(json.dumps({"weights": str(model.path), "arch": model.config.arch, **finite}, allow_nan=False))
    else:
        print(f"weights             {model.path} ({model.config.arch})")
        if args.binarized:
            print(f"test set            binarized (seed {seed}); -log p(x) <= the IWAE bound")
        print(format_metrics(metrics))


def _amortization(
    model: Model,
    test: tuple[np.ndarray, np.ndarray],
    train: tuple[np.ndarray, np.ndarray] | None,
    n: int,
    progress: Progress,
) -> dict[str, float]:
    """The amortization gap on the first n test images and on the first n images of the
    training split the model's card records (all training images if it records none)."""
    import numpy as np

    from vaedesk.core.evaluate import amortization_gap
    from vaedesk.core.train import split_train_val

    sets = {"test": test[0][:n]}
    if train is not None:
        options = model.card.get("options")
        if not isinstance(options, dict):  # a card from elsewhere: a list crashed here
            options = {}
        try:
            trained, _ = split_train_val(len(train[0]), options.get("val_size", 5000), options.get("seed", 0))
        except (TypeError, ValueError):
            trained = np.arange(len(train[0]))
        sets["train"] = train[0][np.sort(trained[:n])]
    out: dict[str, float] = {"amortization_images": len(sets["test"])}
    for name, images in sets.items():
        gap = amortization_gap(model.vae, images, progress=progress, stage=f"q, {name}")
        out.update({f"amortization_{name}_{k}": v for k, v in gap.items()})
    return out

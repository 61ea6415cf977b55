"""The model card a training run writes (everything needed to reproduce and judge it),
the `vaedesk train` line that repeats the run, and the posterior-collapse check the card
records."""

from __future__ import annotations

import shlex
import time
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import torch

from vaedesk.core import data, weights
from vaedesk.core.train_options import TrainOptions

if TYPE_CHECKING:
    from vaedesk.core.train import Trainer


def equivalent_command(
    config: dict[str, Any], options: TrainOptions, limit: int | None, init: str | None
) -> str:
    """The `vaedesk train` line that reproduces a run with these settings."""
    defaults = TrainOptions()
    argv = ["vaedesk", "train"]
    if init is None:
        argv += ["--arch", config["arch"], "--prior", config.get("prior", "normal")]
        if config.get("prior") in ("mog", "vamp"):
            argv += ["--components", str(config["components"])]
        if config.get("latent_dim", 2) != 2:
            argv += ["--latent-dim", str(config["latent_dim"])]
        if config.get("conditional"):
            argv += ["--conditional"]
    else:
        argv += ["--from", init]
    if config.get("beta", 1.0) != 1.0:
        argv += ["--beta", f"{config['beta']:g}"]
    if config.get("loss", "bce") != "bce":
        argv += ["--loss", config["loss"]]
    flags = {
        "epochs": "--epochs",
        "batch_size": "--batch-size",
        "lr": "--lr",
        "lr_schedule": "--lr-schedule",
        "lr_warmup": "--lr-warmup",
        "weight_decay": "--weight-decay",
        "kl_warmup": "--kl-warmup",
        "free_bits": "--free-bits",
        "seed": "--seed",
        "val_size": "--val-size",
        "patience": "--patience",
        "iw_samples": "--iw-samples",
        "neighbours": "--neighbours",
    }
    if options.binarize:
        argv += ["--binarize"]
    if options.encoder_only:
        argv += ["--encoder-only"]
    if options.decoder_only:
        argv += ["--decoder-only"]
    if options.fixed_means:
        argv += ["--fixed-means"]
    if options.augment:
        argv += ["--augment"]
    for name, flag in flags.items():
        value = getattr(options, name)
        if value != getattr(defaults, name) or name in ("epochs", "seed"):
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if options.time_limit is not None:
        argv += ["--time-limit", f"{options.time_limit / 60:g}"]
    if limit is not None:
        argv += ["--limit", str(limit)]
    return shlex.join(argv)


def card_of(path: str | None) -> dict[str, Any] | None:
    """The card of the weights at `path`, if it can be read."""
    if path is None:
        return None
    try:
        return weights.read(path).card
    except weights.WeightsError:
        return None


def make_card(
    *,
    version: str,
    command: str,
    options: TrainOptions,
    trainer: Trainer,
    init: str | None,
    init_card: dict[str, Any] | None = None,
    train_images: int,
    seconds: float,
    metrics: dict[str, float] | None,
    eval_k: int,
    stop_reason: str,
) -> dict[str, Any]:
    """The model card: everything needed to reproduce and judge a run. `weights.save`
    adds the model config."""
    return {
        "vaedesk_version": version,
        "command": command,
        "seed": options.seed,
        "options": {f.name: getattr(options, f.name) for f in fields(options)},
        "init": init,
        "init_command": init_card.get("command") if init_card else None,  # how --from was made
        # and the whole card of the --from weights (their history, time and test metrics),
        # so that a model trained in stages records every stage even when the first file
        # is gone
        "init_card": init_card,
        "train_images": train_images,
        "epochs_run": len(trainer.history),
        "best_epoch": trainer.best_epoch,
        "stop_reason": stop_reason,
        "training_seconds": round(seconds, 1),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "data_sha256": {spec.name: spec.sha256 for spec in data.ALL_FILES},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "eval_iwae_k": eval_k,
        "test_metrics": {k: round(v, 4) for k, v in metrics.items()} if metrics is not None else None,
        "history": [
            {
                "epoch": h.epoch,
                "train": round(h.train_loss, 3),
                "val": round(h.val_loss, 3),
                "val_recon": round(h.val_recon, 3),
                "val_kl": round(h.val_kl, 3),
                **({"neighbours": round(h.train_neighbours, 4)} if options.neighbours else {}),
                "seconds": round(h.seconds, 1),
            }
            for h in trainer.history
        ],
        "posterior_collapsed": collapsed(trainer),
    }


# Below this KL (nats per image, on the validation images) the posterior is the prior:
# the latent point says almost nothing about the image, and the map mixes every digit.
# A healthy 2-D model has 6 to 7 nats.
COLLAPSED_KL = 0.5


def collapsed(trainer: Trainer) -> bool:
    best = [h for h in trainer.history if h.epoch == trainer.best_epoch]
    return bool(best) and best[0].val_kl < COLLAPSED_KL


def collapse_warning(card: dict[str, Any], how: str) -> str | None:
    """What to tell the user when a run's posterior collapsed, or None. `how` says how to
    train longer or with a warm-up where the user is (command-line options or fields)."""
    if not card.get("posterior_collapsed"):
        return None
    best: dict[str, Any] = next(
        (h for h in card.get("history", []) if h.get("epoch") == card.get("best_epoch")), {}
    )
    return (
        f"the posterior collapsed: KL {best.get('val_kl', 0.0):.2f} nats per image, so the latent "
        f"space carries almost nothing about the digits and the map will not separate them. {how}"
    )

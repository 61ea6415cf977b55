"""`vaedesk train`: train a VAE on the MNIST training set, print each epoch, save the best
weights with their model card, then measure them on the test set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaedesk.cli.common import CommandError, check_output, format_metrics, load_data, load_model
from vaedesk.cli.parsing import Parser, add_data_option, positive_float, positive_int, seed
from vaedesk.cli.progress import StageBars, ctrl_c_stops
from vaedesk.core.config import ARCHS  # no torch: the --arch choices are the model's own list

if TYPE_CHECKING:
    from vaedesk.core.model import VAE, VAEConfig
    from vaedesk.core.recipe import TrainingRun
    from vaedesk.core.train import EpochResult, TrainOptions


def add_arguments(parser: Parser) -> None:
    add_data_option(parser)
    parser.add_argument(
        "-o",
        "--output",
        default="vaedesk-trained.safetensors",
        metavar="FILE",
        help="where to save the best weights and their model card (default: %(default)s)",
    )
    _add_model_options(parser)
    _add_optimiser_options(parser)
    _add_stage_options(parser)
    _add_objective_options(parser)
    _add_run_options(parser)


def _add_model_options(t: Parser) -> None:
    # --arch, --prior, --latent-dim, --beta and --loss default to None so that --from can
    # tell what was asked for.
    t.add_argument(
        "--arch",
        choices=ARCHS,
        help="architecture (default: conv; report: the 20-D report's, with --latent-dim 20 --loss mse)",
    )
    t.add_argument(
        "--prior",
        choices=["normal", "mog", "vamp"],
        help="the latent prior: a learned mixture of Gaussians, as the bundled model; the standard"
        " normal; or a VampPrior, the mixture of the encoder's posteriors at --components learned"
        " pseudo-images, saved as that mixture (default: mog)",
    )
    t.add_argument(
        "--latent-dim",
        type=positive_int,
        metavar="N",
        help="latent dimensions (default: 2, the map's plane; more fit better, and the window "
        "shows them on a plane through the latent space)",
    )
    t.add_argument(
        "--conditional",
        action="store_true",
        help="condition the model on the digit (a conditional VAE): the latent keeps the style,"
        " and the decoder draws any digit in it (the prior defaults to normal)",
    )
    t.add_argument(
        "--components",
        type=positive_int,
        default=16,
        metavar="K",
        help="Gaussians in the mixture prior, or the VampPrior's pseudo-images (default: %(default)s)",
    )
    t.add_argument(
        "--from", dest="init", metavar="FILE", help="start from these weights instead of from scratch"
    )


def _add_optimiser_options(t: Parser) -> None:
    t.add_argument("--epochs", type=positive_int, default=30, help="passes over the training images")
    t.add_argument("--batch-size", type=int, default=128, help="images per optimiser step")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    t.add_argument(
        "--lr-schedule", choices=["cosine", "constant"], default="cosine", help="learning-rate schedule"
    )
    t.add_argument(
        "--weight-decay", type=float, default=0.0, help="AdamW weight decay (default: %(default)s)"
    )
    t.add_argument(
        "--dropout",
        type=float,
        metavar="P",
        help="dropout in the encoder while training, against its overfitting (default: 0, or the"
        " --from weights')",
    )


def _add_stage_options(t: Parser) -> None:
    t.add_argument(
        "--encoder-only",
        action="store_true",
        help="train only the encoder of the --from weights, their decoder and prior fixed (a"
        " second stage, with --dropout, for an encoder that overfits: see eval --amortization)",
    )
    t.add_argument(
        "--decoder-only",
        action="store_true",
        help="train only the decoder and prior of the --from weights, their encoder fixed and"
        " without dropout (a second stage after --dropout or --augment: the decoder fits the"
        " codes the encoder gives in use)",
    )
    t.add_argument(
        "--fixed-means",
        action="store_true",
        help="train the decoder, the prior and the encoder's variance head of the --from"
        " weights, the encoder's body and mean head fixed and without dropout: every image"
        " keeps its point on the map while the posterior variances are refitted (a second"
        " stage, with --beta 1, after a run at a --beta below 1)",
    )
    t.add_argument(
        "--augment",
        action="store_true",
        help="distort each batch's images by a small random rotation (up to 10 degrees), scale"
        " (up to 10 %%) and shear, against the encoder's overfitting",
    )


def _add_objective_options(t: Parser) -> None:
    t.add_argument("--beta", type=float, help="weight of the KL term (default: 1, or the --from weights')")
    t.add_argument(
        "--binarize",
        action="store_true",
        help="dynamic binarization: each batch's pixels drawn as 0 or 1 with their intensity as"
        " probability (the literature's binarized MNIST; compare with eval --binarized)",
    )
    t.add_argument(
        "--iw-samples",
        type=positive_int,
        default=1,
        metavar="K",
        help="importance samples per image: 1 trains the ELBO; K > 1 the tighter IWAE bound, for"
        " a better log-likelihood at K decodes per image (default: %(default)s)",
    )
    t.add_argument(
        "--kl-warmup",
        type=int,
        default=0,
        metavar="EPOCHS",
        help="raise the KL weight linearly from 0 over this many epochs (default: %(default)s)",
    )
    t.add_argument(
        "--lr-warmup",
        type=int,
        default=0,
        metavar="BATCHES",
        help="raise the learning rate linearly over this many first batches (default: %(default)s;"
        " the window's runs: 200)",
    )
    t.add_argument(
        "--free-bits",
        type=float,
        default=0.0,
        metavar="NATS",
        help="no KL gradient while a batch's mean KL is below this many nats per image, so that"
        " a short run cannot collapse onto the prior (default: %(default)s; the window's runs: 2)",
    )
    t.add_argument(
        "--neighbours",
        type=float,
        default=0.0,
        metavar="WEIGHT",
        help="add a neighbour-embedding term of this weight (VAE-SNE; no labels): each image's"
        " mean is pulled towards the mean of one of its 15 nearest training images in pixel"
        " space and pushed from the batch's others, so that digits that look alike land together"
        " on the map (default: %(default)s, the ELBO alone; the window's runs: 30)",
    )
    t.add_argument(
        "--loss", choices=["bce", "mse"], help="reconstruction term (default: bce, or the --from weights')"
    )


def _add_run_options(t: Parser) -> None:
    t.add_argument("--seed", type=seed, default=0, help="seeds the weights, the split and the batches")
    t.add_argument(
        "--val-size", type=int, default=5000, help="validation images carved from the training set"
    )
    t.add_argument("--patience", type=int, default=None, help="early stopping: epochs without improvement")
    t.add_argument(
        "--time-limit",
        type=positive_float,
        default=None,
        metavar="MINUTES",
        help="stop after the epoch that crosses this many minutes",
    )
    t.add_argument(
        "--limit", type=positive_int, default=None, metavar="N", help="train on the first N images only"
    )
    t.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: all cores)")
    t.add_argument("--eval-k", type=int, default=64, help="importance samples for the IWAE bound in the card")


def run(args: argparse.Namespace) -> int:
    import shlex

    import torch

    from vaedesk import __version__
    from vaedesk.core import weights
    from vaedesk.core.model import VAE
    from vaedesk.core.recipe import TrainingRun, collapse_warning

    if args.threads:
        torch.set_num_threads(args.threads)
    options, config = _settings(args)
    output = check_output(args.output)  # before hours of training, not after
    images, labels = load_data("train", args.data)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    test = load_data("test", args.data)
    torch.manual_seed(args.seed)
    model = _starting_model(args) if args.init else VAE(config)
    try:
        run = TrainingRun(
            model,
            (images, labels),
            options,
            command=shlex.join(["vaedesk", *args.argv]),
            version=__version__,
            init=args.init,
            test=test,
            eval_k=args.eval_k,
        )
    except ValueError as e:
        raise CommandError(str(e)) from None
    _follow(run, model, output)
    if run.card is None:
        raise CommandError(f"no epoch finished ({run.stop_reason}); nothing saved")
    _save_trained(output, model, run.card)
    if run.metrics is not None:
        print(format_metrics(run.metrics))
    warning = collapse_warning(
        run.card,
        "Train again with --free-bits 2 (no pull onto the prior below 2 nats), or with a lower --beta.",
    )
    if warning:
        print(f"vaedesk: warning: {warning}", file=sys.stderr)
    print(f"saved {output} and {weights.card_path(output)}")
    return 0


def _settings(args: argparse.Namespace) -> tuple[TrainOptions, VAEConfig]:
    """The training options and the model's config, refused in one line if they cannot go
    together."""
    from vaedesk.core.model import VAEConfig
    from vaedesk.core.train import TrainOptions

    try:
        options = TrainOptions(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            lr_schedule=args.lr_schedule,
            lr_warmup=args.lr_warmup,
            weight_decay=args.weight_decay,
            kl_warmup=args.kl_warmup,
            free_bits=args.free_bits,
            binarize=args.binarize,
            encoder_only=args.encoder_only,
            decoder_only=args.decoder_only,
            fixed_means=args.fixed_means,
            augment=args.augment,
            iw_samples=args.iw_samples,
            neighbours=args.neighbours,
            seed=args.seed,
            val_size=args.val_size,
            patience=args.patience,
            time_limit=args.time_limit * 60 if args.time_limit else None,
        )
        config = VAEConfig(
            arch=args.arch or "conv",
            loss=args.loss or "bce",
            beta=args.beta if args.beta is not None else 1.0,
            prior=args.prior or ("normal" if args.conditional else "mog"),
            components=args.components,
            latent_dim=args.latent_dim or 2,
            dropout=args.dropout or 0.0,
            conditional=args.conditional,
        )
    except ValueError as e:
        raise CommandError(str(e)) from None
    _refuse_stages_that_cannot_apply(args)
    return options, config


def _refuse_stages_that_cannot_apply(args: argparse.Namespace) -> None:
    stages = (
        ("--encoder-only", args.encoder_only, "the encoder"),
        ("--decoder-only", args.decoder_only, "the decoder"),
        ("--fixed-means", args.fixed_means, "the decoder and the variances"),
    )
    for flag, asked, part in stages:
        if asked and not args.init:
            raise CommandError(f"{flag} trains {part} of existing weights: give them with --from FILE")
    for flag, asked in (("--decoder-only", args.decoder_only), ("--fixed-means", args.fixed_means)):
        if asked and args.dropout:
            raise CommandError(
                f"{flag} fits the decoder to the encoder as it is used, without dropout: leave out --dropout"
            )


def _follow(run: TrainingRun, model: VAE, output: Path) -> None:
    """Run the training with a progress bar and a line per epoch; save the best weights as
    soon as they are known, before the test-set evaluation, which may fail."""
    from tqdm import tqdm

    from vaedesk.core.recipe import EpochUpdate, Evaluating
    from vaedesk.core.train import BatchProgress, TrainingDiverged

    options = run.trainer.options
    with ctrl_c_stops() as stop_requested:
        eval_bars = StageBars()
        bar = tqdm(
            total=options.epochs * run.batches_per_epoch,
            unit="batch",
            dynamic_ncols=True,
            file=sys.stderr,
            disable=None,
        )
        try:
            for event in run.events(should_stop=stop_requested, eval_progress=eval_bars):
                if isinstance(event, BatchProgress):
                    bar.n = (event.epoch - 1) * event.batches + event.batch
                    eta = f"eta {event.eta / 60:.1f} min"
                    bar.set_postfix_str(f"epoch {event.epoch} loss {event.loss:.2f} {eta}", refresh=True)
                elif isinstance(event, EpochUpdate):
                    tqdm.write(_epoch_line(event.result, options), file=sys.stderr)
                elif isinstance(event, Evaluating):
                    bar.close()
                    if run.card is not None:
                        _save_trained(output, model, run.card)
                    print(
                        f"stopped: {event.stop_reason}; best epoch {event.best_epoch}"
                        f" (val {run.trainer.best_val:.2f}); saved {output}; evaluating on the test set",
                        file=sys.stderr,
                    )
        except TrainingDiverged as e:
            tqdm.write(f"training diverged: {e}", file=sys.stderr)
        except (KeyboardInterrupt, CommandError):
            raise
        except Exception as e:  # the evaluation failed (memory, a bug): the weights are saved already
            _evaluation_failed(e, run, model, output)
        finally:
            bar.close()
            eval_bars.close()


def _epoch_line(r: EpochResult, options: TrainOptions) -> str:
    # an IWAE run's loss is its bound, no longer recon + KL: say so on every line
    bound = f"IWAE-{options.iw_samples} " if options.iw_samples > 1 else ""
    # the neighbour term is not part of the loss printed: say it apart
    embedded = f" neighbours {r.train_neighbours:.2f}" if options.neighbours else ""
    return (
        f"epoch {r.epoch:3d}  train {bound}{r.train_loss:.2f} (recon {r.train_recon:.2f}"
        f" kl {r.train_kl:.2f}{embedded})  val {bound}{r.val_loss:.2f}  lr {r.lr:.2e}"
        f"  {r.seconds:.0f}s{'  *' if r.improved else ''}"
    )


def _evaluation_failed(e: Exception, run: TrainingRun, model: VAE, output: Path) -> None:
    if run.card is None:
        raise e
    card = {**run.card, "test_metrics": None, "evaluation_error": f"{type(e).__name__}: {e}"}
    _save_trained(output, model, card)
    raise CommandError(
        f"the test-set evaluation failed ({type(e).__name__}: {e}); the trained weights are saved"
        f" in {output}, and its card says the metrics are missing"
    ) from None


def _starting_model(args: argparse.Namespace) -> VAE:
    """The --from weights, with --beta, --loss and --dropout applied (they change the
    training, not the network's parameters); a different --arch is refused, as it cannot
    apply."""
    from vaedesk.core.model import VAE, VAEConfig

    start = load_model(args.init)
    base = start.config
    for flag, what, asked, has in (
        ("--arch", "architecture", args.arch, base.arch),
        ("--prior", "prior", args.prior, base.prior),
        ("--latent-dim", "latent size", args.latent_dim, base.latent_dim),
        ("--conditional", "conditioning", args.conditional or None, base.conditional),
    ):
        if asked is not None and asked != has:
            raise CommandError(
                f"{flag} {asked}: the weights in {args.init} have the '{has}' {what},"
                f" which training cannot change; leave out {flag}, or train from scratch"
            )
    asked = (("beta", args.beta), ("loss", args.loss), ("dropout", args.dropout))
    overrides = {k: v for k, v in asked if v is not None}
    # the codes of a fixed encoder as they are in use
    fixed_encoder = {"dropout": 0.0} if args.decoder_only or args.fixed_means else {}
    config = VAEConfig.from_dict({**base.to_dict(), **overrides, **fixed_encoder})
    model = VAE(config)
    model.load_state_dict(start.vae.state_dict())
    print(
        f"starting from {args.init}: architecture {config.arch} and latent size {config.latent_dim}"
        f" from the file; beta {config.beta:g} and loss {config.loss}"
        + (f" (given here: {', '.join(f'--{k}' for k in overrides)})" if overrides else " from the file")
        + (
            f"; the encoder's dropout ({base.dropout:g}) off: the decoder is fitted to the"
            " codes the encoder gives in use"
            if fixed_encoder and base.dropout
            else ""
        ),
        file=sys.stderr,
    )
    return model


def _save_trained(path: Path, model: VAE, card: dict[str, Any]) -> None:
    """Save a finished run; if `path` fails (a disk that filled up during training), save
    it in the temporary folder instead and say where: a run is never thrown away."""
    import tempfile
    import time

    from vaedesk.core import weights

    try:
        weights.save(path, model, card)
        return
    except OSError as e:
        problem = f"could not save the trained weights to {path} ({e.strerror or e})"
    rescue = Path(tempfile.gettempdir()) / f"vaedesk-rescued-{time.strftime('%Y%m%d-%H%M%S')}-{path.name}"
    try:
        weights.save(rescue, model, card)
    except OSError as e:
        raise CommandError(f"{problem}, nor to {rescue} ({e.strerror or e})") from None
    raise CommandError(f"{problem}; they are saved in {rescue} instead, with their card")

"""Command line: parse arguments first, import torch and Qt only for the command that runs.

`vaedesk --help` and `vaedesk --version` must stay instant, so nothing heavy is imported
at module level here.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from vaedesk import __version__


class CommandError(Exception):
    """A problem the user can fix: printed as one line, exit status 1."""


class DefaultsHelp(argparse.HelpFormatter):
    """Help that shows each option's default, unless it has none or already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)".strip()


def number_or_file(text: str) -> float | str:
    """A finite number, or (anything that is not a number) a file name."""
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text}: must be a positive number")
    return value


# Options given before the command (`vaedesk --data M train`) count as if given after it;
# the commands they cannot apply to refuse them.
SHARED_OPTIONS = {
    "train": {"data"},
    "eval": {"data", "weights"},
    "encode": {"data", "weights"},
    "decode": {"weights"},
    "data": {"data"},
    "bench": {"data", "weights"},
    "upgrade": set(),
    "classifier": {"data"},
    "classify": set(),
    "experiment": {"data"},
    "morph": {"weights"},
}
# A latent coordinate such as -1e-3 is a number, not an option.
NEGATIVE_NUMBER = re.compile(r"^-((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf|infinity|nan)$", re.IGNORECASE)


def shared_options(default) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """--data and --weights, for the top level (default None) and for each command
    (default SUPPRESS, so that a command's parser never undoes what came before it)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data",
        metavar="DIR",
        default=default,
        help="folder with the MNIST .gz files (default: $VAEDESK_DATA, then the user data folder)",
    )
    weights_opt = argparse.ArgumentParser(add_help=False)
    weights_opt.add_argument(
        "--weights",
        metavar="FILE",
        default=default,
        help="a .safetensors weights file (default: the bundled model)",
    )
    return common, weights_opt


def build_parser() -> argparse.ArgumentParser:
    top_common, top_weights = shared_options(None)
    common, weights_opt = shared_options(argparse.SUPPRESS)

    parser = argparse.ArgumentParser(
        prog="vaedesk",
        parents=[top_common, top_weights],
        description="Explore a variational autoencoder of handwritten digits. "
        "With no command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"vaedesk {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window, drive it with a scripted hover, click, drawing and short "
        "training, print a JSON report, exit 0 only if every check held",
    )
    parser.add_argument("--exit-after-first-paint", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--trace",
        metavar="FILE",
        help="append what the window shows to FILE as JSON lines (for scripted tests)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train",
        parents=[common],
        help="train a VAE on the MNIST training set",
        formatter_class=DefaultsHelp,
    )
    t.add_argument(
        "-o",
        "--output",
        default="vaedesk-trained.safetensors",
        metavar="FILE",
        help="where to save the best weights and their model card (default: %(default)s)",
    )
    # --arch, --prior, --latent-dim, --beta and --loss default to None so that --from can
    # tell what was asked for.
    t.add_argument(
        "--arch",
        choices=["conv", "seed", "mlp", "report"],
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
    t.add_argument("--seed", type=int, default=0, help="seeds the weights, the split and the batches")
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

    e = sub.add_parser("eval", parents=[common, weights_opt], help="test-set metrics of a weights file")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument(
        "-k",
        type=int,
        help="importance samples for the IWAE bound, 0 for none (default: 64, or 500 with --binarized)",
    )
    e.add_argument(
        "--binarized",
        action="store_true",
        help="on the test set binarized with a fixed seed, as the published log-likelihoods are"
        " (Burda et al. 2016; Davidson et al. 2018: k = 500)",
    )
    e.add_argument("--threads", type=positive_int, help="torch threads (default: all cores)")
    e.add_argument(
        "--amortization",
        type=positive_int,
        metavar="N",
        help="also the amortization gap on N test and N training images: how much each one's"
        " -ELBO falls when its posterior is optimised on its own (about 9 minutes for 500)",
    )

    enc = sub.add_parser("encode", parents=[common, weights_opt], help="encode pictures of digits")
    enc.add_argument("images", nargs="+", metavar="IMAGE")

    dec = sub.add_parser("decode", parents=[weights_opt], help="decode a latent point to a PNG")
    dec._negative_number_matcher = NEGATIVE_NUMBER  # argparse's own misses 1e-3 forms
    dec.add_argument(
        "z",
        nargs="+",
        type=number_or_file,
        metavar="Z",
        help="the latent point: one number per latent dimension (two for the bundled model), or a"
        " file holding them (text, or a NumPy .npy)",
    )
    dec.add_argument("-o", "--output", required=True, metavar="FILE", help="the PNG to write")
    dec.add_argument("--size", type=int, default=280, help="output side in pixels (default: %(default)s)")

    m = sub.add_parser(
        "morph", parents=[weights_opt], help="an animated GIF of one latent point morphing into another"
    )
    m._negative_number_matcher = NEGATIVE_NUMBER
    for name in ("x1", "y1", "x2", "y2"):
        end = "start" if name[1] == "1" else "end"
        m.add_argument(name, type=float, metavar=name.upper(), help=f"{name[0]} of the {end}")
    m.add_argument("-o", "--output", required=True, metavar="FILE", help="the GIF to write")
    m.add_argument("--frames", type=int, default=24, help="frames from start to end (default: %(default)s)")
    m.add_argument("--duration", type=int, default=80, metavar="MS", help="ms a frame (default: %(default)s)")
    m.add_argument("--follow-prior", action="store_true", help="keep to the prior's mass instead of the line")

    d = sub.add_parser("data", parents=[common], help="where MNIST is, and download it")
    d.add_argument("action", nargs="?", choices=["download", "check"], help="download: fetch missing files")
    d.add_argument(
        "--mirror", action="append", metavar="URL", help="download from this base URL (repeatable)"
    )

    c = sub.add_parser("classifier", parents=[common], help="train the digit classifier")
    c.add_argument("action", choices=["train"], help="train: train it on the MNIST training set")
    c.add_argument(
        "-o",
        "--output",
        default="classifier-trained.safetensors",
        metavar="FILE",
        help="where to save it and its card (default: %(default)s)",
    )
    c.add_argument("--epochs", type=positive_int, default=12, help="passes over the training images")
    c.add_argument("--seed", type=int, default=0, help="seeds the weights, the split and the batches")
    c.add_argument("--threads", type=positive_int, help="torch threads (default: torch's)")

    cl = sub.add_parser("classify", help="say which digit each picture shows (one JSON line each)")
    cl.add_argument("images", nargs="+", metavar="IMAGE")
    cl.add_argument("--classifier", metavar="FILE", help="a classifier file (default: the bundled one)")

    x = sub.add_parser(
        "experiment",
        parents=[common],
        help="the report's experiments: augment trains the classifier with VAE-generated digits",
    )
    x.add_argument("name", choices=["augment"], help="augment: the report's Table 5")
    x.add_argument("-o", "--output", default="augment.json", metavar="FILE", help="the results as JSON")
    x.add_argument(
        "--vae-epochs", type=positive_int, default=10, help="epochs of the VAE (default: %(default)s)"
    )
    x.add_argument(
        "--classifier-epochs",
        type=positive_int,
        default=12,
        help="epochs of each classifier (default: %(default)s)",
    )
    x.add_argument(
        "--noise", type=float, default=0.5, help="noise added to the encodings (default: %(default)s)"
    )
    x.add_argument("--seed", type=int, default=0, help="seeds the halves, the models and the noise")
    x.add_argument("--limit", type=positive_int, help="use only the first N training images (a quick run)")
    x.add_argument("--threads", type=positive_int, help="torch threads (default: torch's)")

    u = sub.add_parser(
        "upgrade",
        help="add the ONNX export to a weights file from an older vaedesk (the viewer then "
        "runs it without torch)",
    )
    u.add_argument("file", metavar="FILE", help="the weights file")
    u.add_argument("-o", "--output", metavar="OUT", help="write here instead of replacing FILE")

    b = sub.add_parser(
        "bench", parents=[common, weights_opt], help="measure decode, encode and training speed"
    )
    b.add_argument("--quick", action="store_true", help="fewer repetitions")
    b.add_argument("--packaged", metavar="EXE", help="also time the start-up of this packaged vaedesk")
    b.add_argument("--startup-only", action="store_true", help="only the start-up figures")
    b.add_argument("--iwae", action="store_true", help="also time the IWAE bound, k=64 (2 minutes)")
    return parser


def _options_before_the_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """`vaedesk --threads 1 train` would fail with "invalid choice: '1'": say instead that
    the option belongs after the command."""
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 (argparse's own)
    command = next((a for a in argv if a in commands), None)
    if command is None:
        return
    for token in argv[: argv.index(command)]:
        name = token.split("=", 1)[0]
        if name.startswith("-") and name not in parser._option_string_actions:  # noqa: SLF001
            if name in commands[command]._option_string_actions:  # noqa: SLF001
                parser.error(f"{name} goes after the command: vaedesk {command} {name} ...")
            parser.error(f"unrecognized option {name} (vaedesk {command} --help lists its options)")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    _options_before_the_command(parser, argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command is not None:
        for option in ("data", "weights"):
            if getattr(args, option) is not None and option not in SHARED_OPTIONS[args.command]:
                parser.error(f"--{option} does not apply to `vaedesk {args.command}`")
    try:
        if args.command is None:
            from vaedesk.ui.app import run_app

            return run_app(args)
        handler = {
            "train": cmd_train,
            "eval": cmd_eval,
            "encode": cmd_encode,
            "decode": cmd_decode,
            "data": cmd_data,
            "bench": cmd_bench,
            "upgrade": cmd_upgrade,
            "classifier": cmd_classifier,
            "classify": cmd_classify,
            "experiment": cmd_experiment,
            "morph": cmd_morph,
        }[args.command]
        return handler(args)
    except CommandError as e:
        print(f"vaedesk: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vaedesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vaedesk encode *.png | head -1`: the reader has gone
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _load_model(path: str | None):  # -> vaedesk.core.api.Model
    from vaedesk.core.api import Model
    from vaedesk.core.weights import WeightsError

    try:
        return Model.load(path)
    except WeightsError as e:
        raise CommandError(str(e)) from None


def _load_data(split: str, folder: str | None):
    from vaedesk.core import data

    try:
        return data.load(split, folder)
    except data.DataError as e:
        raise CommandError(str(e)) from None


def cmd_train(args: argparse.Namespace) -> int:
    import shlex
    import signal

    import torch
    from tqdm import tqdm

    from vaedesk.core import weights
    from vaedesk.core.model import VAE, VAEConfig
    from vaedesk.core.recipe import EpochUpdate, Evaluating, TrainingRun, collapse_warning
    from vaedesk.core.train import BatchProgress, TrainingDiverged, TrainOptions

    if args.threads:
        torch.set_num_threads(args.threads)
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
    output = _check_output(args.output)  # before hours of training, not after
    images, labels = _load_data("train", args.data)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    test = _load_data("test", args.data)
    torch.manual_seed(args.seed)
    model = _starting_model(args) if args.init else VAE(config)
    try:
        run = TrainingRun(
            model,
            (images, labels),
            options,
            command=shlex.join(["vaedesk", *args.argv]),
            init=args.init,
            test=test,
            eval_k=args.eval_k,
        )
    except ValueError as e:
        raise CommandError(str(e)) from None

    stop = {"requested": False}

    def on_sigint(signum, frame):  # first Ctrl-C: finish the batch, keep the best weights
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        tqdm.write("stopping after this batch (Ctrl-C again to abort without saving)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    eval_bars = StageBars()
    bar = tqdm(
        total=options.epochs * run.batches_per_epoch,
        unit="batch",
        dynamic_ncols=True,
        file=sys.stderr,
        disable=None,
    )
    # an IWAE run's loss is its bound, no longer recon + KL: say so on every line
    bound = f"IWAE-{options.iw_samples} " if options.iw_samples > 1 else ""

    def embedded(r) -> str:  # the neighbour term is not part of the loss printed: say it apart
        return f" neighbours {r.train_neighbours:.2f}" if options.neighbours else ""

    try:
        for event in run.events(should_stop=lambda: stop["requested"], eval_progress=eval_bars):
            if isinstance(event, BatchProgress):
                bar.n = (event.epoch - 1) * event.batches + event.batch
                bar.set_postfix_str(
                    f"epoch {event.epoch} loss {event.loss:.2f} eta {event.eta / 60:.1f} min", refresh=True
                )
            elif isinstance(event, EpochUpdate):
                r = event.result
                tqdm.write(
                    f"epoch {r.epoch:3d}  train {bound}{r.train_loss:.2f} (recon {r.train_recon:.2f}"
                    f" kl {r.train_kl:.2f}{embedded(r)})  val {bound}{r.val_loss:.2f}  lr {r.lr:.2e}"
                    f"  {r.seconds:.0f}s{'  *' if r.improved else ''}",
                    file=sys.stderr,
                )
            elif isinstance(event, Evaluating):
                bar.close()
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
        if run.card is None:
            raise
        card = {**run.card, "test_metrics": None, "evaluation_error": f"{type(e).__name__}: {e}"}
        _save_trained(output, model, card)
        raise CommandError(
            f"the test-set evaluation failed ({type(e).__name__}: {e}); the trained weights are saved"
            f" in {output}, and its card says the metrics are missing"
        ) from None
    finally:
        bar.close()
        eval_bars.close()
        signal.signal(signal.SIGINT, previous)
    if run.card is None:
        raise CommandError(f"no epoch finished ({run.stop_reason}); nothing saved")
    _save_trained(output, model, run.card)
    if run.metrics is not None:
        print(_format_metrics(run.metrics))
    warning = collapse_warning(
        run.card,
        "Train again with --free-bits 2 (no pull onto the prior below 2 nats), or with a lower --beta.",
    )
    if warning:
        print(f"vaedesk: warning: {warning}", file=sys.stderr)
    print(f"saved {output} and {weights.card_path(output)}")
    return 0


def _starting_model(args: argparse.Namespace):  # -> VAE
    """The --from weights, with --beta, --loss and --dropout applied (they change the
    training, not the network's parameters); a different --arch is refused, as it cannot
    apply."""
    from vaedesk.core.model import VAE, VAEConfig

    start = _load_model(args.init)
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


def _check_output(name: str) -> Path:
    """Refuse an `-o` that training could not be saved to, before training starts."""
    import os
    import tempfile

    from vaedesk.core import weights

    path = Path(name)
    if path.is_dir():
        raise CommandError(f"-o {name}: is a folder; give a file name, such as {path / 'model.safetensors'}")
    if path.exists() and not path.is_file():
        raise CommandError(f"-o {name}: not a regular file")
    try:
        weights.refuse_bundled(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise CommandError(f"-o {name}: cannot write there ({e.strerror or e})") from None
    return path


def _save_trained(path: Path, model, card: dict) -> None:
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


def _format_metrics(m: dict) -> str:
    lines = [
        f"test images         {m['n_test']}",
        f"-ELBO (nats/image)  {m['neg_elbo']:.2f}  = recon {m['recon']:.2f} + KL {m['kl']:.2f}",
    ]
    for key, value in m.items():
        if key.startswith("iwae_k") and not key.endswith("_se"):
            se = m.get(f"{key}_se")
            spread = (
                f" \u00b1 {se:.2f} (standard error)" if isinstance(se, float) and math.isfinite(se) else ""
            )
            lines.append(f"IWAE bound, k={key[6:]:<4} {value:.2f}{spread}")
    if "knn5_accuracy" in m:
        lines.append(f"latent 5-NN accuracy {100 * m['knn5_accuracy']:.2f}%")
        by_digit = [f"{d} {100 * m[f'knn5_recall_{d}']:.1f}" for d in range(10) if f"knn5_recall_{d}" in m]
        if by_digit:
            lines.append(f"  by digit, % right  {'  '.join(by_digit)}")
    for name in ("test", "train"):
        gap, amortized, optimized = (
            m.get(f"amortization_{name}_{k}") for k in ("gap", "amortized", "optimized")
        )
        if gap is not None:
            lines.append(
                f"amortization gap    {gap:.2f} on {m['amortization_images']} {name} images"
                f" (-ELBO {amortized:.2f} from the encoder, {optimized:.2f} optimised)"
            )
    if "seconds" in m:
        lines.append(f"evaluated in        {m['seconds']:.1f} s")
    return "\n".join(lines)


class StageBars:
    """tqdm bars on stderr, one per stage of a long evaluation, each with its ETA; silent
    when stderr is not a terminal."""

    def __init__(self) -> None:
        self.bars: dict = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage not in self.bars:
            self.bars[stage] = tqdm(
                total=total,
                desc=f"{stage:>10}",
                unit="step" if stage.startswith("q, ") else "img",
                file=sys.stderr,
                disable=None,
                dynamic_ncols=True,
            )
        bar = self.bars[stage]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def cmd_eval(args: argparse.Namespace) -> int:
    import time

    from vaedesk.core import data
    from vaedesk.core.evaluate import BINARIZE_SEED, binarized, evaluate

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model = _load_model(args.weights)
    test = _load_data("test", args.data)
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
    if args.json:
        finite = {k: v if not isinstance(v, float) or math.isfinite(v) else None for k, v in metrics.items()}
        # JSON has no NaN: a metric that is not a number is null.
        print(json.dumps({"weights": str(model.path), "arch": model.config.arch, **finite}, allow_nan=False))
    else:
        print(f"weights             {model.path} ({model.config.arch})")
        if args.binarized:
            print(f"test set            binarized (seed {BINARIZE_SEED}); -log p(x) <= the IWAE bound")
        print(_format_metrics(metrics))
    return 0


def _amortization(model, test: tuple, train: tuple | None, n: int, progress) -> dict[str, float]:
    """The amortization gap on the first n test images and on the first n images of the
    training split the model's card records (all training images if it records none)."""
    import numpy as np

    from vaedesk.core.evaluate import amortization_gap
    from vaedesk.core.train import split_train_val

    sets = {"test": test[0][:n]}
    if train is not None:
        options = model.card.get("options", {})
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


def cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from vaedesk.core.classify import Classifier, ClassifierError
    from vaedesk.core.digits import DigitGuesser

    model = _load_model(args.weights)
    try:  # "digit" is what the classifier reads in the picture, as the model's input
        classifier, guesser = Classifier.load(), None
    except ClassifierError as e:  # then the nearest encoded test images vote, if MNIST is here
        print(f"vaedesk: {e}; the digit is guessed from the nearest test images", file=sys.stderr)
        classifier, guesser = None, DigitGuesser.for_model(model, args.data)

    def describe(mnist_like: np.ndarray) -> dict:
        mu, logvar = model.encode(mnist_like)
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

    return _each_picture(args.images, describe)


def _each_picture(names: list[str], describe: Callable) -> int:
    """One JSON line per picture, {"file": name, **describe(picture as the model sees it)};
    an unreadable picture is one line on stderr and the others still run. Exit code 1 if
    any was unreadable."""
    from vaedesk.core import preprocess

    failures = 0
    for name in names:
        try:
            mnist_like = preprocess.picture_to_mnist(name)
        except preprocess.PictureError as e:
            print(f"vaedesk: {e}", file=sys.stderr)
            failures += 1
            continue
        print(json.dumps({"file": name, **describe(mnist_like)}), flush=True)
    return 1 if failures else 0


def _load_classifier(path: str | None):  # -> vaedesk.core.classify.Classifier
    from vaedesk.core.classify import Classifier, ClassifierError

    try:
        return Classifier.load(path)
    except ClassifierError as e:
        raise CommandError(str(e)) from None


def cmd_classify(args: argparse.Namespace) -> int:
    classifier = _load_classifier(args.classifier)

    def describe(mnist_like) -> dict:
        p = classifier.probabilities(mnist_like)[0]
        return {"digit": int(p.argmax()), "p": [round(float(v), 4) for v in p]}

    return _each_picture(args.images, describe)


def cmd_classifier(args: argparse.Namespace) -> int:
    import time

    import torch

    from vaedesk import __version__
    from vaedesk.core import data
    from vaedesk.core.classifier import ClassifierOptions, accuracy, options_dict, save, train_classifier

    if args.threads:
        torch.set_num_threads(args.threads)
    output = _check_output(args.output)
    images, labels = _load_data("train", args.data)
    test = _load_data("test", args.data)
    options = ClassifierOptions(epochs=args.epochs, seed=args.seed)
    started = time.perf_counter()

    def report(e) -> None:
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


def cmd_experiment(args: argparse.Namespace) -> int:
    import time

    import torch
    from tqdm import tqdm

    from vaedesk.core.atomic import atomic_write
    from vaedesk.core.experiment import AugmentSettings, as_json, run_augment, table

    if args.threads:
        torch.set_num_threads(args.threads)
    if not (args.noise >= 0 and math.isfinite(args.noise)):
        raise CommandError("--noise must be a non-negative number")
    output = Path(args.output)
    if output.is_dir():
        raise CommandError(
            f"-o {args.output}: is a folder; give a file name, such as {output / 'augment.json'}"
        )
    train = _load_data("train", args.data)
    if args.limit:
        train = (train[0][: args.limit], train[1][: args.limit])
    test = _load_data("test", args.data)
    settings = AugmentSettings(
        vae_epochs=args.vae_epochs, noise=args.noise, classifier_epochs=args.classifier_epochs, seed=args.seed
    )
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


def cmd_decode(args: argparse.Namespace) -> int:
    from vaedesk.core import preprocess

    if not 8 <= args.size <= 4096:
        raise CommandError("--size must be between 8 and 4096 pixels")
    model = _load_model(args.weights)
    z = _latent_point(args.z, model.config.latent_dim)
    image = model.decode(z)[0]
    try:
        preprocess.save_png(image, args.output, size=args.size)
    except OSError as e:
        raise CommandError(f"{args.output}: cannot write ({e.strerror or e})") from None
    print(f"wrote {args.output} ({args.size} x {args.size}) for z = ({', '.join(f'{v:g}' for v in z)})")
    return 0


def _latent_point(parts: list[float | str], dim: int):  # -> np.ndarray (dim,)
    """The numbers given to `decode`, or those in the one file given instead, checked
    against the model's latent size."""
    import numpy as np

    files = [p for p in parts if isinstance(p, str)]
    if files and len(parts) > 1:
        raise CommandError(f"{files[0]}: give either {dim} numbers or one file holding them, not both")
    if files:
        try:
            if files[0].endswith(".npy"):
                values = np.load(files[0], allow_pickle=False)
            else:
                values = np.array(Path(files[0]).read_text().replace(",", " ").split(), dtype=np.float64)
        except (OSError, ValueError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0]
            raise CommandError(f"{files[0]}: cannot read a latent point from it ({reason})") from None
    else:
        values = np.array(parts, dtype=np.float64)
    values = np.asarray(values, np.float64).ravel()
    if len(values) != dim:
        raise CommandError(f"the model has {dim} latent dimensions; give {dim} numbers (got {len(values)})")
    if not np.isfinite(values).all():
        raise CommandError("the latent point has a value that is not a finite number")
    return values.astype(np.float32)


def cmd_data(args: argparse.Namespace) -> int:
    from vaedesk.core import data, paths

    if args.action == "download":
        from tqdm import tqdm

        target = Path(args.data) if args.data else paths.default_mnist_dir()
        bars: dict[str, tqdm] = {}

        def progress(name: str, done: int, total: int | None) -> None:
            if name not in bars:
                bars[name] = tqdm(
                    total=total, unit="B", unit_scale=True, desc=name, file=sys.stderr, disable=None
                )
            bars[name].n = done
            bars[name].refresh()

        try:
            data.download(target, mirrors=args.mirror or data.MIRRORS, progress=progress)
        except data.DataError as e:
            raise CommandError(str(e)) from None
        finally:
            for bar in bars.values():
                bar.close()
        print(f"MNIST is ready in {target}")
        return 0
    print("vaedesk looks for MNIST in, in order:")
    for folder in paths.mnist_search_dirs(args.data):
        print(f"  {folder}")
    ok = True
    for split in ("train", "test"):
        folder = data.find_data_dir(split, args.data)
        if folder is None:
            print(f"{split}: not found")
            ok = False
            continue
        try:
            images, _ = data.load_split(folder, split)
            print(f"{split}: {len(images)} images in {folder} (checksums verified)")
        except data.DataError as e:
            print(f"{split}: {e}")
            ok = False
    if not ok:
        print(
            "run `vaedesk data download`, or "
            + data.HAND_INSTRUCTIONS.format(folder=paths.default_mnist_dir())
        )
    return 0 if ok else 1


def cmd_upgrade(args: argparse.Namespace) -> int:
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


def cmd_morph(args: argparse.Namespace) -> int:
    from vaedesk.core import gif

    model = _load_model(args.weights)
    if model.config.latent_dim != 2 or model.conditional:
        raise CommandError("morph takes two points of a 2-D, unconditional model's map")
    if not all(math.isfinite(v) for v in (args.x1, args.y1, args.x2, args.y2)):
        raise CommandError("the coordinates must be finite numbers")
    try:
        gif.check_options(args.frames, args.duration)
        path = gif.morph_path(model, [args.x1, args.y1], [args.x2, args.y2], args.frames, args.follow_prior)
        gif.write_morph_gif(args.output, model.decode(path), args.duration)
    except ValueError as e:
        raise CommandError(str(e)) from None
    except OSError as e:
        raise CommandError(f"{args.output}: cannot write ({e.strerror or e})") from None
    print(f"wrote {args.output}: {args.frames} frames of {args.duration} ms")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from vaedesk.cli.bench import run_bench

    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())

"""`vaedesk morph`: an animated GIF of the digits decoded from one latent point to another."""

from __future__ import annotations

import argparse

from vaedesk.cli.common import CommandError, load_model
from vaedesk.cli.parsing import Parser, add_weights_option


def add_arguments(parser: Parser) -> None:
    parser.numbers_are_values = True  # a coordinate such as -1.5 is not an option
    add_weights_option(parser)
    for name in ("x1", "y1", "x2", "y2"):
        end = "start" if name[1] == "1" else "end"
        parser.add_argument(name, type=float, metavar=name.upper(), help=f"{name[0]} of the {end}")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the GIF to write")
    parser.add_argument(
        "--frames", type=int, default=24, help="frames from start to end (default: %(default)s)"
    )
    parser.add_argument(
        "--duration", type=int, default=80, metavar="MS", help="ms a frame (default: %(default)s)"
    )
    parser.add_argument(
        "--follow-prior", action="store_true", help="keep to the prior's mass instead of the straight line"
    )


def run(args: argparse.Namespace) -> int:
    from vaedesk.core import gif
    from vaedesk.core.api import finite_float32

    model = load_model(args.weights)
    if model.config.latent_dim != 2 or model.conditional:
        raise CommandError("morph takes two points of a 2-D, unconditional model's map")
    try:
        start, end = finite_float32([args.x1, args.y1]), finite_float32([args.x2, args.y2])
        gif.check_options(args.frames, args.duration)
        path = gif.morph_path(model, start, end, args.frames, args.follow_prior)
        gif.write_morph_gif(args.output, model.decode(path), args.duration)
    except ValueError as e:
        raise CommandError(str(e)) from None
    except OSError as e:
        raise CommandError(f"{args.output}: cannot write ({e.strerror or e})") from None
    print(f"wrote {args.output}: {args.frames} frames of {args.duration} ms")
    return 0

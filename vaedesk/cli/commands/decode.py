"""`vaedesk decode`: the picture the decoder draws for one latent point, as a PNG."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from vaedesk.cli.common import CommandError, load_model
from vaedesk.cli.parsing import Parser, add_weights_option, number_or_file

if TYPE_CHECKING:
    import numpy as np


def add_arguments(parser: Parser) -> None:
    parser.numbers_are_values = True  # a coordinate such as -1e-3 is not an option
    add_weights_option(parser)
    parser.add_argument(
        "z",
        nargs="+",
        type=number_or_file,
        metavar="Z",
        help="the latent point: one number per latent dimension (two for the bundled model), or a"
        " file holding them (text, or a NumPy .npy)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the PNG to write")
    parser.add_argument("--size", type=int, default=280, help="output side in pixels (default: %(default)s)")
    parser.add_argument(
        "--digit", type=int, choices=range(10), metavar="D", help="the digit a conditional model draws (0-9)"
    )


def run(args: argparse.Namespace) -> int:
    from vaedesk.core import preprocess

    if not 8 <= args.size <= 4096:
        raise CommandError("--size must be between 8 and 4096 pixels")
    model = load_model(args.weights)
    z = _latent_point(args.z, model.config.latent_dim)
    if model.conditional != (args.digit is not None):
        need = "needs --digit D (0-9)" if model.conditional else "is not conditional: leave out --digit"
        raise CommandError(f"{model.path}: {need}")
    image = model.decode(z, args.digit)[0]
    try:
        preprocess.save_png(image, args.output, size=args.size)
    except OSError as e:
        raise CommandError(f"{args.output}: cannot write ({e.strerror or e})") from None
    print(f"wrote {args.output} ({args.size} x {args.size}) for z = ({', '.join(f'{v:g}' for v in z)})")
    return 0


MAX_POINT_FILE_BYTES = 2**20  # a latent point is a few numbers


def _latent_point(parts: list[float | str], dim: int) -> np.ndarray:  # (dim,)
    """The numbers given to `decode`, or those in the one file given instead, checked
    against the model's latent size."""
    import io

    import numpy as np

    from vaedesk.core.api import finite_float32
    from vaedesk.core.atomic import read_regular

    files = [p for p in parts if isinstance(p, str)]
    if files and len(parts) > 1:
        raise CommandError(f"{files[0]}: give either {dim} numbers or one file holding them, not both")
    if files:
        try:
            raw = read_regular(files[0], MAX_POINT_FILE_BYTES)  # not a FIFO, nor /dev/urandom
            if files[0].endswith(".npy"):
                values = np.load(io.BytesIO(raw), allow_pickle=False)
            else:
                values = np.array(raw.decode().replace(",", " ").split(), dtype=np.float64)
        except (OSError, ValueError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0]
            raise CommandError(f"{files[0]}: cannot read a latent point from it ({reason})") from None
    else:
        values = np.array(parts, dtype=np.float64)
    try:  # finite as float32, the model's numbers: 1e39 is not
        values = finite_float32(values, "the latent point's values").ravel()
    except ValueError as e:
        raise CommandError(str(e)) from None
    if len(values) != dim:
        raise CommandError(f"the model has {dim} latent dimensions; give {dim} numbers (got {len(values)})")
    return values

"""`vaedesk data`: where vaedesk looks for MNIST, whether the files there are whole, and
`vaedesk data download` to fetch the missing ones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vaedesk.cli.common import CommandError
from vaedesk.cli.parsing import Parser, add_data_option


def add_arguments(parser: Parser) -> None:
    add_data_option(parser)
    parser.add_argument(
        "action", nargs="?", choices=["download", "check"], help="download: fetch missing files"
    )
    parser.add_argument(
        "--mirror", action="append", metavar="URL", help="download from this base URL (repeatable)"
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "download":
        return _download(args)
    return _check(args)


def _download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vaedesk.core import data, download, paths

    target = Path(args.data) if args.data else paths.default_mnist_dir()
    bars: dict[str, Any] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        if name not in bars:
            bars[name] = tqdm(
                total=total, unit="B", unit_scale=True, desc=name, file=sys.stderr, disable=None
            )
        bars[name].n = done
        bars[name].refresh()

    try:
        download.download(target, mirrors=args.mirror or data.MIRRORS, progress=progress)
    except data.DataError as e:
        raise CommandError(str(e)) from None
    finally:
        for bar in bars.values():
            bar.close()
    print(f"MNIST is ready in {target}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from vaedesk.core import data, paths

    print("vaedesk looks for MNIST in, in order:")
    for folder in paths.mnist_search_dirs(args.data):
        print(f"  {folder}")
    ok = True
    for split in ("train", "test"):
        found = data.find_data_dir(split, args.data)
        if found is None:
            print(f"{split}: not found")
            ok = False
            continue
        try:
            images, _ = data.load_split(found, split)
            print(f"{split}: {len(images)} images in {found} (checksums verified)")
        except data.DataError as e:
            print(f"{split}: {e}")
            ok = False
    if not ok:
        print(
            "run `vaedesk data download`, or "
            + data.HAND_INSTRUCTIONS.format(folder=paths.default_mnist_dir())
        )
    return 0 if ok else 1

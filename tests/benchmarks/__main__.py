"""`python -m tests.benchmarks`: decode, encode and training speed, then the window's
start-up, hover, drawing and memory figures, each beside a same-run baseline."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__)
    p.add_argument("--data", metavar="DIR", help="folder with the MNIST .gz files (default: vaedesk's)")
    p.add_argument(
        "--weights", metavar="FILE", help="a .safetensors weights file (default: the bundled model)"
    )
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    p.add_argument("--packaged", metavar="EXE", help="also time the start-up of this packaged vaedesk")
    p.add_argument("--startup-only", action="store_true", help="only the start-up figures")
    p.add_argument("--iwae", action="store_true", help="also time the IWAE bound, k=64 (2 minutes)")
    p.add_argument(
        "--style", action="store_true", help="only the Style view's hover and the typicality estimate"
    )
    return p


def run_bench(args: argparse.Namespace) -> int:
    from tests.benchmarks.engine import bench_decode, bench_encode, bench_iwae, bench_training
    from vaedesk.core import data
    from vaedesk.core.api import Model
    from vaedesk.core.weights import WeightsError

    if args.style:
        from tests.benchmarks.style import run_style_bench

        return run_style_bench(args)
    if args.startup_only:
        from tests.benchmarks.window import bench_startup

        bench_startup(args, runs=3 if args.quick else 7)
        return 0
    t = time.perf_counter()
    try:
        model = Model.load(args.weights)
        test_images, _ = data.load("test", args.data)
    except (WeightsError, data.DataError) as e:
        print(f"benchmarks: {e}", file=sys.stderr)
        return 1
    print(f"model: {model.path} ({model.config.arch}); loaded in {time.perf_counter() - t:.2f} s")
    bench_decode(model, 200 if args.quick else 2000)
    bench_encode(model, test_images)
    bench_training(model, test_images, batches=10 if args.quick else 40)
    if args.iwae:
        bench_iwae(model, test_images)
    try:
        from tests.benchmarks.window import run_ui_bench
    except ImportError as e:  # a headless install without Qt still benchmarks the engine
        print(f"window benchmarks skipped: {e}")
        return 0
    run_ui_bench(args, quick=args.quick)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_bench(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

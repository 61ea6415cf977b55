"""The packaged program's size and start-up, in one run (issue 35):

    python -m tests.benchmarks.packaging dist/vaedesk [--runs 7] [--installed VAEDESK]

prints the folder's size and file count and what dominates it, makes the release archive
with the command the README documents (ARCHIVE_COMMAND) and prints its size and the time
it took, then the process start to the map's first paint, packaged and installed (this
venv's `python -m vaedesk`, or the console script given with --installed), each beside
the bare imports of the viewer (numpy, onnxruntime, Qt, pyqtgraph) timed in the same
interleaved runs. Goals: folder <= 550 MB, archive <= 250 MB, first paint <= 1.2x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from tests.benchmarks.window import BARE_VIEWER, PEAK, _time_until

MB = 1e6
BARE_MODULES = "numpy, onnxruntime, PySide6.QtWidgets, pyqtgraph"
# The one documented command that makes the release archive (README, docs/packaging.md).
# Level 9 with a 128 MB window: 250 MB in 83 s on the 2-core build machine, where level 13
# took 463 s for 1 % less and level 19 did not finish in 11 minutes.
ARCHIVE_COMMAND = "tar -C {parent} -I 'zstd -9 -T0 --long=27' -cf {archive} {name}"


def folder_size(folder: Path) -> tuple[int, int, dict[str, int]]:
    """Bytes and files under `folder` (links not followed), and bytes by part: the first two
    levels of the path inside the bundle (`_internal/torch`, `_internal/PySide6`, ...)."""
    total, count, parts = 0, 0, defaultdict(int)
    for path in folder.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        count += 1
        rel = path.relative_to(folder).parts
        key = "/".join(rel[:2]) if len(rel) > 2 else "/".join(rel)
        if key.startswith("_internal/") and len(rel) > 3 and rel[1] in ("torch", "PySide6"):
            key = "/".join(rel[:3])  # torch/lib, PySide6/Qt: one level deeper where it matters
        parts[key] += size
    return total, count, dict(parts)


def make_archive(folder: Path, out_dir: Path) -> tuple[Path, float, str]:
    from vaedesk import __version__

    archive = out_dir / f"{folder.name}-{__version__}-linux-x86_64.tar.zst"
    command = ARCHIVE_COMMAND.format(parent=folder.parent, archive=archive, name=folder.name)
    t = time.perf_counter()
    subprocess.run(command, shell=True, check=True)
    return archive, time.perf_counter() - t, command


def startup(exe: Path, installed: list[str], runs: int) -> None:
    env = {**os.environ}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    options = ["--exit-after-first-paint"]
    commands = {
        BARE_VIEWER: ([sys.executable, "-c", f"import {BARE_MODULES}; {PEAK}"], "ready"),
        "vaedesk installed (first paint)": ([*installed, *options], "first-paint"),
        "vaedesk packaged (first paint)": ([str(exe), *options], "first-paint"),
    }
    for cmd, marker in commands.values():  # fill the latent cache and the OS file cache
        _time_until(cmd, marker, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):  # interleaved, so that load on the machine hits all alike
        for name, (cmd, marker) in commands.items():
            times[name].append(_time_until(cmd, marker, env)[0])
    base = statistics.median(times[BARE_VIEWER])
    print(f"process start to the map's first paint, median of {runs} interleaved runs:")
    for name, t in times.items():
        m = statistics.median(t)
        print(f"  {name:52s} {m:.3f} s  {m / base:.2f}x the bare viewer imports (goal <= 1.2x)")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.benchmarks.packaging", description=__doc__)
    p.add_argument("folder", type=Path, help="the packaged program's folder (dist/vaedesk)")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument(
        "--installed", metavar="VAEDESK", help="an installed console script (default: python -m vaedesk)"
    )
    p.add_argument("--archive-dir", type=Path, help="where to keep the archive (default: a temporary folder)")
    args = p.parse_args(argv)
    exe = args.folder / "vaedesk"
    if not exe.is_file():
        print(f"{exe}: not found; build it with: pyinstaller --noconfirm build.spec", file=sys.stderr)
        return 1

    total, count, parts = folder_size(args.folder)
    print(f"{args.folder}: {total / MB:.0f} MB in {count:,} files (goal <= 550 MB); the largest parts:")
    for key, size in sorted(parts.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {size / MB:7.1f} MB  {key}")
    # The floor (docs/packaging.md): libtorch_cpu.so is mapped whole by every import of torch.
    torch_total = sum(size for key, size in parts.items() if key.startswith("_internal/torch"))
    libtorch = (args.folder / "_internal" / "torch" / "lib" / "libtorch_cpu.so").stat().st_size
    print(
        f"  torch's folder {torch_total / MB:.0f} MB, of which libtorch_cpu.so {libtorch / MB:.0f} MB;"
        f" everything else {(total - torch_total) / MB:.0f} MB"
    )

    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.archive_dir or Path(tmp)
        archive, seconds, command = make_archive(args.folder.resolve(), out_dir)
        size = archive.stat().st_size
        print(f"archive: {size / MB:.0f} MB (goal <= 250 MB), made in {seconds:.0f} s by: {command}")

    installed = [args.installed] if args.installed else [sys.executable, "-m", "vaedesk"]
    startup(exe, installed, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

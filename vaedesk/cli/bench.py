"""`vaedesk bench`: figures, printed, never asserted. Each speed is shown beside a baseline
measured in the same run, so a noisy shared machine shows up in both."""

from __future__ import annotations

import argparse
import time

import numpy as np

from vaedesk.core.timing import ms, timings


def bench_decode(model, repeat: int) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    points = rng.normal(size=(repeat + 20, 2)).astype(np.float32)
    it = iter(points)
    t = timings(lambda: model.decode(next(it)), repeat)
    print(f"decode 1 image, 1 thread ({repeat}x):      {ms(t)}")
    torch.set_num_threads(threads)


def bench_encode(model, images: np.ndarray) -> None:
    from vaedesk.core.evaluate import encode_means

    t = time.perf_counter()
    encode_means(model.vae, images)
    dt = time.perf_counter() - t
    print(f"encode {len(images)} test images:           {dt:.2f} s ({len(images) / dt:,.0f} images/s)")


def bench_training(model, images: np.ndarray, batches: int) -> None:
    """The project's Trainer against a bare PyTorch loop on the same architecture and data."""
    import torch

    from vaedesk.core.model import VAE, vae_loss
    from vaedesk.core.train import Trainer, TrainOptions, as_tensor

    batch_size = 128
    n = batch_size * (batches + 5) + 1000
    images = images[:n]

    def bare() -> float:
        torch.manual_seed(0)
        vae = VAE(model.config)
        opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
        x = as_tensor(images[: n - 1000])
        order = torch.randperm(len(x))
        t0 = 0.0
        for b in range(batches + 5):
            if b == 5:
                t0 = time.perf_counter()
            xb = x[order[b * batch_size : (b + 1) * batch_size]]
            logits, mu, logvar = vae(xb)
            loss, _, _ = vae_loss(logits, xb, mu, logvar)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return batches * batch_size / (time.perf_counter() - t0)

    def ours() -> float:
        torch.manual_seed(0)
        trainer = Trainer(
            VAE(model.config),
            images,
            TrainOptions(epochs=1, batch_size=batch_size, val_size=1000, log_every=1),
        )
        t0 = 0.0
        for event in trainer.run(should_stop=lambda: False):
            if event.batch == 5:
                t0 = time.perf_counter()
            if event.batch == batches + 5:
                break
        return batches * batch_size / (time.perf_counter() - t0)

    threads = torch.get_num_threads()
    for n_threads in sorted({1, threads}):
        torch.set_num_threads(n_threads)
        b, o = bare(), ours()
        print(
            f"training, {n_threads} thread(s), batch {batch_size}:   vaedesk {o:,.0f} samples/s, "
            f"bare PyTorch loop {b:,.0f} samples/s, ratio {o / b:.2f}"
        )
    torch.set_num_threads(threads)


def run_bench(args: argparse.Namespace) -> int:
    from vaedesk.cli import CommandError, _load_model
    from vaedesk.core import data

    if args.startup_only:
        from vaedesk.ui.bench import bench_startup

        bench_startup(args, runs=3 if args.quick else 7)
        return 0
    t = time.perf_counter()
    model = _load_model(args.weights)
    print(f"model: {model.path} ({model.config.arch}); loaded in {time.perf_counter() - t:.2f} s")
    repeat = 200 if args.quick else 2000
    bench_decode(model, repeat)
    try:
        test_images, _ = data.load("test", args.data)
    except data.DataError as e:
        raise CommandError(f"the benchmarks need the MNIST test set: {e}") from None
    bench_encode(model, test_images)
    bench_training(model, test_images, batches=10 if args.quick else 40)
    try:
        from vaedesk.ui.bench import run_ui_bench
    except ImportError as e:  # a headless install without Qt still benchmarks the engine
        print(f"window benchmarks skipped: {e}")
        return 0
    run_ui_bench(args, quick=args.quick)
    return 0

"""The engine's benchmarks: decode and encode on the viewer's runtime beside torch, the
test set encoded, the IWAE bound, and training beside a bare PyTorch loop."""

from __future__ import annotations

import time

import numpy as np

from tests.benchmarks.timing import ms, timings


def bench_decode(model, repeat: int) -> None:
    """One decode and one encode on the viewer's runtime, beside torch on the same weights."""
    import torch

    from vaedesk.core.api import Model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    points = rng.normal(size=(repeat + 20, model.config.latent_dim)).astype(np.float32)
    image = rng.random((1, 28, 28), dtype=np.float32)
    on_torch = Model(model.vae)
    print(f"one image, 1 thread, {repeat}x each (the viewer runs on {model.runtime}):")
    for what in ("decode", "encode"):
        medians = {}
        for name, m in ((model.runtime, model), ("torch", on_torch)):
            if what == "decode":
                it = iter(points)
                t = timings(lambda m=m, it=it: m.decode(next(it)), repeat)
            else:
                t = timings(lambda m=m: m.encode(image), repeat)
            medians[name] = float(np.median(t))
            print(f"  {what} on {name:12s} {ms(t)}")
        ratio = medians[model.runtime] / medians["torch"]
        print(f"  {what}: {model.runtime} takes {ratio:.2f}x torch's time")
    torch.set_num_threads(threads)


def bench_encode(model, images: np.ndarray) -> None:
    t = time.perf_counter()
    model.encode(images.astype(np.float32) / 255.0)
    dt = time.perf_counter() - t
    print(
        f"encode {len(images)} test images ({model.runtime}): {dt:.2f} s ({len(images) / dt:,.0f} images/s)"
    )


def bench_iwae(model, images: np.ndarray) -> None:
    """The IWAE bound, k = 64, on the whole test set, beside the bare decodes it needs."""
    import torch

    from vaedesk.core.evaluate import IWAE_CHUNK, iwae_bound, onnx_decoder

    decoder = onnx_decoder(model.vae)
    z = torch.randn(IWAE_CHUNK, model.config.latent_dim)
    samples = 64 * len(images)
    t = time.perf_counter()
    for _ in range(samples // IWAE_CHUNK // 20):  # a twentieth of the decodes, bare
        (decoder or model.vae.decode_logits)(z)
    bare = 20 * (time.perf_counter() - t)
    t = time.perf_counter()
    iwae_bound(model.vae, images, k=64, decoder=decoder)
    took = time.perf_counter() - t
    print(
        f"IWAE k=64 on {len(images):,} images: {took:.1f} s (target 90 s); its {samples:,} decodes "
        f"alone, bare: {bare:.1f} s ({took / bare:.2f}x)"
    )


def bench_training(model, images: np.ndarray, batches: int) -> None:
    """The project's Trainer against a bare PyTorch loop on the same architecture and data."""
    import torch

    from vaedesk.core.model import VAE
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
            loss, _, _ = vae.losses(xb)
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

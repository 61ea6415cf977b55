"""A neighbour-embedding term on the encoder's means, so that digits that look alike land
together on the map: the VAE-SNE idea (Graving & Couzin 2020, "VAE-SNE: a deep
generative model for simultaneous dimensionality reduction and clustering"), in the
contrastive form of t-SNE (Damrich et al. 2023, "From t-SNE to UMAP with contrastive
learning"; Böhm et al. 2023, "Unsupervised visualization of image datasets using
contrastive learning", t-SimCNE).

No labels are used. Each training image is paired with one of its k nearest training
images in pixel space (after a PCA to 50 dimensions, as t-SNE does); the term pulls the
pair's two means together and pushes every other mean in the batch away, with the Cauchy
kernel 1 / (1 + d^2) of t-SNE as similarity. The ELBO alone places a digit wherever its
reconstruction is best served, which packs 4 next to 9 and 3 next to 5; the pixel-space
neighbours of a 4 are mostly 4s (95.0 % of the training set's 900,000 pairs show one
digit, measured with this search).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

PCA_DIMS = 50  # t-SNE's and UMAP's usual reduction before the neighbour search
NEIGHBOURS = 15  # UMAP's default n_neighbors


PCA_BLOCK = 4096  # images converted to floats at a time while the projection is found


@torch.no_grad()
def neighbour_graph(
    x: torch.Tensor,
    k: int = NEIGHBOURS,
    chunk: int = 128,
    should_stop: Callable[[], bool] | None = None,
) -> torch.Tensor | None:
    """Images (N, ...), uint8 0-255 or float intensities, -> (N, k) indices of each image's
    k nearest other images, nearest first, by Euclidean distance after projecting the
    pixels on their first 50 principal components; None if `should_stop` says so between
    two chunks (60,000 images take 20 to 40 s on one core).

    Works a block at a time, so that beside the images it holds only the projected points
    (N, 50) and one chunk's distances with what `topk` allocates for them: measured on
    55,000 images, 295 MB above the images for chunks of 256 rows, 109 MB for 128; the
    whole images as floats (172 MB) and chunks of 2,000 rows took 1.3 GB and more."""
    n = len(x)
    flat = x.reshape(n, -1)
    if n <= k:
        raise ValueError(f"{n} images cannot each have {k} neighbours")
    # One float block, its float64 and centred copies and their product, each reused for
    # every block: new ones per block (12.8 and 25.7 MB), each freed while a small result
    # stayed alive, grew the worker thread's heap by about 10 MB a block (290 MB for 55,000
    # images, measured in the window); the same values come out.
    starts = range(0, n, PCA_BLOCK)
    pixels = torch.empty(min(PCA_BLOCK, n), flat.shape[1])
    centred = torch.empty_like(pixels)

    def floats(start: int) -> torch.Tensor:  # `intensities` of the block, written in place
        stored = flat[start : start + PCA_BLOCK]
        out = pixels[: len(stored)].copy_(stored)
        return out.div_(255.0) if stored.dtype == torch.uint8 else out

    total = torch.zeros(flat.shape[1], dtype=torch.float64)
    wide = torch.empty(len(pixels), flat.shape[1], dtype=torch.float64)  # what sum(dtype=) makes anew
    for s in starts:
        f = floats(s)
        total += wide[: len(f)].copy_(f).sum(dim=0)
    del wide
    mean = (total / n).float()
    # the covariance's leading eigenvectors: (784, 784) rather than an SVD of (N, 784)
    scatter = torch.zeros(flat.shape[1], flat.shape[1], dtype=torch.float64)
    product = torch.empty(flat.shape[1], flat.shape[1])
    for s in starts:
        c = torch.sub(floats(s), mean, out=centred[: min(PCA_BLOCK, n - s)])
        scatter += torch.mm(c.T, c, out=product)
    dims = min(PCA_DIMS, n, flat.shape[1])
    _, vectors = torch.linalg.eigh(scatter)
    top = vectors[:, -dims:].float()
    points = torch.empty(n, dims)
    for s in starts:
        c = torch.sub(floats(s), mean, out=centred[: min(PCA_BLOCK, n - s)])
        torch.mm(c, top, out=points[s : s + len(c)])
    squared = (points**2).sum(dim=1)
    across = points.T.contiguous()  # (dims, N)
    # One (chunk, N) array of distances for every chunk, and the graph written in place:
    # a new 28 MB array per chunk, freed while the small results stayed, grew a worker
    # thread's glibc heap by 14 MB a chunk (6.1 GB for 54,000 images, measured; 330 MB so).
    distances = torch.empty(min(chunk, n), n)
    nearest = torch.empty(min(chunk, n), k)
    graph = torch.empty(n, k, dtype=torch.int64)
    for start in range(0, n, chunk):
        if should_stop is not None and should_stop():
            return None
        block = points[start : start + chunk]
        d = distances[: len(block)]
        # |a|^2 - 2 a.b + |b|^2, in place: no temporaries
        torch.mm(block, across, out=d).mul_(-2).add_(squared[start : start + chunk, None])
        d.add_(squared[None, :])
        d[torch.arange(len(block)), torch.arange(start, start + len(block))] = float("inf")  # not itself
        torch.topk(d, k, largest=False, out=(nearest[: len(block)], graph[start : start + len(block)]))
    return graph


def contrastive_loss(anchors: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """InfoNCE with the Cauchy kernel over a batch of pairs (B, D) each, in nats per pair:
    for each of the 2B points, -log q(its partner) / sum of q(every other point), with
    q = 1 / (1 + squared distance) (t-SimCNE's loss, Böhm et al. 2023, eq. 2)."""
    points = torch.cat([anchors, positives])  # (2B, D)
    b = len(anchors)
    squared = (points[:, None] - points[None]).pow(2).sum(dim=-1)  # (2B, 2B); no sqrt to differentiate at 0
    log_q = -torch.log1p(squared)
    log_q = log_q.masked_fill(torch.eye(2 * b, dtype=torch.bool), float("-inf"))  # never itself
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)])
    return (torch.logsumexp(log_q, dim=1) - log_q[torch.arange(2 * b), partner]).mean()

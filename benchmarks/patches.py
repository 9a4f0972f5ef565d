"""FunkNN's spatial transformer with the cubic_conv kernel: the separable block form
(funknn.sampling.cubic_conv_patches, one K×K block of pixels per query) against sampling each of
the p² patch points with its own 16 taps (funknn.sampling.sample). The two inverse-problem
workloads of the prior's FunkNN (MLP, cubic_conv), as ratios measured in one run:

- CT step: render 3 images of 64² at 128² with the autograd graph, back-propagate to the image;
- derivative step: gradients at 8 × 512 coordinates with ``create_graph``, back-propagate a loss
  on them to the image (the double backward of chapter 5).

    .venv/bin/python benchmarks/patches.py [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from funknn.derivatives import gradient
from funknn.models import FunkNN
from funknn.rendering import render
from funknn.sampling import sample


def pointwise_patches(model: FunkNN) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The spatial transformer written point by point (what FunkNN did before the block form)."""
    def patches(coords: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        B, C, H, W = image.shape
        p = model.patch_size
        pixel = torch.tensor([2.0 / W, 2.0 / H], dtype=image.dtype)
        where = coords.unsqueeze(2) + model.offsets * (model.scale * pixel)
        values = sample(image, where.reshape(B, -1, 2), "cubic_conv", validate=False, boundary=model.boundary)
        return values.reshape(B, coords.shape[1], p, p, C).permute(0, 1, 4, 2, 3)
    return patches


def best_time(job: Callable[[], object], repeats: int) -> float:
    job()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        job()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--size", type=int, default=64, help="low-resolution side d (rendered at 2d)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = FunkNN(1, network="mlp", kernel="cubic_conv")
    d = args.size
    ct_image = torch.rand(3, 1, d, d, requires_grad=True)
    der_image = torch.rand(8, 1, d, d, requires_grad=True)
    coords = torch.rand(8, 512, 2) * 2 - 1

    def ct_step() -> object:
        u = render(model, ct_image, 2 * d, chunk=1 << 16, grad=True)
        return torch.autograd.grad(u.pow(2).sum(), ct_image)

    def derivative_step() -> object:
        g = gradient(model, der_image, coords, chunk=512, create_graph=True)
        return torch.autograd.grad(g.pow(2).sum(), der_image)

    ratios = {}
    for name, job in (("CT step (3 × 64² rendered at 128²)", ct_step),
                      ("derivative step (8 × 512 gradients, double backward)", derivative_step)):
        block = best_time(job, args.repeats)
        model.patches = pointwise_patches(model)            # type: ignore[method-assign]
        point = best_time(job, args.repeats)
        del model.patches
        ratios[name] = point / block
        print(f"{name}: block {block * 1e3:.0f} ms, pointwise {point * 1e3:.0f} ms, "
              f"{point / block:.2f}x faster")
    return ratios


if __name__ == "__main__":
    main()

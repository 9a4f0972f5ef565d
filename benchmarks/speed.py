"""FunkNN versus LIIF: seconds for the same super-resolution job, measured in one run.

The paper (Section 5.1): on one A100, 100 images of 128×128 take 0.7 s with FunkNN, 1.97 s with
LIIF-EDSR and 0.81 s with LIIF pruned to 140K parameters — FunkNN/LIIF = 0.36. This script times
the same job for the three architectures on this machine (weights do not change the time:
fresh models of the shipped sizes) and prints the ratios. Default job: 8 images of 3×32×32
rendered ×2 and ×4 (about a minute on two CPU cores); ``--size 128 --images 100 --scales 2``
is the paper's job.

FunkNN renders ×4 and ×8 directly here (one pass over the output grid, as LIIF does); the factor
model's hierarchical rendering is timed as a separate line, since it also evaluates the
intermediate grids. The FLOPs of the job per image (convolutions and matrix products, counted by
``torch.utils.flop_counter``) explain the times on a machine whose speed is its arithmetic.

    .venv/bin/python benchmarks/speed.py [--images 8] [--size 32] [--scales 2 4] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

import funknn


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=32, help="side of the low-resolution input")
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=4096, help="queries evaluated at once")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    return parser.parse_args(argv)


def _render_job(args: argparse.Namespace, model: torch.nn.Module, images: torch.Tensor, hierarchical: bool,
                device: torch.device) -> float:
    """Seconds to render every image at every scale."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.inference_mode():
        for s in args.scales:
            for i in range(0, args.images, 16):
                funknn.render(model, images[i:i + 16], s * args.size, chunk=args.chunk,
                              hierarchical=hierarchical)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _flops(args: argparse.Namespace, model: torch.nn.Module, image: torch.Tensor, hierarchical: bool) -> int:
    """FLOPs of the job for one image."""
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        for s in args.scales:
            funknn.render(model, image, s * args.size, chunk=args.chunk, hierarchical=hierarchical)
    return counter.get_total_flops()


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print the table; return the seconds of each model's job (benchmarks/gpu_check.py reads them)."""
    args = _arguments(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(0)
    images = torch.rand(args.images, 3, args.size, args.size, device=device)
    models = {
        "FunkNN": (funknn.build("funknn").to(device).eval(), False),
        "FunkNN (hierarchical)": (funknn.build("funknn").to(device).eval(), True),
        "LIIF-EDSR": (funknn.build("liif-edsr").to(device).eval(), False),
        "LIIF-EDSR (140K)": (funknn.build("liif-140k").to(device).eval(), False),
    }
    for model, hierarchical in models.values():  # warm-up at the smallest scale
        with torch.inference_mode():
            funknn.render(model, images[:2], 2 * args.size, chunk=args.chunk, hierarchical=hierarchical)
    seconds = {name: float("inf") for name in models}
    for _ in range(args.repeats):  # round robin, best of the repeats: the machine may be shared
        for name, (model, hierarchical) in models.items():
            seconds[name] = min(seconds[name], _render_job(args, model, images, hierarchical, device))
    flops = {name: _flops(args, model, images[:1], h) for name, (model, h) in models.items()}

    queries = args.images * sum((s * args.size) ** 2 for s in args.scales)
    print(f"torch {torch.__version__} on {device} ({torch.get_num_threads()} threads); job: "
          f"{args.images} images of 3×{args.size}² at ×{', ×'.join(map(str, args.scales))} "
          f"({queries:,} output pixels), chunk {args.chunk}, best of {args.repeats}")
    print(f"{'model':<24}{'parameters':>12}{'GFLOP/image':>13}{'seconds':>10}{'s / image':>11}"
          f"{'vs LIIF-EDSR':>14}")
    for name, (model, _) in models.items():
        t = seconds[name]
        print(f"{name:<24}{funknn.count_parameters(model):>12,}{flops[name] / 1e9:>13.2f}{t:>10.2f}"
              f"{t / args.images:>11.4f}"
              f"{t / seconds['LIIF-EDSR']:>13.2f}×")
    ratio = seconds["FunkNN"] / seconds["LIIF-EDSR"]
    print(f"FunkNN / LIIF-EDSR time ratio: {ratio:.2f} (paper, A100: 0.7 / 1.97 = 0.36; target ≤ 0.36)")
    print(f"FunkNN / LIIF-EDSR (140K) time ratio: {seconds['FunkNN'] / seconds['LIIF-EDSR (140K)']:.2f} "
          f"(paper: 0.7 / 0.81 = 0.86)")
    return seconds


if __name__ == "__main__":
    main()

"""Rendering throughput of FunkNN variants, as a fraction of the float32 matmul FLOP rate.

Job: 4 images of 3×64×64 rendered at 128×128 (65,536 queries), inference mode. For each of
CNN+bicubic, CNN+cubic_conv and MLP+bicubic it prints queries per second, the network's FLOPs
per query (convolutions and linear layers at the architecture's sizes), the achieved
FLOP rate, and that rate as a fraction of a 2048×2048 float32 matrix multiply measured in the
same run. Targets (issue 2): CNN+bicubic ≥ 0.5 of the matmul rate; cubic_conv ≤ 1.5× bicubic.

    .venv/bin/python benchmarks/render.py [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch

import funknn


def matmul_rate(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def flops_per_query(model: funknn.FunkNN) -> float:
    """The network's multiply-adds ×2 per query, for the architecture's output sizes.

    A 2×2 'same' convolution is implemented with padding 1 and a crop, which computes one extra
    row and column that are thrown away; those FLOPs are not counted (the count is what the
    architecture needs, so the rate below is honest about wasted work).
    """
    counted = []

    def conv_hook(module, inputs, output):
        x = inputs[0]
        cout, cin, kh, kw = module.weight.shape
        counted.append(2 * cin * kh * kw * cout * x.shape[-2] * x.shape[-1] * x.shape[0])

    def linear_hook(module, inputs, output):
        counted.append(2 * module.in_features * module.out_features * inputs[0].shape[0])

    hooks = []
    for m in model.net.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    n = 256
    with torch.inference_mode():
        model(torch.rand(1, n, 2) * 2 - 1, torch.rand(1, model.in_channels, 64, 64))
    for h in hooks:
        h.remove()
    return sum(counted) / n


def best_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--chunk", type=int, default=16384)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    image = torch.rand(4, 3, 64, 64)
    queries = 4 * 128 * 128
    mm = matmul_rate()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"float32 matmul: {mm / 1e9:.1f} GFLOP/s")
    print(f"job: 4×3×64×64 → 128×128 ({queries:,} queries), chunk {args.chunk}")
    print(f"{'variant':<18}{'queries/s':>12}{'MFLOP/query':>13}{'GFLOP/s':>10}{'of matmul':>11}"
          f"{'time ratio':>12}")
    seconds = {}
    for network, kernel in (("cnn", "bicubic"), ("cnn", "cubic_conv"), ("mlp", "bicubic")):
        model = funknn.FunkNN(3, network=network, kernel=kernel).eval()
        flops = flops_per_query(model)

        def job(model=model):
            with torch.inference_mode():
                funknn.render(model, image, (128, 128), chunk=args.chunk)

        t = best_time(job, args.repeats)
        name = f"{network.upper()}+{kernel}"
        seconds[name] = t
        rate = queries * flops / t
        ratio = t / seconds["CNN+bicubic"]
        print(f"{name:<18}{queries / t:>12,.0f}{flops / 1e6:>13.2f}{rate / 1e9:>10.1f}{rate / mm:>11.2f}"
              f"{ratio:>11.2f}×")
    print(f"cubic_conv / bicubic time (CNN): {seconds['CNN+cubic_conv'] / seconds['CNN+bicubic']:.2f} "
          "(target ≤ 1.5)")


if __name__ == "__main__":
    main()

"""A training step of the patch CNN with one and with two threads, as a fraction of the float32
matmul rate at the same thread count, and against the authors' training step (issue 25).

The step is issue 15's and 25's: 16 images × 512 random target pixels (low-resolution inputs of
3×32×32), the model's forward pass (sampler and patch CNN), an L1 loss, the backward pass and an
Adam update, on data drawn once (the model's and the optimiser's time, not the data pipeline's).
Its FLOPs are 3 × the network's forward FLOPs, counted analytically as ``benchmarks/render.py``
does. Three steps are timed for each thread count:

* ``FunkNN`` — the library's default path: with one thread the CNN runs in cache-sized blocks;
  with two, the batch is split into one part per thread, each part's blocks on its own thread
  (one intra-op thread each) forward and backward (``FunkNN.training_parts``);
* ``FunkNN, one pass`` (two threads only) — the path before: the batch in one pass, each op split
  across the threads;
* ``authors`` — the authors' training step (their ``funknn_model.py`` and ``train_funknn.py``:
  CNN network, ReLU, bicubic ``grid_sample`` patches cut by ``affine_grid``, Adam, L1), written
  again here from their description (Appendix A.2) and code, as a benchmark-only model.

The machine may be shared, so the measurement is relative and interleaved: each round times, for
one thread and then for two, a 2048×2048 matmul (best of 3) and then each step (best of
``--steps``); each step's fraction is its FLOP rate over the matmul rate of its round and thread
count, and each ratio to the authors' step is taken within the round. It prints the median over
the rounds (and the range), with the number of CPUs and the load average before and after.
Targets (issue 25): ≥ 0.5 of the matmul rate with two threads, ≥ 2× the authors' step.

    .venv/bin/python benchmarks/threads.py [--rounds 5] [--steps 2] [--images 16] [--pixels 512]
    .venv/bin/python benchmarks/threads.py --quick        # a few seconds: smoke test
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

import funknn


class AuthorsFunkNN(nn.Module):
    """The authors' FunkNN as they train it for super-resolution (CNN, ReLU, bicubic kernel), for
    timing only: a 9×9 patch per query cut by a spatial transformer (``affine_grid`` with a
    trainable scale per axis, then ``grid_sample``), eight 2×2 'same' convolutions of 64
    channels with a 2×2 max-pool after the 4th and the 8th and skips around the 2nd, 3rd, 5th,
    6th and 7th, four linear layers (256 → 64 → 64 → 64 → C, ReLU between), plus the patch's
    centre pixel. ``model(coords, image)``: coords (B, N, 2) in [-1/2, 1/2], (B, C, H, W) → (B, N, C).
    """

    def __init__(self, channels: int = 3, patch: int = 9) -> None:
        super().__init__()
        self.patch = patch
        self.convs = nn.ModuleList([nn.Conv2d(channels if i == 0 else 64, 64, 2, padding="same")
                                    for i in range(8)])
        sizes = ((256, 64), (64, 64), (64, 64), (64, channels))
        self.fcs = nn.ModuleList([nn.Linear(a, b) for a, b in sizes])
        self.spread = nn.Parameter(torch.ones(2))

    def crop(self, image: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        b, c, h, _ = image.shape
        n, p = coords.shape[1], self.patch
        theta = torch.zeros(b, n, 2, 3)
        theta[..., 0, 0] = (p - 1) / (h - 1) * self.spread[0]
        theta[..., 1, 1] = (p - 1) / (h - 1) * self.spread[1]
        theta[..., 0, 2] = 2 * coords[..., 1]
        theta[..., 1, 2] = 2 * coords[..., 0]
        grid = F.affine_grid(theta.reshape(b * n, 2, 3), [b * n, c, p, p], align_corners=False)
        patches = F.grid_sample(image, grid.reshape(b, n * p, p, 2), mode="bicubic", align_corners=False,
                                padding_mode="reflection")                      # (b, c, n p, p)
        return patches.permute(0, 2, 3, 1).reshape(b * n, p, p, c).permute(0, 3, 1, 2)

    def forward(self, coords: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        b, n, _ = coords.shape
        x = self.crop(image, coords)
        centre = x[:, :, self.patch // 2, self.patch // 2]
        for i, conv in enumerate(self.convs):
            skip = x
            x = F.relu(conv(x))
            if i % 4 == 3:
                x = F.max_pool2d(x, 2)
            elif i not in (0, len(self.convs) - 1):
                x = x + skip
        x = x.flatten(1)
        for fc in self.fcs[:-1]:
            x = F.relu(fc(x))
        return (self.fcs[-1](x) + centre).reshape(b, n, -1)


def forward_flops(net: nn.Module, run: Callable[[], object]) -> int:
    """FLOPs (2 × multiply-adds) of the convolutions and linear layers of ``net`` in ``run()``;
    a 'same' 2×2 convolution counts the outputs it keeps."""
    counted: list[int] = []

    def conv(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        cout, cin, kh, kw = module.weight.shape
        m, _, h, w = inputs[0].shape
        counted.append(2 * cin * kh * kw * cout * m * h * w)

    def linear(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        counted.append(2 * module.in_features * module.out_features * inputs[0].shape[0])

    hooks = [m.register_forward_hook(conv if isinstance(m, nn.Conv2d) else linear)
             for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        run()
    for h in hooks:
        h.remove()
    return sum(counted)


def make_step(model: nn.Module, coords: torch.Tensor, low: torch.Tensor, target: torch.Tensor
              ) -> Callable[[], float]:
    """One training step (zero_grad, forward, L1, backward, Adam) on fixed data."""
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> float:
        optimiser.zero_grad(set_to_none=True)
        loss = F.l1_loss(model(coords, low), target)
        loss.backward()
        optimiser.step()
        return float(loss.detach())

    return step


def gemm_rate(n: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` FLOP rate of an n×n float32 matrix product (two products per repeat)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        a @ b
        best = min(best, (time.perf_counter() - start) / 2)
    return 2 * n ** 3 / best


def seconds(step: Callable[[], float]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def best_seconds(step: Callable[[], float], steps: int) -> float:
    return min(seconds(step) for _ in range(steps))


def steps_to_time(args: argparse.Namespace) -> dict[str, tuple[Callable[[], float], float, tuple[int, ...]]]:
    """name → (step, FLOPs of one step, thread counts it is timed at)."""
    g = torch.Generator().manual_seed(0)
    low = torch.rand(args.images, 3, args.low_size, args.low_size, generator=g)
    unit = torch.rand(args.images, args.pixels, 2, generator=g)
    target = torch.rand(args.images, args.pixels, 3, generator=g)
    torch.manual_seed(0)
    ours, plain, authors = funknn.FunkNN(3, network="cnn"), funknn.FunkNN(3, network="cnn"), AuthorsFunkNN(3)
    plain.training_parts = 1
    ours_flops = 3 * forward_flops(ours.net, lambda: ours(unit * 2 - 1, low))
    authors_flops = 3 * forward_flops(authors, lambda: authors(unit - 0.5, low))
    return {"FunkNN": (make_step(ours, unit * 2 - 1, low, target), ours_flops, (1, 2)),
            "FunkNN, one pass": (make_step(plain, unit * 2 - 1, low, target), ours_flops, (2,)),
            "authors": (make_step(authors, unit - 0.5, low, target), authors_flops, (1, 2))}


def measure(args: argparse.Namespace, jobs: dict[str, tuple[Callable[[], float], float, tuple[int, ...]]]
            ) -> dict[str, list[float]]:
    """Per round: ``"<name> @ <t>"`` → seconds of one step, ``"matmul @ <t>"`` → FLOP rate."""
    threads = torch.get_num_threads()
    samples: dict[str, list[float]] = {}
    try:
        for t in (1, 2):                                    # warm-up
            torch.set_num_threads(t)
            for step, _, counts in jobs.values():
                if t in counts:
                    step()
        for _ in range(args.rounds):
            for t in (1, 2):
                torch.set_num_threads(t)
                samples.setdefault(f"matmul @ {t}", []).append(gemm_rate(args.matmul_size))
                for name, (step, _, counts) in jobs.items():
                    if t in counts:
                        samples.setdefault(f"{name} @ {t}", []).append(best_seconds(step, args.steps))
    finally:
        torch.set_num_threads(threads)
    return samples


def _median_range(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def report(args: argparse.Namespace, samples: dict[str, list[float]], flops: dict[str, float],
           load: tuple[tuple[float, ...], tuple[float, ...]]) -> dict[str, float]:
    """Print the medians over the rounds; returns them (fractions and ratios)."""
    print(f"torch {torch.__version__}; {os.cpu_count()} CPUs; load average (1, 5, 15 min) "
          f"before {', '.join(f'{v:.2f}' for v in load[0])}, after {', '.join(f'{v:.2f}' for v in load[1])}")
    print(f"step: {args.images} images × {args.pixels} px, inputs 3×{args.low_size}²; {args.rounds} "
          f"interleaved rounds, best of {args.steps} steps each; median (range) over the rounds")
    print(f"{'step':<28}{'threads':>8}{'s/step':>9}{'GFLOP/s':>9}{'  of matmul':<20}{'  authors / it':<20}")
    results: dict[str, float] = {}
    for key, seconds in samples.items():
        name, t = key.rsplit(" @ ", 1)
        if name == "matmul":
            continue
        mm = samples[f"matmul @ {t}"]
        fraction = [flops[name] / s / m for s, m in zip(seconds, mm)]
        speedup = [a / s for a, s in zip(samples[f"authors @ {t}"], seconds)]
        results[f"{name} @ {t} of matmul"] = statistics.median(fraction)
        results[f"{name} @ {t} vs authors"] = statistics.median(speedup)
        print(f"{name:<28}{t:>8}{statistics.median(seconds):>9.3f}"
              f"{flops[name] / statistics.median(seconds) / 1e9:>9.1f}  {_median_range(fraction):<18}"
              f"  {_median_range(speedup)}×")
    for t in (1, 2):
        rates = [r / 1e9 for r in samples[f"matmul @ {t}"]]
        print(f"float32 matmul {args.matmul_size}², {t} thread(s): {_median_range(rates)} GFLOP/s")
    print(f"targets (issue 25): FunkNN with 2 threads ≥ 0.5 of matmul (measured "
          f"{results['FunkNN @ 2 of matmul']:.2f}); ≥ 2× the authors' step (measured "
          f"{results['FunkNN @ 2 vs authors']:.2f}× with 2 threads, {results['FunkNN @ 1 vs authors']:.2f}× "
          "with 1)")
    return results


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    options = (("images", 16, 2, "images per step"), ("pixels", 512, 16, "target pixels per image"),
               ("low-size", 32, 12, "side of the low-resolution inputs"),
               ("rounds", 5, 1, "interleaved rounds (the median is printed)"),
               ("steps", 2, 1, "steps per round and configuration (best kept)"),
               ("matmul-size", 2048, 128, "side of the reference matmul"))
    for name, default, _, text in options:
        parser.add_argument(f"--{name}", type=int, default=default, help=text)
    parser.add_argument("--quick", action="store_true", help="tiny job for smoke tests (seconds; the third "
                        "column of the options above)")
    args = parser.parse_args(argv)
    for name, _, quick, _ in options if args.quick else ():
        setattr(args, name.replace("-", "_"), quick)
    return args


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Measure and print; returns the medians (``"<step> @ <threads> of matmul"`` and
    ``"<step> @ <threads> vs authors"``)."""
    args = _arguments(argv)
    # the authors' padding="same" with a 2×2 kernel pads a copy of the input, as in their code
    warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")
    before = os.getloadavg()
    jobs = steps_to_time(args)
    samples = measure(args, jobs)
    flops = {name: f for name, (_, f, _) in jobs.items()}
    return report(args, samples, flops, (before, os.getloadavg()))


if __name__ == "__main__":
    main()

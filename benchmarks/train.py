"""Training throughput of the CNN FunkNN, as a fraction of the float32 matmul FLOP rate.

One training step is what :func:`funknn.training.optimise` does at the paper's batch (64 images
× 512 random target pixels, Adam, L1 loss): the model's forward pass (sampler and patch CNN),
the backward pass and the Adam update. The step's data (low-resolution images of 3×32×32, the
middle of the factor mode's range at size 64, and random coordinates and targets) is drawn once
before timing, so the figures are the model's and the optimiser's, not the data pipeline's.

It prints queries (target pixels) per second, steps per second and the achieved FLOP rate of a
step — forward + backward ≈ 3 × the network's forward FLOPs, counted analytically as
``benchmarks/render.py`` does (the sampler's few FLOPs are not counted) — as a fraction of a
2048×2048 float32 matrix multiply measured in the same run. The same figure is printed for a
16 images × 512 pixels step (issue 15's figure). Target (issue 15): ≥ 0.6 of the matmul rate.

    .venv/bin/python benchmarks/train.py [--images 64] [--pixels 512] [--steps 5] [--threads N]
    .venv/bin/python benchmarks/train.py --quick          # a few seconds: smoke test
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import torch

import funknn
from funknn.training import optimise


def _render_module() -> ModuleType:
    """``benchmarks/render.py``: the matmul rate and the FLOP count live there, once."""
    name = "_funknn_benchmark_render"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("render.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


class StepJob(NamedTuple):
    """One training step's fixed data: ``images`` low-resolution images, ``pixels`` targets each."""

    images: int
    pixels: int
    low_size: int = 32
    channels: int = 3

    @property
    def queries(self) -> int:
        return self.images * self.pixels


class Throughput(NamedTuple):
    job: StepJob
    seconds: float            # best time of one step
    flops: float              # FLOPs of one step (3 × forward)

    @property
    def queries_per_second(self) -> float:
        return self.job.queries / self.seconds

    @property
    def steps_per_second(self) -> float:
        return 1.0 / self.seconds

    @property
    def rate(self) -> float:
        return self.flops / self.seconds


def make_step(model: funknn.FunkNN, job: StepJob, generator: torch.Generator):
    """A closure running one training step (forward, backward, Adam) on data drawn once."""
    device = next(model.parameters()).device
    low = torch.rand(job.images, job.channels, job.low_size, job.low_size, generator=generator).to(device)
    coords = (torch.rand(job.images, job.pixels, 2, generator=generator) * 2 - 1).to(device)
    target = torch.rand(job.images, job.pixels, job.channels, generator=generator).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> float:
        return optimise(optimiser, torch.nn.functional.l1_loss(model(coords, low), target))

    return step


def time_steps(jobs: dict[str, StepJob], steps: int, repeats: int, generator: torch.Generator,
               matmul_size: int = 2048, training_block: int | None = -1
               ) -> tuple[dict[str, Throughput], float]:
    """Best time per step of each job (round robin over ``repeats``, ``steps`` steps each) and
    the best matmul FLOP rate measured between them. ``training_block``: the model's
    (-1: its default; ``None``: one pass over the batch)."""
    render = _render_module()
    model = funknn.FunkNN(3, network="cnn")
    if training_block != -1:
        model.training_block = training_block
    flops = 3 * render.flops_per_query(model)
    runners = {name: make_step(model, job, generator) for name, job in jobs.items()}
    for run in runners.values():   # warm-up
        run()
    mm = render.matmul_rate(matmul_size)
    best = {name: float("inf") for name in jobs}
    for _ in range(repeats):
        mm = max(mm, render.matmul_rate(matmul_size, repeats=1))
        for name, run in runners.items():
            start = time.perf_counter()
            for _ in range(steps):
                run()
            best[name] = min(best[name], (time.perf_counter() - start) / steps)
    return {name: Throughput(job, best[name], flops * job.queries) for name, job in jobs.items()}, mm


def report(results: dict[str, Throughput], mm: float) -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; float32 matmul "
          f"(best over the run): {mm / 1e9:.1f} GFLOP/s")
    print(f"{'step':<22}{'queries/s':>12}{'steps/s':>10}{'GFLOP/s':>10}{'of matmul':>11}")
    for name, r in results.items():
        print(f"{name:<22}{r.queries_per_second:>12,.0f}{r.steps_per_second:>10.2f}{r.rate / 1e9:>10.1f}"
              f"{r.rate / mm:>11.2f}")


def single_process(args: argparse.Namespace) -> dict[str, float]:
    """Throughput of one process: the requested batch and issue 15's 16 × 512 step."""
    jobs = {f"{args.images} × {args.pixels} px": StepJob(args.images, args.pixels, args.low_size)}
    if (args.images, args.pixels) != (16, 512) and not args.quick:
        jobs["16 × 512 px"] = StepJob(16, 512, args.low_size)
    block = None if args.training_block == 0 else args.training_block
    results, mm = time_steps(jobs, args.steps, args.repeats, torch.Generator().manual_seed(0),
                             args.matmul_size, block)
    report(results, mm)
    return {name: r.rate / mm for name, r in results.items()}


# Scaling of distributed training (issue 15: 2 torchrun processes with one thread each against
# one process with 2 threads) belongs here as its own function, e.g. ``scaling(args)`` selected
# by a ``--scaling`` flag in ``main``; it is not implemented yet.


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64, help="images per step (the paper: 64)")
    parser.add_argument("--pixels", type=int, default=512, help="target pixels per image (the paper: 512)")
    parser.add_argument("--low-size", type=int, default=32, help="side of the low-resolution inputs")
    parser.add_argument("--steps", type=int, default=5, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=3, help="round-robin repeats (best is kept)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--matmul-size", type=int, default=2048, help="side of the reference matmul")
    parser.add_argument("--training-block", type=int, default=-1,
                        help="queries per block of the CNN's passes (-1: the model's default; 0: one pass)")
    parser.add_argument("--quick", action="store_true", help="tiny job for smoke tests (seconds)")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.pixels, args.low_size = 2, 16, 8
        args.steps, args.repeats, args.matmul_size = 1, 1, 256
    return args


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print the throughput figures; returns each step's fraction of the matmul rate."""
    args = _arguments(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return single_process(args)


if __name__ == "__main__":
    main()

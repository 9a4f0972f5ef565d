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
    .venv/bin/python benchmarks/train.py --scaling        # + 2 torchrun processes against 1

``--scaling`` then measures the library's data-parallel loop (``funknn.training.run_adam`` under
torchrun, Gloo) on the same global batch in three configurations, each in a fresh process: one
process with one thread, one process with two threads, and two processes with one thread each;
it prints the two-process throughput against the two-thread process and against the ideal (twice
one thread). Target (issue 15): ≥ 0.8 of ideal.
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


def worker(args: argparse.Namespace) -> None:
    """One configuration of the scaling measurement (run in one process, or by torchrun): the
    library's data-parallel loop (:func:`funknn.training.run_adam`: each rank computes its part of
    the global batch, gradients averaged by one all-reduce) on fixed data; rank 0 prints the mean
    seconds per step after one warm-up step as ``RESULT <json>``."""
    import json

    from funknn import distributed
    from funknn.training import TrainConfig, run_adam

    distributed.setup(torch.device("cpu"))
    parallel = distributed.current()
    job = StepJob(parallel.part_size(args.images, "images"), args.pixels, args.low_size)
    generator = torch.Generator().manual_seed(parallel.rank)
    low = torch.rand(job.images, job.channels, job.low_size, job.low_size, generator=generator)
    coords = torch.rand(job.images, job.pixels, 2, generator=generator) * 2 - 1
    target = torch.rand(job.images, job.pixels, job.channels, generator=generator)
    torch.manual_seed(0)
    model = funknn.FunkNN(3, network="cnn")
    stamps: list[float] = []

    def step_loss(g: torch.Generator, k: int, step: int) -> torch.Tensor:
        return torch.nn.functional.l1_loss(model(coords, low), target)

    config = TrainConfig(steps=args.steps + 1, batch_images=args.images, batch_pixels=args.pixels)
    run_adam(model, config, step_loss, progress=False,
             callback=lambda step, loss: stamps.append(time.perf_counter()))
    if parallel.main:
        seconds = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
        print("RESULT " + json.dumps({"world_size": parallel.world_size, "seconds_per_step": seconds,
                                      "threads": torch.get_num_threads()}), flush=True)
    distributed.teardown()


def _run_worker(args: argparse.Namespace, processes: int, threads: int) -> float:
    """Seconds per step of one configuration, measured by a fresh process (or torchrun job)."""
    import json
    import os
    import subprocess

    options = ["--worker", "--images", str(args.images), "--pixels", str(args.pixels),
               "--low-size", str(args.low_size), "--steps", str(args.steps)]
    launcher = [sys.executable] if processes == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([*launcher, __file__, *options], env=env, capture_output=True, text=True,
                         check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"the {processes}-process run failed:\n{out.stdout}\n{out.stderr}")
    return float(json.loads(lines[0][len("RESULT "):])["seconds_per_step"])


def scaling(args: argparse.Namespace) -> dict[str, float]:
    """Data-parallel scaling on this machine: 2 torchrun processes (Gloo, one thread each)
    against one process with 2 threads and one process with 1 thread, the same global batch."""
    queries = args.images * args.pixels
    configs = {"1 process × 1 thread": (1, 1), "1 process × 2 threads": (1, 2),
               "2 processes × 1 thread (torchrun, Gloo)": (2, 1)}
    seconds = {name: _run_worker(args, *config) for name, config in configs.items()}
    print(f"data-parallel scaling: global batch {args.images} images × {args.pixels} px, "
          f"{args.steps} timed steps")
    print(f"{'configuration':<42}{'s/step':>9}{'queries/s':>12}")
    for name, s in seconds.items():
        print(f"{name:<42}{s:>9.3f}{queries / s:>12,.0f}")
    one, threads, two = (seconds[name] for name in configs)
    against_threads = threads / two
    against_ideal = one / (2 * two)
    print(f"2 processes against 1 process with 2 threads: {against_threads:.2f}; "
          f"against ideal (2 × one thread): {against_ideal:.2f}")
    return {"against_two_threads": against_threads, "against_ideal": against_ideal}


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
    parser.add_argument("--scaling", action="store_true",
                        help="also measure 2 torchrun processes (1 thread each) against 1 process with "
                             "2 threads (global batch --images × --pixels; default here 16 × 512)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.pixels, args.low_size = 2, 16, 8
        args.steps, args.repeats, args.matmul_size = 1, 1, 256
    return args


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print the throughput figures; returns each step's fraction of the matmul rate."""
    args = _arguments(argv)
    if args.worker:
        worker(args)
        return {}
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    fractions = single_process(args)
    if args.scaling:
        if not args.quick and "--images" not in (argv if argv is not None else sys.argv):
            args.images = 16
        fractions.update(scaling(args))
    return fractions


if __name__ == "__main__":
    main()

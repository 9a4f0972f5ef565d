"""Choose λ₂, the TV weight of the derivative problems (chapter 5, equation 4), on validation
phantoms — never on the test images — for the FunkNN prior, for the Poisson + TV baseline and,
with --gasp, for the continuous GAN prior (GASP, latent space only), all on the same relative
scale (funknn.inverse.SolverConfig(scale="relative")).

The measurements are honest: the ground truth is each phantom rasterised at n×n (independent of
the prior), the data the gradients of its cubic-convolution interpolant
(funknn.physics.measure_gradients), dense or at the 20% largest |∇u|. Prints the mean SI-SNR per
weight and the best weight per method and problem.

    .venv/bin/python benchmarks/derivative_weights.py [--images 8] [--n 128] [--steps 400]
        [--finetune-steps 100] [--weights 0 0.001 0.01 0.1 0.3 1] [--checkpoint-dir DIR]
        [--gasp shipped|FILE] [--methods funknn poisson gasp]

The defaults are chapter 5's quick profile (the images of one weight are solved as one batch).
"""

from __future__ import annotations

import argparse
import time

import torch

import funknn
from funknn.data import ellipse_set
from funknn.generative import ContinuousGenerator, load_prior
from funknn.inverse import DerivativeProblem, SolverConfig, poisson_tv, solve
from funknn.metrics import si_snr
from funknn.models import GASP
from funknn.physics import grid_locations, largest_gradients, location_mask, measure_gradients, take_locations


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--n", type=int, default=128, help="reconstruction resolution")
    parser.add_argument("--steps", type=int, default=400, help="latent steps of the prior")
    parser.add_argument("--finetune-steps", type=int, default=100)
    parser.add_argument("--lr", type=float, default=3e-2)
    parser.add_argument("--finetune-lr", type=float, default=1e-4)
    parser.add_argument("--batch-points", type=int, default=1024)
    parser.add_argument("--baseline-steps", type=int, default=1500)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1e-3, 1e-2, 1e-1, 0.3, 1.0])
    parser.add_argument("--problems", nargs="+", default=["sparse"], choices=("dense", "sparse"))
    parser.add_argument("--checkpoint-dir", default=None, help="prior folder (default: the shipped prior)")
    parser.add_argument("--gasp", default=None,
                        help="also sweep the GASP prior: 'shipped' (ellipses64_gasp) or a checkpoint file")
    parser.add_argument("--methods", nargs="+", default=["funknn", "poisson", "gasp"],
                        choices=("funknn", "poisson", "gasp"),
                        help="which methods to sweep (gasp only with --gasp)")
    return parser.parse_args(argv)


def _load_gasp(spec: str | None) -> GASP | None:
    if spec is None:
        return None
    gasp = funknn.load(funknn.pretrained_path("ellipses64_gasp") if spec == "shipped" else spec)
    if not isinstance(gasp, GASP):
        raise ValueError(f"--gasp {spec!r} holds a {type(gasp).__name__}, not a GASP")
    return gasp.eval()


def _one_weight(args: argparse.Namespace, w: float, problem: DerivativeProblem, mask: torch.Tensor,
                measured: torch.Tensor, truth: torch.Tensor, prior: ContinuousGenerator, gasp: GASP | None
                ) -> dict[str, list[float]]:
    """SI-SNR per validation image of each selected method at TV weight ``w``."""
    out: dict[str, list[float]] = {}
    record = max(1, args.steps)
    if "funknn" in args.methods:
        config = SolverConfig(steps=args.steps, lr=args.lr, finetune_steps=args.finetune_steps,
                              finetune_lr=args.finetune_lr, tv_weight=w, record_every=record)
        result = solve(prior, problem, config, progress=False)
        out["FunkNN prior"] = si_snr(result["image"], truth).tolist()
        if args.finetune_steps:
            out["FunkNN prior, latent only"] = si_snr(result["latent_image"], truth).tolist()
    if gasp is not None and "gasp" in args.methods:
        latent = SolverConfig(steps=args.steps, lr=args.lr, tv_weight=w, record_every=record)
        out["GASP prior"] = si_snr(solve(gasp, problem, latent, progress=False)["image"], truth).tolist()
    if "poisson" in args.methods:
        pixels = poisson_tv(measured, mask, args.n, tv_weight=w, steps=args.baseline_steps, lr=2e-2)
        out["Poisson + TV"] = si_snr(pixels, truth).tolist()
    return out


def main(argv: list[str] | None = None) -> dict:
    args = _arguments(argv)
    torch.manual_seed(0)
    prior = load_prior(args.checkpoint_dir)
    gasp = _load_gasp(args.gasp)
    n = args.n
    truth = ellipse_set("validation", args.images).images(n)
    coords = grid_locations(n, args.images)
    measured = measure_gradients(truth, coords)
    keep = {"dense": torch.arange(n * n).expand(args.images, -1), "sparse": largest_gradients(measured)}
    scores: dict[tuple[str, str, float], list[float]] = {}
    start = time.perf_counter()
    for kind in args.problems:
        idx = keep[kind]
        problem = DerivativeProblem(*take_locations(idx, coords, measured), n, args.batch_points)
        for w in args.weights:
            for method, values in _one_weight(args, w, problem, location_mask(idx, n * n), measured, truth,
                                              prior, gasp).items():
                scores[kind, method, w] = values
    print(f"{args.images} validation phantoms at {n}², prior at {prior.low_size}², "
          f"{args.steps} latent steps, {time.perf_counter() - start:.0f} s")
    print(f"{'problem':<8}{'method':<27}" + "".join(f"{'λ₂=' + format(w, 'g'):>11}" for w in args.weights))
    best = {}
    for kind in args.problems:
        for method in sorted({m for (k, m, _) in scores if k == kind}):
            means = [sum(scores[kind, method, w]) / len(scores[kind, method, w]) for w in args.weights]
            print(f"{kind:<8}{method:<27}" + "".join(f"{m:>11.2f}" for m in means))
            best[kind, method] = args.weights[max(range(len(means)), key=means.__getitem__)]
    for (kind, method), w in best.items():
        print(f"best λ₂ for {kind} / {method}: {w:g}")
    return {"scores": scores, "best": best}


if __name__ == "__main__":
    main()

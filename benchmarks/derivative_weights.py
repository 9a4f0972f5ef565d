"""Choose λ₂, the TV weight of the derivative problems (chapter 5, equation 4), on validation
phantoms — never on the test images — for the FunkNN prior and for the Poisson + TV baseline
alike, on the same relative scale (funknn.inverse.SolverConfig(scale="relative")).

The measurements are honest: the ground truth is each phantom rasterised at n×n (independent of
the prior), the data the gradients of its cubic-convolution interpolant
(funknn.physics.measure_gradients), dense or at the 20% largest |∇u|. Prints the mean SI-SNR per
weight and the best weight per method and problem.

    .venv/bin/python benchmarks/derivative_weights.py [--images 4] [--n 128] [--steps 400]
        [--weights 0 0.001 0.01 0.1] [--checkpoint-dir DIR]
"""

from __future__ import annotations

import argparse
import time

import torch

from funknn.data import ellipse_set
from funknn.generative import load_prior
from funknn.inverse import DerivativeProblem, SolverConfig, poisson_tv, solve
from funknn.metrics import si_snr
from funknn.physics import grid_locations, largest_gradients, measure_gradients


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--n", type=int, default=128, help="reconstruction resolution")
    parser.add_argument("--steps", type=int, default=400, help="latent steps of the prior")
    parser.add_argument("--finetune-steps", type=int, default=0)
    parser.add_argument("--lr", type=float, default=3e-2)
    parser.add_argument("--batch-points", type=int, default=1024)
    parser.add_argument("--baseline-steps", type=int, default=1500)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1e-3, 1e-2, 1e-1])
    parser.add_argument("--problems", nargs="+", default=["sparse"], choices=("dense", "sparse"))
    parser.add_argument("--checkpoint-dir", default=None, help="prior folder (default: the shipped prior)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = _arguments(argv)
    torch.manual_seed(0)
    prior = load_prior(args.checkpoint_dir)
    n = args.n
    truth = ellipse_set("validation", args.images).images(n)
    coords = grid_locations(n, 1)
    scores: dict[tuple[str, str, float], list[float]] = {}
    start = time.perf_counter()
    for i in range(args.images):
        image = truth[i:i + 1]
        measured = measure_gradients(image, coords)
        keep = {"dense": torch.arange(n * n), "sparse": largest_gradients(measured)[0]}
        for kind in args.problems:
            idx = keep[kind]
            mask = torch.zeros(1, n * n, dtype=torch.bool)
            mask[0, idx] = True
            problem = DerivativeProblem(coords[:, idx], measured[:, idx], n, args.batch_points)
            for w in args.weights:
                config = SolverConfig(steps=args.steps, lr=args.lr, finetune_steps=args.finetune_steps,
                                      finetune_lr=1e-4, tv_weight=w, record_every=max(1, args.steps))
                out = solve(prior, problem, config, progress=False)
                scores.setdefault((kind, "FunkNN prior", w), []).append(float(si_snr(out["image"], image)))
                pixels = poisson_tv(measured, mask, n, tv_weight=w, steps=args.baseline_steps, lr=2e-2)
                scores.setdefault((kind, "Poisson + TV", w), []).append(float(si_snr(pixels, image)))
    print(f"{args.images} validation phantoms at {n}², prior at {prior.low_size}², "
          f"{args.steps} latent steps, {time.perf_counter() - start:.0f} s")
    print(f"{'problem':<8}{'method':<15}" + "".join(f"{'λ₂=' + format(w, 'g'):>11}" for w in args.weights))
    best = {}
    for kind in args.problems:
        for method in ("FunkNN prior", "Poisson + TV"):
            means = [sum(scores[kind, method, w]) / len(scores[kind, method, w]) for w in args.weights]
            print(f"{kind:<8}{method:<15}" + "".join(f"{m:>11.2f}" for m in means))
            best[kind, method] = args.weights[max(range(len(means)), key=means.__getitem__)]
    for (kind, method), w in best.items():
        print(f"best λ₂ for {kind} / {method}: {w:g}")
    return {"scores": scores, "best": best}


if __name__ == "__main__":
    main()

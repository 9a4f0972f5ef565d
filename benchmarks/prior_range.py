"""How well can each continuous prior represent a held-out image at all? An oracle ceiling for
the latent-space solvers of chapter 5: Adam on the latent noise alone (w of the FunkNN prior,
z of GASP), from 0, fitting the *intensities* of validation phantoms at the prior's resolution d
(mean squared error; no derivatives, no noise). Chapter 5's derivative problems cannot do better
than this in the latent phase, so a low ceiling says the prior's range misses the phantoms,
while a high ceiling with a low chapter-5 figure says the measurements are what is hard.

    .venv/bin/python benchmarks/prior_range.py [--images 8] [--steps 400] [--lr 3e-2]
        [--checkpoint-dir DIR] [--gasp shipped|FILE]

Prints the mean SI-SNR (dB) per prior, and that of the prior's nearest sample among
--samples random draws (no optimisation) for reference. Validation phantoms only.
"""

from __future__ import annotations

import argparse
import time

import torch

import funknn
from funknn.data import ellipse_set
from funknn.generative import load_prior
from funknn.metrics import si_snr
from funknn.models import GASP


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=3e-2)
    parser.add_argument("--samples", type=int, default=1000, help="random draws for the nearest-sample row")
    parser.add_argument("--checkpoint-dir", default=None, help="prior folder (default: the shipped prior)")
    parser.add_argument("--gasp", default="shipped", help="'shipped' (ellipses64_gasp) or a GASP checkpoint")
    return parser.parse_args(argv)


def _fit(decode, latent_dim: int, truth: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    """Adam on the latents (B, L) from 0 to fit ``truth`` by ``decode(latents)``; the final images."""
    w = torch.zeros(len(truth), latent_dim, requires_grad=True)
    optimiser = torch.optim.Adam([w], lr=lr)
    for _ in range(steps):
        loss = (decode(w) - truth).pow(2).flatten(1).mean(1).sum()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return decode(w)


@torch.no_grad()
def _nearest(sample, truth: torch.Tensor, count: int) -> torch.Tensor:
    draws = torch.cat([sample(min(250, count - k), torch.Generator().manual_seed(k))
                       for k in range(0, count, 250)])
    return draws[torch.cdist(truth.flatten(1), draws.flatten(1)).argmin(1)]


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    args = _arguments(argv)
    torch.manual_seed(0)
    prior = load_prior(args.checkpoint_dir)
    gasp = funknn.load(funknn.pretrained_path("ellipses64_gasp") if args.gasp == "shipped" else args.gasp)
    if not isinstance(gasp, GASP):
        raise ValueError(f"--gasp {args.gasp!r} holds a {type(gasp).__name__}, not a GASP")
    gasp.eval()
    for p in [*prior.parameters(), *gasp.parameters()]:
        p.requires_grad_(False)
    d = prior.low_size
    truth = ellipse_set("validation", args.images).images(d)
    models = {
        "FunkNN prior (decoded image, w)": (prior.low_resolution, prior.latent_dim,
                                             lambda n, g: prior.low_resolution(prior.noise(n, g))),
        "GASP prior (its function at d, z)": (gasp.generate, gasp.latent_dim,
                                               lambda n, g: gasp.sample(n, d, g)),
    }
    results: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    for name, (decode, dim, sample) in models.items():
        fitted = _fit(decode, dim, truth, args.steps, args.lr)
        nearest = _nearest(sample, truth, args.samples)
        results[name] = {"latent fit": float(si_snr(fitted, truth).mean()),
                         "nearest sample": float(si_snr(nearest, truth).mean())}
    print(f"{args.images} validation phantoms at {d}²; latent fit: {args.steps} Adam steps "
          f"(lr {args.lr:g}) on the intensities; nearest of {args.samples} samples; "
          f"{time.perf_counter() - start:.0f} s")
    print(f"{'prior':<36}{'latent fit (dB)':>17}{'nearest sample (dB)':>21}")
    for name, r in results.items():
        print(f"{name:<36}{r['latent fit']:>17.2f}{r['nearest sample']:>21.2f}")
    return results


if __name__ == "__main__":
    main()

"""Quality of a generative prior's discrete parts on phantoms it never saw: the autoencoder's
reconstruction SNR on validation and test phantoms, the flow's NLL beside a diagonal Gaussian's,
k-NN precision / recall of decoded samples against test phantoms, and FunkNN's ×2 rendering of
d×d phantoms against the same phantoms rasterised at 2d (the figures of data/checkpoints/README.md
for the shipped prior).

    .venv/bin/python benchmarks/prior_quality.py [--autoencoder NAME_OR_FILE] [--flow NAME_OR_FILE]
        [--funknn NAME_OR_FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import funknn
from funknn.data import ellipse_phantoms, ellipse_set
from funknn.evaluation import evaluate
from funknn.generative import DiagonalGaussian, encode, sample_quality
from funknn.metrics import snr
from funknn.models.flow import gaussian_nll_bits_per_dim
from funknn.sampling import Interpolator


def _load(spec: str) -> torch.nn.Module:
    return funknn.load(spec) if Path(spec).is_file() else funknn.pretrained(spec)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--autoencoder", default="ellipses40k_autoencoder")
    parser.add_argument("--flow", default="ellipses40k_flow")
    parser.add_argument("--funknn", default="ellipses64_factor")
    parser.add_argument("--images", type=int, default=500, help="validation / test phantoms and samples")
    parser.add_argument("--train", type=int, default=5000, help="training phantoms for the Gaussian")
    args = parser.parse_args(argv)
    ae, flow = _load(args.autoencoder), _load(args.flow)
    size = ae.config["image_size"]
    train = ellipse_phantoms("train", args.train, size)
    val, test = ellipse_phantoms("validation", args.images, size), ellipse_phantoms("test", args.images, size)
    with torch.no_grad():
        for name, x in (("validation", val), ("test", test)):
            s = snr(ae(x), x)
            print(f"autoencoder SNR, {name} ({len(x)}): mean {float(s.mean()):.2f} dB, "
                  f"median {float(s.median()):.2f} dB")
        codes = {name: encode(ae, x) for name, x in (("train", train), ("validation", val), ("test", test))}
        for name, c in codes.items():
            print(f"NLL (bits/dim), {name}: flow {float(flow.nll_bits_per_dim(c)):.3f}, diagonal Gaussian "
                  f"{gaussian_nll_bits_per_dim(codes['train'], c):.3f}")
        g = torch.Generator().manual_seed(11)
        samples = {"flow": ae.decode(flow.sample(args.images, g)).clamp(0, 1),
                   "diagonal Gaussian": ae.decode(DiagonalGaussian(codes["train"]).sample(args.images, g)
                                                  ).clamp(0, 1),
                   "training phantoms": train[:args.images]}
    for name, x in samples.items():
        q = sample_quality(test, x)
        print(f"precision / recall against test phantoms, {name}: {q['precision']:.2f} / {q['recall']:.2f}")
    renderers = {"FunkNN": (_load(args.funknn), True), "bicubic": (Interpolator("bicubic"), False),
                 "cubic_conv": (Interpolator("cubic_conv"), False)}
    for split in ("validation", "test"):
        fine = ellipse_set(split, args.images).images(2 * size)
        row = {name: float(evaluate(m, fine, size, scales=(2,), hierarchical=h)[2]["snr"].mean())
               for name, (m, h) in renderers.items()}
        print(f"x2 ({size}² -> {2 * size}²) SNR, {split} ({args.images}): "
              + ", ".join(f"{k} {v:.2f} dB" for k, v in row.items()))


if __name__ == "__main__":
    main()

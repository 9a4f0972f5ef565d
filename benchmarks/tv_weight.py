"""Choose the weight of the TV baseline of chapter 6 (limited-view CT): mean SNR of TV-regularised
least squares on validation phantoms (funknn.data's "validation" split, never the test images)
for a few weights, beside FBP.

    .venv/bin/python benchmarks/tv_weight.py [--steps 400] [--images 3] [--split validation]
"""

import argparse

import torch

from funknn.data import ellipse_set
from funknn.inverse import tv_least_squares
from funknn.metrics import snr
from funknn.physics import LimitedViewCT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--angles", type=int, default=90)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--weights", type=float, nargs="+", default=[1e-4, 3e-4, 1e-3, 3e-3])
    parser.add_argument("--split", default="validation", help="phantom split (choose on validation only)")
    args = parser.parse_args()
    ct = LimitedViewCT(args.size, args.angles, angle_range=(-70, 70))
    truth = ellipse_set(args.split, args.images).images(args.size)
    y = ct.measure(truth, snr_db=30, generator=torch.Generator().manual_seed(0))
    print(f"FBP: mean SNR {float(snr(ct.fbp(y), truth).mean()):.2f} dB")
    for w in args.weights:
        r = tv_least_squares(ct, y, tv_weight=w, steps=args.steps)
        print(f"TV weight {w:g}: mean SNR {float(snr(r, truth).mean()):.2f} dB")


if __name__ == "__main__":
    main()

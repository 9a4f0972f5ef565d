"""Run by tests/test_distributed.py, under ``torchrun`` (Gloo) or in one process: trains a FunkNN
(in-memory image collection), an autoencoder (streamed through a DataLoader), a flow and a GASP for a
few steps and saves each rank's weights and loss histories to ``OUT/rank<r>.pt``.

    torchrun --standalone --nproc-per-node=2 tests/distributed_worker.py OUT
    python tests/distributed_worker.py OUT --accumulate 2      # the same global batches
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from funknn import data, distributed
from funknn.generative import FitConfig, GASPConfig, train_autoencoder, train_flow, train_gasp
from funknn.models import build
from funknn.training import TrainConfig, train


class Phantoms(torch.utils.data.Dataset):
    """A data set read item by item (as a streamed folder is)."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--accumulate", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    distributed.setup(torch.device("cpu"))
    rank = distributed.current().rank
    phantoms = data.ellipse_phantoms("train", 12, 16)
    results = {}
    torch.manual_seed(0)
    funknn = build("funknn", in_channels=1)
    h = train(funknn, data.ImageCollection(list(phantoms)),
              TrainConfig(size=16, steps=args.steps, batch_images=4, batch_pixels=32, lr=1e-3),
              progress=False, accumulate=args.accumulate)
    results["funknn"] = (funknn.state_dict(), h["loss"])
    torch.manual_seed(0)
    ae = build("autoencoder", image_size=16, latent_dim=8, width=4, max_width=8)
    h = train_autoencoder(ae, Phantoms(phantoms), FitConfig(steps=args.steps, batch=4, perceptual="none"),
                          progress=False, accumulate=args.accumulate, workers=1)
    results["autoencoder"] = (ae.state_dict(), h["loss"])
    torch.manual_seed(0)
    flow = build("realnvp", dim=8, blocks=2, hidden=[16])
    h = train_flow(flow, torch.randn(12, 8) * torch.linspace(0.5, 2, 8), FitConfig(steps=args.steps, batch=4),
                   progress=False, accumulate=args.accumulate)
    results["flow"] = (flow.state_dict(), h["loss"])
    torch.manual_seed(0)
    gasp = build("gasp", image_size=8, latent_dim=4, frequencies=8, hidden=[8], hypernet=[16],
                 disc_channels=[8, 16], neighbours=4, weightnet=4)
    h = train_gasp(gasp, data.ellipse_phantoms("train", 12, 8), GASPConfig(steps=args.steps, batch=4),
                   progress=False, accumulate=args.accumulate)
    results["gasp"] = (gasp.state_dict(), h["d_loss"] + h["g_loss"])
    torch.save(results, Path(args.out) / f"rank{rank}.pt")
    distributed.teardown()


if __name__ == "__main__":
    main()

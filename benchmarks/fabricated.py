"""Fabricated stand-ins for the paper's data sets and prior, in the layouts the paper profile
reads: the one place that makes them, for tests/test_notebooks.py (tiny sizes) and
benchmarks/gpu_check.py (the paper's sizes).

- :func:`celeba_folder`: a folder of RGB PNGs like CelebA-HQ (the paper's split keeps the last
  100 for testing);
- :func:`lsun_folder`: a folder of RGB JPEGs like LSUN-bedroom;
- :func:`lodopab_folder`: LoDoPaB-CT ground-truth files ``ground_truth_<split>_000.hdf5``;
- :func:`prior_folder`: an untrained prior (autoencoder, flow, FunkNN, GASP checkpoints).

Random pixels carry no image content: the figures measure time and that the code runs, never
quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def celeba_folder(folder: Path, count: int = 102, size: int = 24, seed: int = 0) -> Path:
    """``count`` random RGB PNGs of size×size named 00000.png, 00001.png, …"""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    return folder


def lsun_folder(folder: Path, count: int = 3, size: tuple[int, int] = (30, 40), seed: int = 1) -> Path:
    """``count`` random RGB JPEGs of (height, width) ``size``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"b{i}.jpg")
    return folder


def lodopab_folder(folder: Path, counts: dict[str, int] | None = None, size: int = 40, seed: int = 0) -> Path:
    """One ``ground_truth_<split>_000.hdf5`` per split with ``counts[split]`` random images
    (dataset ``data``, float32, size×size; LoDoPaB-CT's own are 362×362)."""
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, k in (counts or {"train": 6, "test": 2}).items():
        with h5py.File(folder / f"ground_truth_{split}_000.hdf5", "w") as h:
            h["data"] = rng.random((k, size, size)).astype(np.float32)
    return folder


def prior_folder(folder: Path, paper: bool = False) -> Path:
    """An untrained prior, ``autoencoder.pt``, ``flow.pt``, ``funknn.pt`` and ``gasp.pt``: tiny,
    or with ``paper=True`` at the paper's sizes (128² grey images, a code of 512, the flow's
    hidden layers 1024 and 512)."""
    import torch

    import funknn
    from funknn.models import GASP, Autoencoder, FunkNN, RealNVP

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if paper:
        autoencoder, flow = Autoencoder(1, image_size=128, latent_dim=512), RealNVP(512)
    else:
        autoencoder = Autoencoder(1, image_size=16, latent_dim=8, width=4, max_width=8)
        flow = RealNVP(8, blocks=1, hidden=(8,))
    funknn.save(autoencoder, folder / "autoencoder.pt")
    funknn.save(flow, folder / "flow.pt")
    funknn.save(FunkNN(1, network="mlp", kernel="cubic_conv"), folder / "funknn.pt")
    gasp = GASP(image_size=128) if paper else GASP(image_size=16, latent_dim=4, frequencies=4, hidden=(8,),
                                                   hypernet=(8,), disc_channels=(4,))
    funknn.save(gasp, folder / "gasp.pt")
    return folder

"""Shipped checkpoints in ``data/checkpoints/`` (produced by committed commands)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

#: name → one line of description. Each file records its training command in its metadata.
PRETRAINED: dict[str, str] = {
    "photos_factor": "FunkNN (CNN, bicubic kernel), factor mode, embedded RGB photos, crops of 64",
    "photos_single": "FunkNN (CNN, bicubic kernel), single mode (x2), embedded RGB photos, crops of 64",
    "photos_continuous": "FunkNN (CNN, bicubic kernel), continuous mode (x2-x4), embedded RGB photos",
    "photos_unet": "U-Net + bicubic skip (ours) for x2 (width 32, depth 4), embedded RGB photos, crops of 64",
    "photos_unet_paper": "U-Net as the paper (no global skip) for x2 (width 32, depth 4), embedded RGB "
                         "photos, crops of 64",
    "photos_liif_edsr": "LIIF with the EDSR-baseline encoder (~1.5M parameters), continuous mode, photos",
    "photos_liif_140k": "LIIF pruned to ~140K parameters, continuous mode, embedded RGB photos",
    "bumps_derivatives": "FunkNN (MLP, sine, cubic_conv kernel with Keys' boundary), single mode, "
                         "Gaussian bumps 64 -> any coordinate, trained on image + gradient + Laplacian",
    "bumps_paper": "FunkNN by the paper's procedure (A.2: CNN, ReLU, raw patch, default init, reflection, "
                   "L1 on intensities) with the cubic_conv kernel, single mode, Gaussian bumps 64 -> 128",
    "ellipses40k_autoencoder": "Autoencoder, 40,000 random-ellipse phantoms 64x64, spatial code 512, MSE "
                               "(test SNR 24.5 dB)",
    "ellipses40k_flow": "RealNVP (5 coupling blocks of one coupling, hidden 256x256) on the codes of "
                        "ellipses40k_autoencoder",
    "ellipses64_factor": "FunkNN (MLP, cubic_conv kernel), factor mode on 10,000 random-ellipse phantoms at "
                         "64x64 (the generator's resolution): the shipped prior's renderer",
    "ellipses64_gasp": "GASP (Dupont et al. 2022: hypernetwork + Fourier-feature MLP, point-cloud "
                       "discriminator), 10,000 random-ellipse phantoms at 64x64: the continuous GAN baseline",
}


def checkpoint_dir() -> Path:
    """Where the shipped checkpoints are: ``$FUNKNN_CHECKPOINTS`` if set; else the package's own
    ``funknn/weights/`` (an installed wheel carries them there); else ``data/checkpoints`` of the
    source tree (a clone, or an editable install)."""
    env = os.environ.get("FUNKNN_CHECKPOINTS")
    if env:
        return Path(env)
    packaged = Path(__file__).resolve().parent / "weights"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / "data" / "checkpoints"


def available_pretrained() -> dict[str, str]:
    """Names of the shipped checkpoints, with one line of description each."""
    return dict(PRETRAINED)


def pretrained_path(name: str, seed: int = 0) -> Path:
    """Path of a shipped checkpoint; clear errors for unknown names and missing files.

    ``seed``: the training seed. Seed 0 is the main checkpoint ``<name>.pt``; the extra seeds of the
    same recipe (``--seed N``, weights only) are ``seeds/<name>_seed<N>.pt`` (see
    :func:`pretrained_seeds`).
    """
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; available: {sorted(PRETRAINED)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    path = checkpoint_dir() / (f"{name}.pt" if seed == 0 else f"seeds/{name}_seed{seed}.pt")
    if not path.is_file():
        raise FileNotFoundError(f"pretrained checkpoint {str(path)!r} is missing; it is produced by "
                                "the command in data/checkpoints/README.md (or set FUNKNN_CHECKPOINTS)")
    return path


def pretrained_seeds(name: str) -> list[int]:
    """The training seeds of ``name`` that are shipped: 0 (the main checkpoint, if present) and every
    ``seeds/<name>_seed<N>.pt``, sorted.

    >>> 0 in pretrained_seeds("photos_single")
    True
    """
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; available: {sorted(PRETRAINED)}")
    folder = checkpoint_dir()
    seeds = [0] if (folder / f"{name}.pt").is_file() else []
    for path in (folder / "seeds").glob(f"{name}_seed*.pt"):
        tail = path.stem[len(name) + len("_seed"):]
        if tail.isdigit():
            seeds.append(int(tail))
    return sorted(set(seeds))


def pretrained(name: str, device: torch.device | str | None = None, seed: int = 0) -> nn.Module:
    """Load a shipped checkpoint by name (see :func:`available_pretrained`) and training seed
    (see :func:`pretrained_seeds`)."""
    from .checkpoints import load

    return load(pretrained_path(name, seed), device=device)

"""Training the discrete parts of the generative prior (Section 3.2): the autoencoder (MSE + a
perceptual-type loss) and the RealNVP flow on its latent codes (maximum likelihood), each on the
engine's loop (:func:`funknn.engine.run_adam`) with the same atomic, resumable checkpoints as
super-resolution. The generator they make up is :class:`funknn.generative.ContinuousGenerator`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from .. import checks, distributed
from ..engine import LazyStream, run_adam
from ..models.autoencoder import Autoencoder, VGGPerceptualLoss, laplacian_pyramid_loss
from ..models.flow import RealNVP

__all__ = ["PERCEPTUAL", "FitConfig", "FlowConfig", "autoencoder_loss", "first", "train_autoencoder",
           "train_flow"]

PERCEPTUAL = ("laplacian", "vgg", "none")


@dataclass
class FitConfig:
    """Settings of an autoencoder or flow training run.

    Attributes:
        steps: optimisation steps; batch: images (or codes) per step; lr: Adam learning rate.
        seed: seed of the batch order. checkpoint_every: steps between checkpoint writes.
        lr_drop_at, lr_drop: from step ``lr_drop_at`` on (0: never) the learning rate is
            ``lr · lr_drop`` (see :class:`funknn.tasks.super_resolution.TrainConfig`).
        perceptual: autoencoder only: ``"laplacian"`` (Laplacian-pyramid L1, the default),
            ``"vgg"`` (needs ``vgg_weights``, a local file) or ``"none"`` (MSE only).
        perceptual_weight: weight of that loss next to the MSE.
        vgg_weights: path of torchvision-format VGG-16 weights for ``perceptual="vgg"``.
    """

    steps: int = 2000
    batch: int = 32
    lr: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 100
    lr_drop_at: int = 0
    lr_drop: float = 0.1
    perceptual: str = "laplacian"
    perceptual_weight: float = 0.1
    vgg_weights: str | None = None

    def __post_init__(self) -> None:
        checks.positive(self, "steps", "batch", "checkpoint_every", "lr")
        checks.choice(self, "perceptual", PERCEPTUAL, what="perceptual loss")
        checks.lr_drop(self.lr_drop_at, self.lr_drop)
        if self.perceptual == "vgg" and not self.vgg_weights:
            raise ValueError("perceptual='vgg' needs vgg_weights: the path of a local VGG-16 weights file")


@dataclass
class FlowConfig(FitConfig):
    """Settings of a flow training run: :class:`FitConfig` with the flow's defaults (larger
    batches of codes; no perceptual loss)."""

    batch: int = 256
    perceptual: str = "none"


def _fit(model: nn.Module, data: torch.Tensor | Dataset, config: FitConfig,
         loss_fn: Callable[[torch.Tensor], torch.Tensor], checkpoint: str | Path | None,
         resume: bool, progress: bool, meta: dict | None, desc: str, accumulate: int = 1,
         workers: int = 0) -> dict:
    """Adam on random batches (without replacement within an epoch) of ``data``, a tensor or a
    streamed data set; data-parallel under torchrun (:mod:`funknn.distributed`)."""
    device = next(model.parameters()).device
    stream = LazyStream(data, config.batch, config.seed, distributed.current(accumulate), config.steps,
                        workers)

    def step_loss(generator: torch.Generator, k: int, step: int) -> torch.Tensor:
        return loss_fn(stream.part(step, k).to(device))

    return run_adam(model, config, step_loss, checkpoint=checkpoint, resume=resume, progress=progress,
                    meta=meta, desc=desc, accumulate=accumulate, global_batch=config.batch)


def autoencoder_loss(model: Autoencoder, images: torch.Tensor, config: FitConfig,
                     vgg: nn.Module | None = None) -> torch.Tensor:
    """MSE plus ``perceptual_weight`` × the perceptual-type loss of ``config``."""
    recon = model(images)
    loss = F.mse_loss(recon, images)
    if config.perceptual == "laplacian":
        loss = loss + config.perceptual_weight * laplacian_pyramid_loss(recon, images)
    elif config.perceptual == "vgg":
        if vgg is None:
            raise ValueError("perceptual='vgg' needs the VGGPerceptualLoss module (argument vgg)")
        loss = loss + config.perceptual_weight * vgg(recon, images)
    return loss


def train_autoencoder(model: Autoencoder, images: torch.Tensor | Dataset, config: FitConfig, *,
                      checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True,
                      meta: dict | None = None, accumulate: int = 1, workers: int = 0) -> dict:
    """Train an autoencoder on ``images`` (N, C, S, S), or a data set of such images streamed by
    ``workers`` DataLoader processes, with MSE + a perceptual-type loss; data-parallel under
    torchrun (``config.batch`` is the global batch; ``accumulate``: parts per process, see
    :mod:`funknn.distributed`).

    Returns:
        History ``{"step", "loss", "seconds"}``; the checkpoint (if given) is resumable.
    """
    model.check_images(first(images))
    vgg = None
    if config.perceptual == "vgg":
        vgg = VGGPerceptualLoss(str(config.vgg_weights)).to(next(model.parameters()).device)
    return _fit(model, images, config, lambda x: autoencoder_loss(model, x, config, vgg),
                checkpoint, resume, progress, meta, "train autoencoder", accumulate, workers)


def first(data: torch.Tensor | Dataset) -> torch.Tensor:
    """The first sample of a tensor or data set, as a batch of one."""
    if len(data) == 0:  # type: ignore[arg-type]
        raise ValueError("the training data are empty")
    return data[:1] if isinstance(data, torch.Tensor) else data[0][None]


def train_flow(flow: RealNVP, codes: torch.Tensor, config: FitConfig, *,
               checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True,
               meta: dict | None = None, accumulate: int = 1) -> dict:
    """Train a flow by maximum likelihood on latent codes (N, L). The loss is the negative
    log-likelihood in bits per dimension. Data-parallel under torchrun (as
    :func:`train_autoencoder`); the ActNorm layers start from the whole first global batch, the
    same on every rank."""
    flow.check_codes(codes[:1])
    flow.train()
    first_batch = next(iter(distributed.StepBatches(len(codes), config.batch, config.seed)))
    with torch.no_grad():       # ActNorm's data-dependent start, from the whole first global batch
        flow.nll_bits_per_dim(codes[first_batch])
    return _fit(flow, codes, config, flow.nll_bits_per_dim, checkpoint, resume, progress, meta,
                "train flow", accumulate)

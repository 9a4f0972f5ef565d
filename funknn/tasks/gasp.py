"""Training GASP, the continuous GAN baseline (:class:`funknn.models.GASP`): the non-saturating
GAN loss with an R1 penalty on real data, one discriminator step and one generator step per
iteration, on the engine's loop (:class:`funknn.engine.Loop`) with a bundle of two optimisers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .. import checks
from ..engine import LazyStream, Loop, Precision, update
from ..models.gasp import GASP, discriminator_loss, generator_loss, r1_penalty
from .prior import first

__all__ = ["GASPConfig", "gasp_step", "train_gasp"]


@dataclass
class GASPConfig:
    """Settings of a GASP training run (:func:`train_gasp`): the non-saturating GAN loss with an
    R1 penalty on real data, one discriminator step and one generator step per iteration.

    Attributes:
        steps: iterations; batch: real images (and generated functions) per step.
        lr, lr_disc: Adam learning rates of the hypernetwork and the discriminator (GASP's
            64² CelebA-HQ setting: 1e-4 and 4e-4).
        betas: Adam's betas for both.
        r1_weight: γ of the penalty γ/2 · E‖∇D(x_real)‖² (GASP: 10).
        r1_every: compute R1 every this many steps only, weighted by as much ("lazy"
            regularisation, Karras et al. 2020; 1: every step as GASP): the same penalty on
            average at a fraction of the cost on a CPU.
        seed: seed of the batch order and the latents. checkpoint_every: steps between writes.
    """

    steps: int = 5000
    batch: int = 32
    lr: float = 1e-4
    lr_disc: float = 4e-4
    betas: tuple[float, float] = (0.5, 0.999)
    r1_weight: float = 10.0
    r1_every: int = 1
    seed: int = 0
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        checks.positive(self, "steps", "batch", "checkpoint_every", "r1_every", "lr", "lr_disc")
        checks.non_negative(self, "r1_weight")
        self.betas = (float(self.betas[0]), float(self.betas[1]))


def gasp_step(model: GASP, real: torch.Tensor | Sequence[torch.Tensor], config: GASPConfig,
              opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
              generator: torch.Generator | Sequence[torch.Generator], step: int = 0,
              precision: Precision | None = None) -> dict[str, float]:
    """One GASP iteration (number ``step``, counted from 0): a discriminator step
    (non-saturating loss, + γ/2 · R1 on the steps that ``config.r1_every`` selects), then a
    generator step on fresh latents. Returns the two losses and the R1 term (NaN when skipped).

    ``real`` and ``generator`` may be lists: this process's parts of the global batch, each with
    its own generator (:mod:`funknn.distributed`); each step's gradients are averaged over the
    parts and over the ranks of a torchrun run (:func:`funknn.engine.update`, in ``precision``)."""
    reals = [real] if isinstance(real, torch.Tensor) else list(real)
    generators = [generator] if isinstance(generator, torch.Generator) else list(generator)
    if len(reals) != len(generators):
        raise ValueError(f"{len(reals)} parts of real images but {len(generators)} generators")
    parts, device = len(reals), reals[0].device
    r1_now = config.r1_weight > 0 and step % config.r1_every == 0

    def latents(k: int, g: torch.Generator) -> torch.Tensor:
        return torch.randn(reals[k].shape[0], model.latent_dim, generator=g).to(device)

    def discriminator_part(k: int, g: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        x = reals[k]
        z = latents(k, g)
        with torch.no_grad():
            fake = model.generate(z)
        d_adv = discriminator_loss(model.discriminate(x), model.discriminate(fake))
        loss, r1_value = d_adv, 0.0
        if r1_now:
            r1 = r1_penalty(model.discriminator, x)
            loss = loss + 0.5 * config.r1_weight * config.r1_every * r1
            r1_value = float(r1.detach()) / parts
        return loss / parts, {"d_loss": float(d_adv.detach()) / parts, "r1": r1_value}

    def generator_part(k: int, g: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        g_loss = generator_loss(model.discriminate(model.generate(latents(k, g))))
        return g_loss / parts, {"g_loss": float(g_loss.detach()) / parts}

    d_values = update(opt_d, discriminator_part, generators, precision)
    g_values = update(opt_g, generator_part, generators, precision)
    return {"d_loss": d_values["d_loss"], "g_loss": g_values["g_loss"],
            "r1": d_values["r1"] if r1_now else float("nan")}


def train_gasp(model: GASP, images: torch.Tensor | Dataset, config: GASPConfig, *,
               checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True,
               meta: dict | None = None, accumulate: int = 1, workers: int = 0, amp: str = "off") -> dict:
    """Train GASP's hypernetwork and discriminator on ``images`` (N, C, d, d) in [0, 1] on the
    model's grid (or a data set of them, streamed by ``workers`` DataLoader processes), with
    atomic, resumable checkpoints (both networks, both optimisers, the step and every part's
    random generator; a resumed run equals an uninterrupted one and refuses another model or other
    settings; ``steps`` may change). Data-parallel under torchrun: ``config.batch`` is the global
    batch (see :mod:`funknn.distributed`); ``amp``: the forward passes' precision
    (:class:`funknn.engine.Precision`).

    Returns:
        History ``{"step", "d_loss", "g_loss", "r1", "seconds"}``.
    """
    size, channels = model.low_size, model.config["in_channels"]
    if tuple(first(images).shape[1:]) != (channels, size, size):
        raise ValueError(f"images must have shape (N, {channels}, {size}, {size}) for this GASP, "
                         f"got {(len(images),) + tuple(first(images).shape[1:])}")  # type: ignore[arg-type]
    optimisers = {
        "generator": torch.optim.Adam(model.generator_parameters(), lr=config.lr, betas=config.betas),
        "discriminator": torch.optim.Adam(model.discriminator.parameters(), lr=config.lr_disc,
                                          betas=config.betas)}
    loop = Loop(model, optimisers, config, checkpoint=checkpoint, resume=resume, progress=progress,
                meta=meta, desc="train GASP", accumulate=accumulate, global_batch=config.batch, amp=amp)
    stream = LazyStream(images, config.batch, config.seed, loop.parallel, config.steps, workers)

    def step(s: int) -> dict[str, float]:
        reals = [stream.part(s, k).to(loop.device) for k in range(loop.parallel.accumulate)]
        return gasp_step(model, reals, config, loop.bundle["generator"], loop.bundle["discriminator"],
                         loop.generators, s, loop.precision)

    return loop.run(step, keys=("d_loss", "g_loss", "r1"),
                    postfix=lambda v: {"d": f"{v['d_loss']:.3f}", "g": f"{v['g_loss']:.3f}"})


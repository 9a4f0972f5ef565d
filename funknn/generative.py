"""The continuous generative prior (Section 3.2 of the paper): G = FunkNN ∘ decoder ∘ flow.

A latent noise vector ``w`` goes through the RealNVP flow to a latent code, the autoencoder's
decoder turns the code into a low-resolution image, and FunkNN renders that image at any
resolution or at any coordinates, with derivatives.

This module also trains the two discrete parts (autoencoder, flow) with the same atomic,
resumable checkpoints as :func:`funknn.train`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import torch.utils.data
from torch import nn
from torch.utils.data import Dataset

from . import distributed
from .derivatives import derivatives
from .models.autoencoder import Autoencoder, VGGPerceptualLoss, laplacian_pyramid_loss
from .models.flow import RealNVP
from .models.gasp import GASP, discriminator_loss, generator_loss, r1_penalty
from .models.protocols import Configured, CoordinateModel, FineTuning
from .rendering import render
from .training import LazyStream, check_lr_drop, check_resume, restore_generators, run_adam, run_record

PERCEPTUAL = ("laplacian", "vgg", "none")


@dataclass
class FitConfig:
    """Settings of an autoencoder or flow training run.

    Attributes:
        steps: optimisation steps; batch: images (or codes) per step; lr: Adam learning rate.
        seed: seed of the batch order. checkpoint_every: steps between checkpoint writes.
        lr_drop_at, lr_drop: from step ``lr_drop_at`` on (0: never) the learning rate is
            ``lr · lr_drop`` (see :class:`funknn.training.TrainConfig`).
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
        for name in ("steps", "batch", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.perceptual not in PERCEPTUAL:
            raise ValueError(f"unknown perceptual loss {self.perceptual!r}; expected one of {PERCEPTUAL}")
        check_lr_drop(self.lr_drop_at, self.lr_drop)
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


class DiagonalGaussian:
    """The baseline latent distribution: a diagonal Gaussian fitted (maximum likelihood) to
    latent codes (N, L), in place of the flow.

    Example:
        >>> codes = torch.randn(100, 4) * torch.tensor([1.0, 2.0, 3.0, 4.0])
        >>> DiagonalGaussian(codes).sample(5, torch.Generator().manual_seed(0)).shape
        torch.Size([5, 4])
    """

    def __init__(self, codes: torch.Tensor) -> None:
        if codes.dim() != 2 or len(codes) < 2:
            raise ValueError(f"codes must have shape (N >= 2, L), got {tuple(codes.shape)}")
        self.mean = codes.mean(0)
        self.std = codes.std(0, unbiased=False)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes (n, L)."""
        noise = torch.randn(n, len(self.mean), generator=generator, dtype=self.mean.dtype)
        return self.mean + self.std * noise.to(self.mean.device)


def sample_quality(real: torch.Tensor, generated: torch.Tensor, pool: int = 4, k: int = 3
                   ) -> dict[str, float]:
    """k-NN precision and recall (:func:`funknn.metrics.precision_recall`) of generated images
    against real ones (both (N, C, S, S)), on their ``pool``×``pool`` average-pooled pixels (a
    feature space where a neighbour is an image of similar layout; pixel-exact distances would
    weigh a one-pixel shift of an edge as much as a missing ellipse). With fewer than k + 1
    images in a set, k shrinks to what the sets allow (NaN with fewer than two)."""
    from .metrics import precision_recall

    k = min(k, len(real) - 1, len(generated) - 1)
    if k < 1:
        return {"precision": float("nan"), "recall": float("nan")}

    def features(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x.float(), pool).flatten(1) if pool > 1 else x.float().flatten(1)

    return precision_recall(features(real), features(generated), k=k)


@torch.no_grad()
def encode(model: Autoencoder, images: torch.Tensor | Dataset, batch: int = 256, workers: int = 0
           ) -> torch.Tensor:
    """Latent codes (N, L) of images (N, C, S, S), or of a data set of them read by ``workers``
    DataLoader processes, in batches, without gradients."""
    device = next(model.parameters()).device
    parts = (images.split(batch) if isinstance(images, torch.Tensor) else
             torch.utils.data.DataLoader(images, batch_size=batch, num_workers=workers))
    with torch.no_grad():
        return torch.cat([model.encode(part.to(device)).cpu() for part in parts])


class _Decode(nn.Module):
    """``forward`` = the autoencoder's ``decode`` (a module that ``functional_call`` can call)."""

    def __init__(self, autoencoder: Autoencoder) -> None:
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.autoencoder.decode(codes)


class ContinuousGenerator(nn.Module):
    """G(w) = FunkNN(·, decoder(flow(w))): a generator of continuous images.

    Args:
        autoencoder: a trained :class:`~funknn.models.Autoencoder` (its decoder is used).
        flow: a trained :class:`~funknn.models.RealNVP` on the autoencoder's codes.
        funknn: a trained FunkNN for the same image domain (channels must match).

    Example:
        >>> ae = Autoencoder(1, image_size=16, latent_dim=4, width=4)
        >>> from funknn.models import FunkNN
        >>> G = ContinuousGenerator(ae, RealNVP(4, blocks=1, hidden=(8,)), FunkNN(1, "mlp"))
        >>> G.sample(2, size=32).shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(self, autoencoder: Autoencoder, flow: RealNVP, funknn: nn.Module) -> None:
        super().__init__()
        if flow.dim != autoencoder.latent_dim:
            raise ValueError(f"flow dim {flow.dim} != autoencoder latent_dim {autoencoder.latent_dim}")
        if not isinstance(funknn, CoordinateModel):
            raise TypeError("funknn must be a coordinate model, model(coords, image), got "
                            f"{type(funknn).__name__}")
        channels = funknn.config.get("in_channels") if isinstance(funknn, Configured) else None
        if channels is not None and channels != autoencoder.in_channels:
            raise ValueError(f"FunkNN has {channels} channels, the autoencoder {autoencoder.in_channels}")
        self.autoencoder, self.flow, self.funknn = autoencoder, flow, funknn
        self.latent_dim = autoencoder.latent_dim
        self.low_size = autoencoder.image_size

    def noise(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
              ) -> torch.Tensor:
        """Base noise w ~ N(0, temperature² I), (n, L)."""
        p = next(self.parameters())
        return (temperature * torch.randn(n, self.latent_dim, generator=generator,
                                          dtype=p.dtype)).to(p.device)

    def low_resolution(self, noise: torch.Tensor) -> torch.Tensor:
        """Decoder(flow(w)): the discrete low-resolution images (B, C, d, d)."""
        return self.autoencoder.decode(self.flow(noise))

    @property
    def coordinate_model(self) -> nn.Module:
        """The coordinate model that renders :meth:`low_resolution`'s output (FunkNN)."""
        return self.funknn

    def regularised_image(self, low: torch.Tensor) -> torch.Tensor:
        """What a TV regulariser sees: the decoded low-resolution image itself."""
        return low

    def fine_tuning(self) -> FineTuning:
        """What :func:`funknn.inverse.solve` fine-tunes after the latent search (Appendix B.1,
        after Hussein et al. 2020): the decoder's layers (``from_latent`` and ``decoder``) applied
        to the fixed codes flow(w); the encoder, the flow and FunkNN stay fixed."""
        decode = _Decode(self.autoencoder)
        trained = {id(p) for part in (self.autoencoder.from_latent, self.autoencoder.decoder)
                   for p in part.parameters()}
        names = tuple(k for k, p in decode.named_parameters() if id(p) in trained)
        return FineTuning(decode, names, self.flow)

    def forward(self, coords: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Intensities (B, N, C) of the continuous images G(w) at coords (B, N, 2)."""
        return self.funknn(coords, self.low_resolution(noise))

    def render(self, noise: torch.Tensor, size: int | Sequence[int], hierarchical: bool = False,
               chunk: int = 1024) -> torch.Tensor:
        """G(w) on an H×W grid, (B, C, H, W)."""
        return render(self.funknn, self.low_resolution(noise), size, chunk=chunk, hierarchical=hierarchical)

    @torch.no_grad()
    def sample(self, n: int, size: int | Sequence[int] | None = None,
               generator: torch.Generator | None = None, temperature: float = 1.0,
               hierarchical: bool = False) -> torch.Tensor:
        """``n`` random images rendered at ``size`` (default: the decoder's resolution)."""
        return self.render(self.noise(n, generator, temperature), size or self.low_size, hierarchical)

    def derivatives(self, noise: torch.Tensor, coords: torch.Tensor, order: int = 1, chunk: int = 4096,
                    create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Values, gradients and (order 2) Laplacians of G(w) at coords; see
        :func:`funknn.derivatives.derivatives`."""
        return derivatives(self.funknn, self.low_resolution(noise), coords, order=order, chunk=chunk,
                           create_graph=create_graph)


#: file names of a prior saved in one folder (what chapter 4 writes with ``train=True``)
PRIOR_FILES = {"autoencoder": "autoencoder.pt", "flow": "flow.pt", "funknn": "funknn.pt"}
#: the shipped prior (``funknn.pretrained`` names)
SHIPPED_PRIOR = {"autoencoder": "ellipses40k_autoencoder", "flow": "ellipses40k_flow",
                 "funknn": "ellipses64_factor"}


def load_prior(directory: str | Path | None = None, device: torch.device | str | None = None
               ) -> ContinuousGenerator:
    """A ready :class:`ContinuousGenerator` (eval mode).

    Args:
        directory: folder with ``autoencoder.pt``, ``flow.pt`` and ``funknn.pt``; ``None`` for
            the shipped prior on random-ellipse phantoms.
    """
    from .checkpoints import load
    from .pretrained import pretrained

    if directory is None:
        parts = {k: pretrained(name, device=device) for k, name in SHIPPED_PRIOR.items()}
    else:
        parts = {k: load(Path(directory) / name, device=device) for k, name in PRIOR_FILES.items()}
    autoencoder, flow = parts["autoencoder"], parts["flow"]
    if not isinstance(autoencoder, Autoencoder) or not isinstance(flow, RealNVP):
        raise ValueError(f"the prior's files hold a {type(autoencoder).__name__} and a "
                         f"{type(flow).__name__}, not an Autoencoder and a RealNVP")
    return ContinuousGenerator(autoencoder, flow, parts["funknn"]).eval()


# ----------------------------------------------------------------------------- GASP


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
        for name in ("steps", "batch", "checkpoint_every", "r1_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not (self.lr > 0 and self.lr_disc > 0):
            raise ValueError(f"learning rates must be positive, got {self.lr}, {self.lr_disc}")
        if self.r1_weight < 0:
            raise ValueError(f"r1_weight must be non-negative, got {self.r1_weight}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))


def gasp_step(model: GASP, real: torch.Tensor | Sequence[torch.Tensor], config: GASPConfig,
              opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
              generator: torch.Generator | Sequence[torch.Generator], step: int = 0) -> dict[str, float]:
    """One GASP iteration (number ``step``, counted from 0): a discriminator step
    (non-saturating loss, + γ/2 · R1 on the steps that ``config.r1_every`` selects), then a
    generator step on fresh latents. Returns the two losses and the R1 term (NaN when skipped).

    ``real`` and ``generator`` may be lists: this process's parts of the global batch, each with
    its own generator (:mod:`funknn.distributed`); each step's gradients are averaged over the
    parts and over the ranks of a torchrun run."""
    reals = [real] if isinstance(real, torch.Tensor) else list(real)
    generators = [generator] if isinstance(generator, torch.Generator) else list(generator)
    if len(reals) != len(generators):
        raise ValueError(f"{len(reals)} parts of real images but {len(generators)} generators")
    parts, device = len(reals), reals[0].device
    r1_now = config.r1_weight > 0 and step % config.r1_every == 0
    opt_d.zero_grad(set_to_none=True)
    d_total, r1_total = 0.0, 0.0
    for x, g in zip(reals, generators):
        z = torch.randn(x.shape[0], model.latent_dim, generator=g).to(device)
        with torch.no_grad():
            fake = model.generate(z)
        d_adv = discriminator_loss(model.discriminate(x), model.discriminate(fake))
        loss = d_adv
        if r1_now:
            r1 = r1_penalty(model.discriminator, x)
            loss = loss + 0.5 * config.r1_weight * config.r1_every * r1
            r1_total += float(r1.detach()) / parts
        (loss / parts).backward()
        d_total += float(d_adv.detach()) / parts
    d_params = list(model.discriminator.parameters())
    d_value, r1_value = distributed.average_gradients(d_params, [d_total, r1_total])
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    g_total = 0.0
    for x, g in zip(reals, generators):
        z = torch.randn(x.shape[0], model.latent_dim, generator=g).to(device)
        g_loss = generator_loss(model.discriminate(model.generate(z)))
        (g_loss / parts).backward()
        g_total += float(g_loss.detach()) / parts
    g_params = [q for group in opt_g.param_groups for q in group["params"]]
    g_value = distributed.average_gradients(g_params, [g_total])[0]
    opt_g.step()
    return {"d_loss": d_value, "g_loss": g_value, "r1": r1_value if r1_now else float("nan")}


def train_gasp(model: GASP, images: torch.Tensor | Dataset, config: GASPConfig, *,
               checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True,
               meta: dict | None = None, accumulate: int = 1, workers: int = 0) -> dict:
    """Train GASP's hypernetwork and discriminator on ``images`` (N, C, d, d) in [0, 1] on the
    model's grid (or a data set of them, streamed by ``workers`` DataLoader processes), with
    atomic, resumable checkpoints (both networks, both optimisers, the step and every part's
    random generator; a resumed run equals an uninterrupted one and refuses another model or other
    settings; ``steps`` may change). Data-parallel under torchrun: ``config.batch`` is the global
    batch (see :mod:`funknn.distributed`).

    Returns:
        History ``{"step", "d_loss", "g_loss", "r1", "seconds"}``.
    """
    from tqdm.auto import tqdm

    from .checkpoints import read, write_atomic

    size, channels = model.low_size, model.config["in_channels"]
    if tuple(first(images).shape[1:]) != (channels, size, size):
        raise ValueError(f"images must have shape (N, {channels}, {size}, {size}) for this GASP, "
                         f"got {(len(images),) + tuple(first(images).shape[1:])}")  # type: ignore[arg-type]
    device = next(model.parameters()).device
    parallel = distributed.current(accumulate)
    generators = parallel.generators(config.seed)
    opt_g = torch.optim.Adam(model.generator_parameters(), lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=config.lr_disc, betas=config.betas)
    history: dict = {"step": [], "d_loss": [], "g_loss": [], "r1": [], "seconds": 0.0}
    step = 0
    settings = dataclasses.asdict(config)
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        record = read(checkpoint)
        check_resume(record, checkpoint, model, settings)
        model.load_state_dict(record["state_dict"])
        opt_g.load_state_dict(record["optimizer"]["generator"])
        opt_d.load_state_dict(record["optimizer"]["discriminator"])
        restore_generators(record, checkpoint, generators, parallel)
        history, step = record["history"], int(record["step"])
    distributed.broadcast_parameters(model)
    stream = LazyStream(images, config.batch, config.seed, parallel, config.steps, workers)

    def write() -> None:
        if checkpoint is None:          # the same on every rank
            return
        states = distributed.gather_states([g.get_state() for g in generators], parallel)
        if not parallel.main:
            return
        optimizers = {"generator": opt_g.state_dict(), "discriminator": opt_d.state_dict()}
        layout = {"world_size": parallel.world_size, "accumulate": parallel.accumulate,
                  "parts": parallel.parts, "global_batch": config.batch}
        write_atomic(run_record(model, step=step, optimizer=optimizers, states=states, settings=settings,
                                history=history, meta=meta, layout=layout), checkpoint)

    model.train()
    bar = tqdm(total=config.steps, initial=step, disable=not (progress and parallel.main), desc="train GASP")
    start, elapsed0 = time.perf_counter(), history["seconds"]
    while step < config.steps:
        reals = [stream.part(step, k).to(device) for k in range(parallel.accumulate)]
        values = gasp_step(model, reals, config, opt_g, opt_d, generators, step)
        step += 1
        history["step"].append(step)
        for k, v in values.items():
            history[k].append(v)
        history["seconds"] = elapsed0 + time.perf_counter() - start
        bar.update(1)
        bar.set_postfix(d=f"{values['d_loss']:.3f}", g=f"{values['g_loss']:.3f}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            write()
    bar.close()
    model.eval()
    return history

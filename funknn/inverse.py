"""Inverse problems with the continuous generative prior (Section 4 of the paper), and the
classical baselines they are measured against.

The latent-space solver (equations 3, 4 and 6) searches the latent noise ``w`` of a continuous
generative model (a :class:`~funknn.generative.ContinuousGenerator`, or the continuous GAN
:class:`~funknn.models.gasp.GASP`: any :class:`LatentPrior`) for the continuous image that
explains the measurements: ``w`` starts at the flow's mean (0), Adam minimises the data misfit plus the
optional regularisers λ‖w‖² and λ₂·TV, and then (Appendix B.1, after Hussein et al. 2020) the
decoder's weights may be fine-tuned for a number of steps with ``w`` fixed. A problem may hold
several images: they are solved at once, each with its own ``w`` and (when fine-tuning) its own
copy of the decoder's weights, and each exactly as it would be alone (the objective is a sum of
per-image terms and Adam acts element by element). The prior that is passed in is never
modified: neither its weights nor their ``requires_grad`` flags nor their ``.grad`` (the
decoder is fine-tuned on stacked copies; gradients are taken with :func:`torch.autograd.grad`
for the optimised tensors only). No files, no plots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn
from tqdm.auto import tqdm

from .derivatives import gradient
from .generative import ContinuousGenerator
from .models.autoencoder import Autoencoder
from .models.protocols import CoordinateModel
from .physics import LimitedViewCT
from .rendering import render
from .sampling import as_size
from .training import optimise

SCALES = ("relative", "absolute")


def mean_gradient_magnitude(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Total variation in the package's coordinates: the mean over pixels of the magnitude of
    the finite-difference gradient (forward differences divided by the pixel spacing 2/W, 2/H),
    per image (B,). An image's value does not depend on its resolution, and it compares directly
    with measured gradients ∇u."""
    H, W = x.shape[-2:]
    return _mean_difference_magnitude(x, W / 2, H / 2, eps)


def _mean_difference_magnitude(x: torch.Tensor, sx: float, sy: float, eps: float) -> torch.Tensor:
    """Mean over pixels of |(sx·∂x, sy·∂y)| by forward differences, smoothed by ``eps``: (B,)."""
    dx = x[..., :-1, 1:] - x[..., :-1, :-1]
    dy = x[..., 1:, :-1] - x[..., :-1, :-1]
    if sx != 1 or sy != 1:
        dx, dy = dx * sx, dy * sy
    return (dx * dx + dy * dy + eps).sqrt().flatten(1).mean(1)


def total_variation(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Isotropic total variation of (B, C, H, W) images (forward differences, mean over pixels,
    smoothed by ``eps`` so that it is differentiable at 0), per image: (B,)."""
    return _mean_difference_magnitude(x, 1.0, 1.0, eps)


# ----------------------------------------------------------------------------- problems

class Problem(Protocol):
    """An inverse problem for :func:`solve`, over ``batch`` images at once: the resolution
    ``size`` (H, W) of the reconstruction, the data misfit of each continuous image
    ``model(·, low)`` (``loss`` returns one value per image, (B,)), and the two scales (B,) that
    make the regulariser's weight relative (``SolverConfig(scale="relative")``): ``data_scale``,
    the misfit of the zero image (the mean squared measurement), and ``tv_scale``, the typical
    :func:`mean_gradient_magnitude` of an image that fits the data."""

    size: tuple[int, int]
    batch: int
    data_scale: torch.Tensor
    tv_scale: torch.Tensor

    def loss(self, model: CoordinateModel, low: torch.Tensor, generator: torch.Generator) -> torch.Tensor: ...


class DerivativeProblem:
    """Measurements of the gradient of unknown continuous images at given locations
    (eq. 3 with every pixel centre of a grid; eq. 4 with the largest 20% only).

    Args:
        coords: (B, N, 2) measurement locations (B images, the same number N each).
        gradients: (B, N, C, 2) measured gradients there.
        size: resolution (H, W) at which the reconstructions are rendered.
        batch_points: locations used per step, drawn at random (``None``: all).
    """

    def __init__(self, coords: torch.Tensor, gradients: torch.Tensor, size: int | Sequence[int],
                 batch_points: int | None = None) -> None:
        if coords.dim() != 3 or coords.shape[-1] != 2:
            raise ValueError(f"coords must have shape (B, N, 2), got {tuple(coords.shape)}")
        if gradients.dim() != 4 or gradients.shape[:2] != coords.shape[:2] or gradients.shape[-1] != 2:
            raise ValueError(f"gradients must have shape (B, N, C, 2) with (B, N) = "
                             f"{tuple(coords.shape[:2])}, got {tuple(gradients.shape)}")
        if batch_points is not None and batch_points < 1:
            raise ValueError(f"batch_points must be positive or None, got {batch_points}")
        self.coords, self.gradients = coords, gradients
        self.size = as_size(size)
        self.batch = coords.shape[0]
        self.batch_points = batch_points
        g = gradients.detach()
        #: mean squared measurement per image (the misfit of a constant image); mean measured ``|∇u|``
        self.data_scale = g.pow(2).flatten(1).mean(1).clamp_min(1e-30)
        self.tv_scale = g.pow(2).sum(dim=(-1, -2)).sqrt().mean(1).clamp_min(1e-30)

    def loss(self, model: CoordinateModel, low: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        coords, target = self.coords.to(low.device), self.gradients.to(low.device)
        if self.batch_points is not None and self.batch_points < coords.shape[1]:
            idx = torch.randperm(coords.shape[1], generator=generator)[:self.batch_points].to(low.device)
            coords, target = coords[:, idx], target[:, idx]
        grad = gradient(model, low, coords, chunk=coords.shape[1], create_graph=True)
        return (grad - target).pow(2).flatten(1).mean(1)


class CTProblem:
    """Limited-view CT (eq. 6): projections ``y`` of an unknown image through ``ct``.

    Args:
        ct: the :class:`~funknn.physics.LimitedViewCT` operator (its image size is the
            reconstruction's resolution).
        measurements: (B, 1, angles, detectors), one sinogram per image.
    """

    def __init__(self, ct: LimitedViewCT, measurements: torch.Tensor) -> None:
        ct.check(measurements, ct.data_shape, "measurements")
        self.ct, self.measurements, self.size = ct, measurements, ct.image_size
        self.batch = measurements.shape[0]
        #: mean squared measurement per image, and the mean ``|∇u|`` of the filtered back-projection
        self.data_scale = measurements.detach().pow(2).flatten(1).mean(1).clamp_min(1e-30)
        with torch.no_grad():
            fbp = ct.fbp(measurements)
        self.tv_scale = mean_gradient_magnitude(fbp).clamp_min(1e-30)

    def loss(self, model: CoordinateModel, low: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        u = render(model, low, self.size, chunk=1 << 16, grad=True)
        return (self.ct.A(u) - self.measurements.to(u.device)).pow(2).flatten(1).mean(1)


# ----------------------------------------------------------------------------- solver

class LatentPrior(Protocol):
    """A continuous generative model that :func:`solve` can search: latent noise (B,
    ``latent_dim``) → ``low_resolution(w)``, the tensor that ``coordinate_model`` renders
    (``coordinate_model(coords, low)``), and ``regularised_image(low)``, the (B, C, h, w) image on
    which the TV regulariser acts. :class:`~funknn.generative.ContinuousGenerator` (low = the
    decoded image, rendered by FunkNN) and :class:`~funknn.models.gasp.GASP` (low = the function's
    weights, rendered by the Fourier-feature MLP; TV on its training grid) are two."""

    latent_dim: int

    def low_resolution(self, noise: torch.Tensor) -> torch.Tensor: ...

    @property
    def coordinate_model(self) -> nn.Module: ...

    def regularised_image(self, low: torch.Tensor) -> torch.Tensor: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...


@dataclass
class SolverConfig:
    """Settings of the latent-space solver.

    Attributes:
        steps: Adam steps on the latent noise w (the paper: 2,500 for derivatives, 5,000 for CT).
        lr: Adam learning rate for w.
        latent_weight: λ of the regulariser λ‖w‖² (mean over dimensions).
        tv_weight: λ₂ of the total-variation regulariser, on the decoder's low-resolution image
            (cheap: the continuous image need not be rendered at every step).
        scale: ``"relative"`` (default): the objective is
            ``misfit / problem.data_scale + λ₂ · mean_gradient_magnitude(low) / problem.tv_scale
            + λ‖w‖²``: the misfit relative to that of the zero image and TV relative to the
            typical one of the data, so λ₂ = 0.01 means that a change of the TV by its typical
            size weighs as 1% of the zero image's misfit, whatever the units and resolution.
            ``"absolute"``: ``misfit + λ₂ · total_variation(low) + λ‖w‖²`` (per-pixel
            differences, unnormalised).
        finetune_steps: steps of fine-tuning the decoder's weights afterwards, w fixed (the
            paper: 1,000); 0 to skip.
        finetune_lr: Adam learning rate of the fine-tuning.
        record_every: steps between evaluations of the SNR against a ground truth.
        seed: seed of the random coordinate batches.
    """

    steps: int = 2500
    lr: float = 1e-2
    latent_weight: float = 0.0
    tv_weight: float = 0.0
    finetune_steps: int = 0
    finetune_lr: float = 1e-5
    record_every: int = 50
    seed: int = 0
    scale: str = "relative"

    def __post_init__(self) -> None:
        if self.steps < 0 or self.finetune_steps < 0:
            raise ValueError("steps and finetune_steps must be non-negative")
        if self.steps + self.finetune_steps < 1:
            raise ValueError("nothing to do: steps + finetune_steps must be positive")
        if not (self.lr > 0 and self.finetune_lr > 0):
            raise ValueError("learning rates must be positive")
        if self.latent_weight < 0 or self.tv_weight < 0:
            raise ValueError("regularisation weights must be non-negative")
        if self.record_every < 1:
            raise ValueError("record_every must be positive")
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; expected one of {SCALES}")


class _Decode(nn.Module):
    """``forward`` = the autoencoder's ``decode`` (so that ``functional_call`` can use it)."""

    def __init__(self, autoencoder: Autoencoder) -> None:
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.autoencoder.decode(codes)


class _Decoders:
    """B copies of the decoder (``from_latent`` and ``decoder``) of an autoencoder, one per image,
    applied to fixed codes with :func:`torch.func.vmap`: the fine-tuning phase of :func:`solve`.
    The copies' weights are new tensors (stacked along a first dimension of size B); the
    autoencoder itself is not touched."""

    TRAINED = ("autoencoder.decoder.", "autoencoder.from_latent.")

    def __init__(self, autoencoder: Autoencoder, codes: torch.Tensor) -> None:
        self.base = _Decode(autoencoder)
        named = dict(self.base.named_parameters())
        self.fixed = {k: v.detach() for k, v in named.items() if not k.startswith(self.TRAINED)}
        self.fixed.update(dict(self.base.named_buffers()))
        b = codes.shape[0]
        self.weights = {k: v.detach().unsqueeze(0).repeat(b, *([1] * v.dim())).requires_grad_(True)
                        for k, v in named.items() if k.startswith(self.TRAINED)}
        self.codes = codes.detach()

    def _one(self, weights: dict[str, torch.Tensor], code: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(self.base, (weights, self.fixed), (code[None],), strict=False,
                                         tie_weights=False)
        return out[0]

    def images(self) -> torch.Tensor:
        return torch.func.vmap(self._one)(self.weights, self.codes)


@dataclass
class _Run:
    """What the phases of :func:`solve` share: the prior, the latent noise (B, L), the stacked
    decoder copies once fine-tuning starts, the objective's parts and the history."""

    G: LatentPrior
    w: torch.Tensor
    problem: Problem
    config: SolverConfig
    torch_gen: torch.Generator
    truth: torch.Tensor | None
    metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    decoders: _Decoders | None = None
    step: int = 0
    history: dict = field(default_factory=lambda: {"step": [], "loss": [], "phase": [],
                                                   "record_step": [], "snr": [], "snr_per_image": []})

    def low(self) -> torch.Tensor:
        if self.decoders is not None:
            return self.decoders.images()
        return self.G.low_resolution(self.w)

    def objective(self) -> torch.Tensor:
        """Sum over the images of each one's objective (so that each ``w`` and each decoder copy
        gets exactly the gradient of its own problem)."""
        low = self.low()
        loss = self.problem.loss(self.G.coordinate_model, low, self.torch_gen)  # (B,)
        relative = self.config.scale == "relative"
        if relative:
            loss = loss / self.problem.data_scale.to(loss.device)
        if self.config.latent_weight > 0:
            loss = loss + self.config.latent_weight * self.w.pow(2).mean(1)
        if self.config.tv_weight > 0:
            image = self.G.regularised_image(low)
            tv = (mean_gradient_magnitude(image) / self.problem.tv_scale.to(low.device) if relative
                  else total_variation(image))
            loss = loss + self.config.tv_weight * tv
        return loss.sum()

    @torch.no_grad()
    def image(self) -> tuple[torch.Tensor, torch.Tensor]:
        low = self.low()
        return render(self.G.coordinate_model, low, self.problem.size, chunk=1 << 16), low

    def record(self) -> None:
        if self.truth is None:
            return
        image, _ = self.image()
        values = [float(v) for v in self.metric(image, self.truth.to(image.device)).reshape(-1)]
        self.history["record_step"].append(self.step)
        self.history["snr_per_image"].append(values)
        self.history["snr"].append(sum(values) / len(values))


def _phase(run: _Run, name: str, params: Sequence[torch.Tensor], steps: int, lr: float, bar: tqdm) -> None:
    """``steps`` Adam steps on ``params`` only (gradients by :func:`torch.autograd.grad`, so
    nothing else receives a ``.grad``)."""
    optimiser = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        loss = run.objective()
        grads = torch.autograd.grad(loss, params)
        for p, g in zip(params, grads):
            p.grad = g
        optimiser.step()
        run.step += 1
        run.history["step"].append(run.step)
        run.history["loss"].append(float(loss.detach()) / run.problem.batch)
        run.history["phase"].append(name)
        bar.update(1)
        if run.step % run.config.record_every == 0:
            run.record()


def _initial_noise(prior: LatentPrior, problem: Problem, init: torch.Tensor | None) -> torch.Tensor:
    """The initial latent noise (B, L): the flow's mean (0) or ``init``; a leaf that requires grad."""
    device = next(prior.parameters()).device
    shape = (problem.batch, prior.latent_dim)
    w = torch.zeros(shape, device=device) if init is None else init.detach().clone().to(device)
    if w.shape != shape:
        raise ValueError(f"init must have shape {shape} (one row per image of the problem), "
                         f"got {tuple(w.shape)}")
    return w.requires_grad_(True)


def solve(prior: LatentPrior, problem: Problem, config: SolverConfig, *,
          truth: torch.Tensor | None = None,
          metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
          init: torch.Tensor | None = None, progress: bool = True) -> dict:
    """Reconstruct continuous images from measurements in the prior's latent space.

    Two phases: Adam on the latent noise ``w`` (``config.steps``), then, optionally, Adam on the
    weights of a copy of the decoder per image with ``w`` fixed (``config.finetune_steps``).
    The B images of the problem are solved together, each independently of the others.

    Args:
        prior: a :class:`~funknn.generative.ContinuousGenerator` or any other
            :class:`LatentPrior` (such as :class:`~funknn.models.gasp.GASP`, latent phase only);
            left unchanged (weights, ``requires_grad``, ``.grad``).
        problem: a :class:`DerivativeProblem` or :class:`CTProblem` (any :class:`Problem`).
        config: solver settings.
        truth: optional ground truth (B, C, H, W) at ``problem.size``, for the SNR history.
        metric: ``metric(estimate, truth) -> (B,)`` in dB; default :func:`funknn.metrics.snr`.
        init: initial latent noise (B, L); default the flow's mean, 0.
        progress: show a tqdm progress bar.

    Returns:
        dict: ``{"image": (B, C, H, W) rendered at problem.size, "low": the decoded low-resolution
        images, "noise": w, "latent_image": the images when the latent phase ended (before any
        fine-tuning), "history": {"step", "loss" (mean per image), "phase", "record_step",
        "snr" (mean over the images), "snr_per_image"}}``.
    """
    from .metrics import snr

    if config.finetune_steps and not isinstance(prior, ContinuousGenerator):
        raise ValueError(f"finetune_steps: fine-tuning acts on an autoencoder's decoder; a "
                         f"{type(prior).__name__} prior is solved in its latent space only "
                         "(finetune_steps=0)")
    w = _initial_noise(prior, problem, init)
    run = _Run(prior, w, problem, config, torch.Generator().manual_seed(config.seed), truth, metric or snr)
    bar = tqdm(total=config.steps + config.finetune_steps, disable=not progress, desc="solve")
    run.record()
    _phase(run, "latent", [w], config.steps, config.lr, bar)
    w.requires_grad_(False)
    latent_image, _ = run.image()
    if config.finetune_steps:
        assert isinstance(prior, ContinuousGenerator)
        with torch.no_grad():
            codes = prior.flow(w)
        run.decoders = _Decoders(prior.autoencoder, codes)
        _phase(run, "decoder", list(run.decoders.weights.values()), config.finetune_steps,
               config.finetune_lr, bar)
    if not run.history["record_step"] or run.history["record_step"][-1] != run.step:
        run.record()
    bar.close()
    image, low = run.image()
    return {"image": image, "low": low, "noise": w.detach(), "latent_image": latent_image,
            "history": run.history}


# ----------------------------------------------------------------------------- baselines

def _adam_pixels(x0: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor], steps: int, lr: float,
                 nonnegative: bool) -> torch.Tensor:
    x = x0.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        optimise(optimiser, loss_fn(x))
        if nonnegative:
            with torch.no_grad():
                x.clamp_(min=0)
    return x.detach()


def tv_least_squares(ct: LimitedViewCT, measurements: torch.Tensor, tv_weight: float = 1e-3,
                     steps: int = 500, lr: float = 1e-2, nonnegative: bool = True) -> torch.Tensor:
    """Classical CT baseline: argmin_x ‖A x − y‖² / M + λ TV(x) (x ≥ 0), by Adam from the FBP.

    Returns:
        (B, 1, H, W).
    """
    x0 = ct.fbp(measurements).clamp(min=0) if nonnegative else ct.fbp(measurements)
    m = measurements.numel()

    def loss(x: torch.Tensor) -> torch.Tensor:
        return (ct.A(x) - measurements).pow(2).sum() / m + tv_weight * total_variation(x).sum()

    return _adam_pixels(x0, loss, steps, lr, nonnegative)


def pixel_gradient(x: torch.Tensor) -> torch.Tensor:
    """Gradient (B, H·W, C, 2) of a pixel image at its pixel centres, in the [-1, 1] coordinates
    (central differences inside, one-sided at the border); row-major like
    :func:`funknn.grid_coords`."""
    H, W = x.shape[-2:]
    gx = torch.gradient(x, dim=-1)[0] * (W / 2)       # spacing 2/W per pixel
    gy = torch.gradient(x, dim=-2)[0] * (H / 2)
    g = torch.stack([gx, gy], dim=-1)                 # (B, C, H, W, 2)
    return g.flatten(2, 3).permute(0, 2, 1, 3)        # (B, H*W, C, 2)


def poisson_tv(gradients: torch.Tensor, mask: torch.Tensor | None, size: int | tuple[int, int],
               tv_weight: float = 0.0, steps: int = 1000, lr: float = 1e-2, scale: str = "relative"
               ) -> torch.Tensor:
    """Classical baseline for the derivative problems: least-squares integration of a measured
    gradient field on the pixel grid (a Poisson problem), with optional TV.

    argmin_x mean over measured pixels ‖∇_h x − g‖² + λ TV(x), ∇_h the finite-difference
    gradient of :func:`pixel_gradient`. The mean of x is not identified by derivatives (it stays
    at 0); compare with a scale-and-shift-invariant SNR. With ``scale="relative"`` (default) both
    terms are relative and per image, as in :class:`SolverConfig`: the misfit divided by the
    image's mean measured ‖g‖², TV = :func:`mean_gradient_magnitude` divided by its mean
    measured ‖g‖, so that one λ means the same for this baseline and for the prior, and each
    image of a batch is solved as it would be alone; ``"absolute"``: the misfit (pooled over the
    batch) plus λ times :func:`total_variation` (per-pixel differences).

    Args:
        gradients: (B, H·W, C, 2) measured gradients at the pixel centres (any values where
            ``mask`` is False).
        mask: (B, H·W) bool of the measured pixels, or ``None`` for all.
        size: (H, W) of the grid.

    Returns:
        (B, C, H, W).
    """
    H, W = as_size(size)
    B, N, C, _ = gradients.shape
    if N != H * W:
        raise ValueError(f"gradients has {N} locations, the grid {H}×{W} has {H * W}")
    weight = torch.ones(B, N, 1, 1) if mask is None else mask.to(gradients.dtype)[..., None, None]
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {SCALES}")
    weight = weight.to(gradients.device)
    count = weight.flatten(1).sum(1).clamp_min(1)                             # (B,) measured locations
    measured = (gradients.detach() ** 2 * weight).sum(dim=(-1, -2))          # (B, N): ‖g‖² where measured
    data_scale = (measured.sum(1) / count).clamp_min(1e-30)                  # per image
    tv_scale = (measured.sqrt().sum(1) / count).clamp_min(1e-30)

    def loss(x: torch.Tensor) -> torch.Tensor:
        misfit = ((pixel_gradient(x) - gradients) ** 2 * weight).flatten(1).sum(1) / count     # (B,)
        if scale == "absolute":
            return (misfit * count).sum() / count.sum() + tv_weight * total_variation(x).sum()
        return (misfit / data_scale + tv_weight * mean_gradient_magnitude(x) / tv_scale).sum()

    return _adam_pixels(torch.zeros(B, C, H, W, device=gradients.device), loss, steps, lr, False)

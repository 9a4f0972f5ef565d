"""The latent-space solver (equations 3, 4 and 6 of the paper) with a continuous generative prior.

:func:`solve` searches the latent noise ``w`` of a continuous generative model (a
:class:`~funknn.generative.ContinuousGenerator`, or the continuous GAN
:class:`~funknn.models.gasp.GASP`: any :class:`LatentPrior`) for the continuous image that
explains the measurements: ``w`` starts at the flow's mean (0), Adam minimises the data misfit plus the
optional regularisers λ‖w‖² and λ₂·TV, and then (Appendix B.1, after Hussein et al. 2020) the
weights that the prior names (:meth:`LatentPrior.fine_tuning`: the decoder's, for the FunkNN
prior) may be fine-tuned for a number of steps with ``w`` fixed. A problem may hold several
images: they are solved at once, each with its own ``w`` and (when fine-tuning) its own copy of
the fine-tuned weights, and each exactly as it would be alone (the objective is a sum of
per-image terms and Adam acts element by element). The prior that is passed in is never
modified: neither its weights nor their ``requires_grad`` flags nor their ``.grad`` (the
copies are stacked new tensors; gradients are taken with :func:`torch.autograd.grad` for the
optimised tensors only). No files, no plots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn
from tqdm.auto import tqdm

from .. import checks
from ..models.protocols import FineTuning
from ..rendering import render
from .problems import SCALES, Problem
from .regularisers import latent_penalty, mean_gradient_magnitude, total_variation

__all__ = ["LatentPrior", "SolverConfig", "solve"]


class LatentPrior(Protocol):
    """A continuous generative model that :func:`solve` can search: latent noise (B,
    ``latent_dim``) → ``low_resolution(w)``, the tensor that ``coordinate_model`` renders
    (``coordinate_model(coords, low)``), ``regularised_image(low)``, the (B, C, h, w) image on
    which the TV regulariser acts, and ``fine_tuning()``, the weights that the solver's second
    phase fine-tunes (a :class:`~funknn.models.protocols.FineTuning`), or ``None`` when the prior
    is searched in its latent space only. :class:`~funknn.generative.ContinuousGenerator` (low =
    the decoded image, rendered by FunkNN; fine-tuning its decoder) and
    :class:`~funknn.models.gasp.GASP` (low = the function's weights, rendered by the
    Fourier-feature MLP; TV on its training grid; latent space only) are two."""

    latent_dim: int

    def low_resolution(self, noise: torch.Tensor) -> torch.Tensor: ...

    @property
    def coordinate_model(self) -> nn.Module: ...

    def regularised_image(self, low: torch.Tensor) -> torch.Tensor: ...

    def fine_tuning(self) -> FineTuning | None:
        """The weights that the fine-tuning phase of :func:`solve` trains with the latent noise
        fixed, or ``None`` for a prior that is searched in its latent space only."""
        ...

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
        finetune_steps: steps of fine-tuning the prior's weights afterwards (the decoder's),
            w fixed (the paper: 1,000); 0 to skip.
        finetune_lr: Adam learning rate of the fine-tuning.
        record_every: steps between evaluations of the SNR against a ground truth.
        seed: seed of the random coordinate batches.

    Example:
        >>> SolverConfig(steps=-1)
        Traceback (most recent call last):
        ...
        ValueError: steps must be non-negative, got -1
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
        checks.non_negative(self, "steps", "finetune_steps")
        if self.steps + self.finetune_steps < 1:
            raise ValueError("nothing to do: steps + finetune_steps must be positive")
        checks.positive(self, "lr", "finetune_lr")
        checks.non_negative(self, "latent_weight", "tv_weight")
        checks.positive(self, "record_every")
        checks.choice(self, "scale", SCALES)


class _Copies:
    """B copies of the weights that a prior fine-tunes (:class:`FineTuning`), one per image,
    applied to the fixed inputs with :func:`torch.func.vmap`: the fine-tuning phase of
    :func:`solve`. The copies are new tensors (stacked along a first dimension of size B); the
    prior's module itself is not touched."""

    def __init__(self, tuning: FineTuning, noise: torch.Tensor) -> None:
        self.base = tuning.module
        named = dict(self.base.named_parameters())
        trained = set(tuning.trained)
        if not trained or not trained <= named.keys():
            raise ValueError(f"fine_tuning: trained must name parameters of the module, got "
                             f"{sorted(trained - named.keys()) or 'none'}")
        self.fixed = {k: v.detach() for k, v in named.items() if k not in trained}
        self.fixed.update(dict(self.base.named_buffers()))
        b = noise.shape[0]
        self.weights = {k: v.detach().unsqueeze(0).repeat(b, *([1] * v.dim())).requires_grad_(True)
                        for k, v in named.items() if k in trained}
        with torch.no_grad():
            self.inputs = tuning.inputs(noise).detach()

    def _one(self, weights: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(self.base, (weights, self.fixed), (inputs[None],), strict=False,
                                         tie_weights=False)
        return out[0]

    def images(self) -> torch.Tensor:
        return torch.func.vmap(self._one)(self.weights, self.inputs)


@dataclass
class _Run:
    """What the phases of :func:`solve` share: the prior, the latent noise (B, L), the stacked
    weight copies once fine-tuning starts, the objective's parts and the history."""

    G: LatentPrior
    w: torch.Tensor
    problem: Problem
    config: SolverConfig
    torch_gen: torch.Generator
    truth: torch.Tensor | None
    metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    copies: _Copies | None = None
    step: int = 0
    history: dict = field(default_factory=lambda: {"step": [], "loss": [], "phase": [],
                                                   "record_step": [], "snr": [], "snr_per_image": []})

    def low(self) -> torch.Tensor:
        if self.copies is not None:
            return self.copies.images()
        return self.G.low_resolution(self.w)

    def objective(self) -> torch.Tensor:
        """Sum over the images of each one's objective (so that each ``w`` and each weight copy
        gets exactly the gradient of its own problem)."""
        low = self.low()
        loss = self.problem.loss(self.G.coordinate_model, low, self.torch_gen)  # (B,)
        relative = self.config.scale == "relative"
        if relative:
            loss = loss / self.problem.data_scale.to(loss.device)
        if self.config.latent_weight > 0:
            loss = loss + self.config.latent_weight * latent_penalty(self.w)
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


def _fine_tuning(prior: LatentPrior, config: SolverConfig) -> FineTuning | None:
    """What the prior fine-tunes when ``config`` asks for fine-tuning (an error if nothing)."""
    if not config.finetune_steps:
        return None
    tuning = prior.fine_tuning()
    if tuning is None:
        raise ValueError(f"finetune_steps: a {type(prior).__name__} prior has nothing to fine-tune "
                         "(its fine_tuning() is None); it is solved in its latent space only "
                         "(finetune_steps=0)")
    return tuning


def solve(prior: LatentPrior, problem: Problem, config: SolverConfig, *,
          truth: torch.Tensor | None = None,
          metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
          init: torch.Tensor | None = None, progress: bool = True) -> dict:
    """Reconstruct continuous images from measurements in the prior's latent space.

    Two phases: Adam on the latent noise ``w`` (``config.steps``), then, optionally, Adam on a
    copy per image of the weights that the prior names (:meth:`LatentPrior.fine_tuning`; the
    decoder's) with ``w`` fixed (``config.finetune_steps``).
    The B images of the problem are solved together, each independently of the others.

    Args:
        prior: a :class:`~funknn.generative.ContinuousGenerator` or any other
            :class:`LatentPrior` (such as :class:`~funknn.models.gasp.GASP`, latent phase only);
            left unchanged (weights, ``requires_grad``, ``.grad``).
        problem: a :class:`~funknn.inverse.DerivativeProblem` or
            :class:`~funknn.inverse.CTProblem` (any :class:`~funknn.inverse.Problem`).
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
    from ..metrics import snr

    tuning = _fine_tuning(prior, config)
    w = _initial_noise(prior, problem, init)
    run = _Run(prior, w, problem, config, torch.Generator().manual_seed(config.seed), truth, metric or snr)
    bar = tqdm(total=config.steps + config.finetune_steps, disable=not progress, desc="solve")
    run.record()
    _phase(run, "latent", [w], config.steps, config.lr, bar)
    w.requires_grad_(False)
    latent_image, _ = run.image()
    if tuning is not None:
        run.copies = _Copies(tuning, w)
        _phase(run, "decoder", list(run.copies.weights.values()), config.finetune_steps,
               config.finetune_lr, bar)
    if not run.history["record_step"] or run.history["record_step"][-1] != run.step:
        run.record()
    bar.close()
    image, low = run.image()
    return {"image": image, "low": low, "noise": w.detach(), "latent_image": latent_image,
            "history": run.history}

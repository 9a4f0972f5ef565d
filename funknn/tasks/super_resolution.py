"""Super-resolution training of FunkNN and the baselines (strategies *single*, *continuous*,
*factor* of Section 3.1.1): the step's data (low-resolution input, target, random pixels), the
losses, and :func:`train` on the engine's loop (:func:`funknn.engine.run_adam`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from .. import checks, distributed
from ..data import ImageCollection, random_crops, resize
from ..engine import LazyStream, run_adam
from ..models.protocols import FixedScaleModel, SuperResolver
from ..rendering import query
from ..sampling import grid_coords

__all__ = ["LOSSES", "MODES", "FunctionSource", "TrainConfig", "crop_each", "draw_low_size", "function_loss",
           "image_loss", "loss_value", "low_resolution_sizes", "make_pair", "pixel_batch", "train"]

MODES = ("single", "continuous", "factor")
#: the training losses :func:`loss_value` knows
LOSSES = ("l1", "l2", "log_l2")


@runtime_checkable
class FunctionSource(Protocol):
    """Training data given as functions with exact targets at any coordinates (e.g.
    :class:`~funknn.data.RandomBumps`) instead of an image collection: ``training_batch`` returns
    ``{"low" (B, C, d, d), "coords" (B, P, 2), "values" (B, P, C)}`` and, where known,
    ``"gradient"`` (B, P, C, 2) and ``"laplacian"`` (B, P, C)."""

    def training_batch(self, batch: int, low_size: int, pixels: int,
                       generator: torch.Generator | None = None) -> dict[str, torch.Tensor]: ...


@dataclass
class TrainConfig:
    """Settings of a training run.

    Attributes:
        mode: ``"single"`` (low resolution d = n/2), ``"continuous"`` (d uniform in [n/4, n/2),
            target n) or ``"factor"`` (d uniform in [n/8, n/2), target 2d).
        size: high-resolution crop side n.
        steps: total optimisation steps.
        batch_images: images per step (the paper: 64).
        batch_pixels: random target pixels per image per step (the paper: 512).
        lr: Adam learning rate (the paper: 1e-4).
        loss: ``"l1"``, ``"l2"`` or ``"log_l2"`` (the logarithm of the MSE of each term; with
            derivative losses, each quantity's relative error then counts alike, so training
            maximises the sum of the SNRs in dB of the image, gradient and Laplacian).
        seed: seed of the data and initialisation generator.
        checkpoint_every: steps between checkpoint writes.
        lr_drop_at: from this step on the learning rate is ``lr · lr_drop`` (0: never). A late
            drop (e.g. ×0.1 for the last 8% of the steps) settles a run that a constant rate
            leaves noisy.
        lr_drop: the factor of that drop.
        gradient_weight: weight of a loss on the spatial gradient (Sobolev training); needs a
            data source with exact gradients (:class:`~funknn.data.RandomBumps`).
        laplacian_weight: weight of a loss on the Laplacian (needs exact Laplacians, and a
            twice-differentiable model: kernel ``cubic_conv``, ideally ``activation="sine"``).
    """

    mode: str = "factor"
    size: int = 64
    steps: int = 1000
    batch_images: int = 64
    batch_pixels: int = 512
    lr: float = 1e-4
    loss: str = "l1"
    seed: int = 0
    checkpoint_every: int = 100
    gradient_weight: float = 0.0
    laplacian_weight: float = 0.0
    lr_drop_at: int = 0
    lr_drop: float = 0.1

    def __post_init__(self) -> None:
        checks.choice(self, "mode", MODES, what="training mode")
        checks.choice(self, "loss", LOSSES)
        checks.at_least(self, "size", 8, "pixels")
        checks.positive(self, "steps", "batch_images", "batch_pixels", "checkpoint_every", "lr")
        checks.non_negative(self, "gradient_weight", "laplacian_weight")
        checks.lr_drop(self.lr_drop_at, self.lr_drop)


def low_resolution_sizes(mode: str, size: int) -> tuple[int, int]:
    """Range [lo, hi) of low-resolution sides d drawn by a training mode for crops of side n."""
    if mode == "single":
        return size // 2, size // 2 + 1
    if mode == "continuous":
        return size // 4, size // 2
    if mode == "factor":
        return max(2, size // 8), size // 2
    raise ValueError(f"unknown training mode {mode!r}; expected one of {MODES}")


def draw_low_size(mode: str, size: int, generator: torch.Generator | None = None) -> int:
    """One low-resolution side d for a step, uniform in :func:`low_resolution_sizes`."""
    lo, hi = low_resolution_sizes(mode, size)
    return int(torch.randint(lo, hi, (1,), generator=generator)) if hi - lo > 1 else lo


def make_pair(high: torch.Tensor, mode: str, generator: torch.Generator | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Low-resolution input and target for one step (antialiased resizing).

    Args:
        high: (B, C, n, n) high-resolution crops.
        mode: training mode.

    Returns:
        ``(low (B, C, d, d), target (B, C, t, t))`` with t = n (single, continuous) or 2d (factor).
    """
    n = high.shape[-1]
    d = draw_low_size(mode, n, generator)
    target = resize(high, 2 * d) if mode == "factor" else high
    return resize(high, d), target


def pixel_batch(target: torch.Tensor, pixels: int, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Random pixels of each target image (a different set per image).

    Args:
        target: (B, C, H, W).
        pixels: number of pixels per image (capped at H·W).

    Returns:
        ``(coords (B, P, 2), values (B, P, C))``.
    """
    B, C, H, W = target.shape
    P = min(pixels, H * W)
    idx = torch.rand(B, H * W, generator=generator).argsort(dim=1)[:, :P].to(target.device)
    coords = grid_coords(H, W, device=target.device, dtype=target.dtype)[idx]      # (B, P, 2)
    values = torch.gather(target.flatten(2), 2, idx.unsqueeze(1).expand(-1, C, -1))
    return coords, values.transpose(1, 2)


def loss_value(kind: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The training loss ``kind`` (one of :data:`LOSSES`) between a prediction and its target."""
    if kind == "l1":
        return F.l1_loss(pred, target)
    if kind == "log_l2":  # log of the MSE: a sum of these is a sum of SNRs in dB (up to sign and scale)
        return torch.log(F.mse_loss(pred, target) + 1e-30)
    return F.mse_loss(pred, target)


def function_loss(model: nn.Module, data: FunctionSource, config: TrainConfig, generator: torch.Generator,
                  device: torch.device, images: int | None = None) -> torch.Tensor:
    """Loss of one step (or one part of a step: ``images`` functions, default
    ``config.batch_images``) on a function source (exact values and, optionally, derivatives)."""
    d = draw_low_size(config.mode, config.size, generator)
    count = config.batch_images if images is None else images
    batch = {k: v.to(device) for k, v in
             data.training_batch(count, d, config.batch_pixels, generator).items()}
    if config.gradient_weight == 0 and config.laplacian_weight == 0:
        return loss_value(config.loss, model(batch["coords"], batch["low"]), batch["values"])
    from ..derivatives import derivatives

    if config.laplacian_weight > 0 and "laplacian" not in batch:
        raise ValueError("laplacian_weight > 0 needs a data source with exact Laplacians")
    order = 2 if config.laplacian_weight > 0 else 1
    pred, grad, lap = derivatives(model, batch["low"], batch["coords"], order=order,
                                  chunk=batch["coords"].shape[1], create_graph=True)
    loss = loss_value(config.loss, pred, batch["values"])
    if config.gradient_weight > 0:
        loss = loss + config.gradient_weight * loss_value(config.loss, grad, batch["gradient"])
    if config.laplacian_weight > 0 and lap is not None:
        loss = loss + config.laplacian_weight * loss_value(config.loss, lap, batch["laplacian"])
    return loss


def image_loss(model: SuperResolver, data: ImageCollection | torch.Tensor, config: TrainConfig,
               generator: torch.Generator, device: torch.device, images: int | None = None) -> torch.Tensor:
    """Loss of one step (or one part of a step: ``images`` crops, default ``config.batch_images``)
    on an image collection: random crops, their low-resolution versions and random target
    pixels (whole targets for a fixed-scale model). ``data`` may also be the step's images
    themselves (B, C, H, W), streamed from a data set: random crops of them are taken."""
    if config.gradient_weight > 0 or config.laplacian_weight > 0:
        raise ValueError("gradient_weight / laplacian_weight > 0 need a data source with exact "
                         "derivatives (e.g. funknn.data.RandomBumps), not an image collection")
    count = config.batch_images if images is None else images
    if isinstance(data, torch.Tensor):
        high = crop_each(data, config.size, generator).to(device)
    else:
        high = data.random_crops(count, config.size, generator).to(device)
    low, target = make_pair(high, config.mode, generator)
    if isinstance(model, FixedScaleModel):  # a U-Net: whole images at its one factor
        scale = model.fixed_scale
        if config.mode != "single" or scale != 2 or config.size % 2:
            raise ValueError(f"a fixed-scale model (×{scale}) trains in mode 'single' (×2) with an even "
                             f"size, not mode {config.mode!r}, size {config.size}")
        return loss_value(config.loss, model(low), target)
    coords, values = pixel_batch(target, config.batch_pixels, generator)
    return loss_value(config.loss, query(model, coords, low, target.shape[-2:]), values)


#: one random crop of side ``size`` of each image (B, C, H, W), flipped left-right with probability
#: 1/2: :func:`funknn.data.random_crops`, the one crop helper (kept under its former name)
crop_each = random_crops


def train(model: nn.Module, data: ImageCollection | FunctionSource | Dataset, config: TrainConfig, *,
          checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True,
          meta: dict | None = None, callback: Callable[[int, float], None] | None = None,
          accumulate: int = 1, workers: int = 0, amp: str = "off") -> dict:
    """Train a model on random pixel batches over random image batches.

    Each step draws ``batch_images`` random crops of side ``size`` (with flips), makes the
    low-resolution input and the target for the mode (antialiased resizing), draws
    ``batch_pixels`` random target pixels per image and takes one Adam step on the L1/L2 loss.
    Under torchrun every rank computes its parts of the global batch (see
    :mod:`funknn.distributed`); ``batch_images`` is the global batch.

    Args:
        model: a FunkNN (or any model with the same call signature); trained on its device.
        data: training images (an :class:`~funknn.data.ImageCollection`, in memory), a data set
            of equal-size images streamed by a ``DataLoader`` (e.g.
            :class:`~funknn.data.ImageFolderDataset`; each step's images are taken without
            replacement in a random order per epoch, then randomly cropped), or a source of
            functions with exact targets such as :class:`~funknn.data.RandomBumps`, whose
            ``training_batch(batch, low_size, pixels, generator)`` gives the step's data.
        config: the run's settings.
        checkpoint: file written atomically every ``checkpoint_every`` steps and at the end,
            holding model, optimiser, step, generator state, config, history and ``meta``.
        resume: continue from ``checkpoint`` if it exists (same model and config required).
        progress: show a tqdm progress bar.
        meta: free-form metadata stored in the checkpoint (e.g. the command line).
        callback: called as ``callback(step, loss)`` after every step.
        accumulate: parts of the global batch per process (gradient accumulation).
        workers: ``DataLoader`` worker processes for a streamed data set (0: in this process).
        amp: mixed precision of the forward passes: ``"off"``, ``"bf16"`` or ``"fp16"``
            (see :func:`funknn.engine.run_adam`).

    Returns:
        History ``{"step": [...], "loss": [...], "seconds": float}``.
    """
    device = next(model.parameters()).device
    parallel = distributed.current(accumulate)
    part = parallel.part_size(config.batch_images, "batch_images")
    if isinstance(data, FunctionSource):
        source = data

        def step_loss(generator: torch.Generator, k: int, step: int) -> torch.Tensor:
            return function_loss(model, source, config, generator, device, part)
    elif isinstance(data, ImageCollection):
        images = data

        def step_loss(generator: torch.Generator, k: int, step: int) -> torch.Tensor:
            return image_loss(model, images, config, generator, device, part)
    else:
        stream = LazyStream(data, config.batch_images, config.seed, parallel, config.steps, workers)

        def step_loss(generator: torch.Generator, k: int, step: int) -> torch.Tensor:
            return image_loss(model, stream.part(step, k), config, generator, device, part)

    return run_adam(model, config, step_loss,
                    checkpoint=checkpoint, resume=resume, progress=progress, meta=meta,
                    desc=f"train {config.mode}", callback=callback, accumulate=accumulate,
                    global_batch=config.batch_images, amp=amp)

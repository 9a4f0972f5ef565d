"""Training FunkNN and the baselines (strategies *single*, *continuous*, *factor* of Section
3.1.1): the step's data (low-resolution input, target, random pixels) and the resumable Adam
loop that every trainer of the package shares (checkpoints: :mod:`funknn.checkpoints`)."""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from . import distributed
from .checkpoints import hardware, model_record, read, stored_config, write_atomic
from .data import ImageCollection, resize
from .models.protocols import Configured, FixedScaleModel, SuperResolver
from .rendering import query
from .sampling import grid_coords

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


class StepConfig(Protocol):
    """What :func:`run_adam` reads of a training configuration (a dataclass)."""

    steps: int
    lr: float
    seed: int
    checkpoint_every: int
    lr_drop_at: int
    lr_drop: float


def learning_rate(config: StepConfig, step: int) -> float:
    """The learning rate of step ``step`` (counted from 0): ``lr``, times ``lr_drop`` from
    ``lr_drop_at`` on (a function of the step alone, so a resumed run follows it exactly)."""
    dropped = 0 < config.lr_drop_at <= step
    return config.lr * (config.lr_drop if dropped else 1.0)


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
        if self.mode not in MODES:
            raise ValueError(f"unknown training mode {self.mode!r}; expected one of {MODES}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {LOSSES}")
        if self.size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {self.size}")
        for name in ("steps", "batch_images", "batch_pixels", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        for name in ("gradient_weight", "laplacian_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        check_lr_drop(self.lr_drop_at, self.lr_drop)


def check_lr_drop(lr_drop_at: int, lr_drop: float) -> None:
    """Raise ``ValueError`` unless the step of the learning-rate drop is ≥ 0 and its factor > 0."""
    if lr_drop_at < 0:
        raise ValueError(f"lr_drop_at must be a step >= 0 (0: no drop), got {lr_drop_at}")
    if not lr_drop > 0:
        raise ValueError(f"lr_drop must be positive, got {lr_drop}")


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


# ----------------------------------------------------------------------------- training

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
    from .derivatives import derivatives

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


def crop_each(images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """One random crop of side ``size`` of each image (B, C, H, W), flipped left-right with
    probability 1/2 (the random choices as :meth:`~funknn.data.ImageCollection.random_crops`)."""
    B, _, H, W = images.shape
    if H < size or W < size:
        raise ValueError(f"crop size {size} exceeds the streamed images' size {H}×{W}")
    crops = []
    for b in range(B):
        top = int(torch.randint(H - size + 1, (1,), generator=generator))
        left = int(torch.randint(W - size + 1, (1,), generator=generator))
        crop = images[b, :, top:top + size, left:left + size]
        if bool(torch.randint(2, (1,), generator=generator)):
            crop = crop.flip(-1)
        crops.append(crop)
    return torch.stack(crops)


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
            (see :func:`run_adam`).

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


class LazyStream:
    """The images of each step's parts, streamed from ``data`` (a tensor or a ``Dataset``) in the
    order of :class:`~funknn.distributed.StepBatches`, from whatever step is asked for first
    (a resumed run starts there; later steps must follow in order)."""

    def __init__(self, data: torch.Tensor | Dataset, batch: int, seed: int,
                 parallel: distributed.Parallel, steps: int, workers: int = 0) -> None:
        self.data, self.batch, self.seed, self.parallel = data, batch, seed, parallel
        self.steps, self.workers = steps, workers
        self.part_size = parallel.part_size(batch)
        self._iter: Iterator[torch.Tensor] | None = None
        self._step = -1
        self._images = torch.empty(0)

    def part(self, step: int, k: int) -> torch.Tensor:
        """The images of this process's ``k``-th part of step ``step`` (counted from 0)."""
        if self._iter is None:
            self._iter = distributed.stream(self.data, distributed.StepBatches(
                len(self.data), self.batch, self.seed, step, self.parallel, self.steps),  # type: ignore[arg-type]
                self.workers)
            self._step = step - 1
        if step != self._step:
            if step != self._step + 1:
                raise RuntimeError(f"streamed steps must follow in order: asked for {step} "
                                   f"after {self._step}")
            self._images, self._step = next(self._iter), step
        return self._images[k * self.part_size:(k + 1) * self.part_size]


def optimise(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One optimiser step on ``loss``; returns its value."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def _comparable(value: object) -> object:
    """Lists as tuples: a setting read back from a file compares equal to the dataclass's."""
    return tuple(value) if isinstance(value, list) else value


def check_resume(record: dict, checkpoint: str | Path, model: nn.Module, settings: dict,
                 defaults: dict | None = None) -> None:
    """Raise ``ValueError`` unless the checkpoint ``record`` continues this run: the same model
    (complete configs), the same training ``settings`` (``steps`` may change; a setting an older
    file lacks counts as its ``defaults`` value) and the optimiser state present (not a file
    written by :func:`funknn.checkpoints.release`). Every trainer of the package checks with it."""
    mine_model = model.config if isinstance(model, Configured) else None
    if stored_config(record) != mine_model:
        raise ValueError(f"cannot resume from {str(checkpoint)!r}: it holds a model with config "
                         f"{stored_config(record)}, not {mine_model}")
    saved = {**(defaults or {}), **record.get("train_config", {})}
    differ = [k for k in settings
              if k != "steps" and _comparable(saved.get(k)) != _comparable(settings[k])]
    if differ:
        raise ValueError(f"cannot resume from {str(checkpoint)!r}: training settings {differ} differ")
    if "optimizer" not in record:
        raise ValueError(f"cannot resume from {str(checkpoint)!r}: it holds weights only (written by "
                         "funknn.checkpoints.release); train from scratch with resume=False / --restart")


def run_record(model: nn.Module, *, step: int, optimizer: dict, states: list, settings: dict,
               history: dict, meta: dict | None, layout: dict) -> dict:
    """The checkpoint of a training run at ``step``, in the layout every trainer writes: the
    model (:func:`funknn.checkpoints.model_record`), optimiser state(s), step, every part's
    random-generator state (``generator``: part 0's), the training settings, the history, and
    ``meta`` (the caller's, plus steps, settings, the data-parallel ``layout``, wall seconds,
    hardware and torch version)."""
    return {**model_record(model), "optimizer": optimizer, "step": step, "generator": states[0],
            "generators": states, "train_config": settings, "history": history,
            "meta": {**(meta or {}), "steps": step, "train_config": settings, **layout,
                     "wall_seconds": round(history["seconds"], 1), "hardware": hardware(),
                     "torch": str(torch.__version__)}}


def run_adam(model: nn.Module, config: StepConfig,
             step_loss: Callable[[torch.Generator, int, int], torch.Tensor], *,
             checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True,
             meta: dict | None = None, desc: str = "train",
             callback: Callable[[int, float], None] | None = None,
             state: dict | None = None, accumulate: int = 1, global_batch: int | None = None,
             amp: str = "off") -> dict:
    """The resumable, data-parallel training loop shared by :func:`train` and the generative
    prior's parts.

    Adam (``config.lr``) for ``config.steps`` steps. A step sums ``step_loss(generator, k, step)``
    over this process's parts ``k = 0 … accumulate − 1`` of the global batch (each part's
    ``generator`` seeded from ``config.seed``, part 0's by the seed itself; ``step`` counted from
    0), divided by the number of parts, and averages the gradients over the ranks of a torchrun
    run (:mod:`funknn.distributed`): every rank takes the same step. Atomic checkpoints (rank 0)
    every ``config.checkpoint_every`` steps and at the end (model, optimiser, step, every part's
    generator state, config, history, ``meta`` with ``world_size``, ``accumulate`` and
    ``global_batch``, and the entries of ``state``); resuming restores all of them, so a resumed
    run equals an uninterrupted one, and refuses another model, other settings (``steps`` may
    change) or another number of parts. ``state`` is a dict that ``step_loss`` may update in
    place; it is saved and restored with the run. ``amp`` (``"off"``, ``"bf16"``, ``"fp16"``)
    runs the losses under ``torch.autocast`` in that precision (fp16 with a gradient scaler).
    """
    from tqdm.auto import tqdm

    if amp not in AMP:
        raise ValueError(f"unknown amp {amp!r}; expected one of {AMP}")
    parallel = distributed.current(accumulate)
    device = next(model.parameters()).device
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
    state = {} if state is None else state
    generators = parallel.generators(config.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: dict = {"step": [], "loss": [], "seconds": 0.0}
    step = 0
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        record = read(checkpoint)
        check_resume(record, checkpoint, model, dataclasses.asdict(config),  # type: ignore[call-overload]
                     defaults={f.name: f.default for f in dataclasses.fields(config)})  # type: ignore[arg-type]
        model.load_state_dict(record["state_dict"])
        optimiser.load_state_dict(record["optimizer"])
        restore_generators(record, checkpoint, generators, parallel)
        history, step = record["history"], int(record["step"])
        state.update({k: record[k] for k in state if k in record})
    distributed.broadcast_parameters(model)
    settings = dataclasses.asdict(config)  # type: ignore[call-overload]
    layout = {"world_size": parallel.world_size, "accumulate": parallel.accumulate, "parts": parallel.parts,
              "global_batch": global_batch, "amp": amp}

    def write() -> None:
        if checkpoint is None:          # the same on every rank
            return
        states = distributed.gather_states([g.get_state() for g in generators], parallel)
        if not parallel.main:
            return
        record = run_record(model, step=step, optimizer=optimiser.state_dict(), states=states,
                            settings=settings, history=history, meta=meta, layout=layout)
        write_atomic({**record, **state}, checkpoint)

    model.train()
    bar = tqdm(total=config.steps, initial=step, disable=not (progress and parallel.main), desc=desc)
    start = time.perf_counter()
    elapsed0 = history["seconds"]
    params = list(model.parameters())
    while step < config.steps:
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(config, step)
        value = _accumulated_step(params, optimiser, scaler, generators, step_loss, step,
                                  lambda: autocast(device, amp))
        step += 1
        history["step"].append(step)
        history["loss"].append(value)
        history["seconds"] = elapsed0 + time.perf_counter() - start
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4f}")
        if callback is not None:
            callback(step, value)
        if step % config.checkpoint_every == 0 or step == config.steps:
            write()
    bar.close()
    model.eval()
    return history


def _accumulated_step(params: list[nn.Parameter], optimiser: torch.optim.Optimizer,
                      scaler: torch.amp.GradScaler, generators: list[torch.Generator],
                      step_loss: Callable[[torch.Generator, int, int], torch.Tensor], step: int,
                      precision: Callable[[], contextlib.AbstractContextManager]) -> float:
    """One optimiser step on the mean loss of this process's parts (one per generator), with the
    gradients averaged over the ranks; returns the loss averaged over parts and ranks."""
    optimiser.zero_grad(set_to_none=True)
    total = 0.0
    for k, generator in enumerate(generators):
        with precision():
            loss = step_loss(generator, k, step) / len(generators)
        scaler.scale(loss).backward()
        total += float(loss.detach())
    value = distributed.average_gradients(params, [total])[0]
    scaler.step(optimiser)
    scaler.update()
    return value


#: precisions of :func:`run_adam`'s ``amp``
AMP = ("off", "bf16", "fp16")


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` in the precision ``amp`` names on ``device`` (a no-op for ``"off"``)."""
    if amp == "off":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def restore_generators(record: dict, checkpoint: str | Path, generators: list[torch.Generator],
                       parallel: distributed.Parallel) -> None:
    """Set this process's parts' generators from a training checkpoint; raises ``ValueError``
    when it was written by a run with another number of parts (``world_size × accumulate``)."""
    states = record.get("generators", [record["generator"]])
    if len(states) != parallel.parts:
        raise ValueError(f"cannot resume from {str(checkpoint)!r}: it was written by a run of {len(states)} "
                         f"part(s) per step (world_size × accumulate) and this run has {parallel.parts} "
                         f"(world_size {parallel.world_size} × accumulate {parallel.accumulate}); resume "
                         f"with the same product, e.g. --accumulate {len(states)} in one process")
    for g, p in zip(generators, parallel.my_parts):
        g.set_state(states[p])


def step_cost(model: nn.Module, loss: Callable[[], torch.Tensor]) -> dict[str, float]:
    """What one training step of ``model`` costs, measured on one call of ``loss()`` and its
    backward pass: ``flops`` (the matrix-multiply and convolution FLOPs of forward + backward,
    counted by ``torch.utils.flop_counter``), ``activation_bytes`` (the tensors autograd keeps
    for the backward pass, each storage once, parameters excluded: the memory that grows with
    the batch) and ``state_bytes`` (weights, gradients and Adam's two moments: 4 × the
    parameters' bytes). Gradients are left in ``model``'s parameters.

    Example:
        >>> m = nn.Linear(10, 5)
        >>> cost = step_cost(m, lambda: m(torch.ones(8, 10)).sum())
        >>> cost["flops"], cost["state_bytes"]    # 2·8·10·5 forward + as many for the weight gradient
        (1600.0, 880.0)
    """
    from torch.utils.flop_counter import FlopCounterMode

    owned = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in owned:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    counter = FlopCounterMode(display=False)
    with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        value = loss()
        value.backward()
    state = 4 * sum(p.numel() * p.element_size() for p in model.parameters())
    return {"flops": float(counter.get_total_flops()), "activation_bytes": float(sum(saved.values())),
            "state_bytes": float(state)}


def step_seconds(model: nn.Module, loss: Callable[[], torch.Tensor], repeats: int = 1,
                 lr: float = 1e-4) -> float:
    """The median wall-clock seconds of an Adam step of ``model`` on ``loss()`` (forward,
    backward, update) over ``repeats`` steps after one warm-up step; CUDA is synchronised around
    each step. The model's weights change (``repeats`` + 1 steps of learning rate ``lr``).

    Example:
        >>> m = nn.Linear(10, 5)
        >>> step_seconds(m, lambda: m(torch.ones(8, 10)).sum(), repeats=2) > 0
        True
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    device = next(model.parameters()).device
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    times = []
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        optimise(optimiser, loss())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return float(statistics.median(times[1:]))

"""Training FunkNN (strategies *single*, *continuous*, *factor* of Section 3.1.1), evaluation,
and checkpoints (atomic writes, resumable)."""

from __future__ import annotations

import dataclasses
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import __version__
from .data import ImageCollection, resize
from .metrics import psnr, si_snr, snr
from .rendering import query, render, supports_size
from .sampling import grid_coords

MODES = ("single", "continuous", "factor")
LOSSES = ("l1", "l2", "log_l2")
FORMAT = "funknn-checkpoint-v1"


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


# ----------------------------------------------------------------------------- checkpoints

def _atomic_save(obj: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _model_record(model: nn.Module) -> dict:
    from .models import MODEL_REGISTRY

    name = type(model).__name__
    if name not in MODEL_REGISTRY or not hasattr(model, "config"):
        raise TypeError(f"cannot save a {name}: only {sorted(MODEL_REGISTRY)} can be rebuilt from a file")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {"model_class": name, "model_config": dict(model.config), "state_dict": state}


def hardware() -> str:
    """One line naming the machine (GPU name when CUDA is used, else the CPU)."""
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def save(model: nn.Module, path: str | Path, **meta: Any) -> None:
    """Write a model to ``path`` atomically: class, constructor arguments, weights, package
    version and free-form metadata (training command, data, steps, wall time, hardware)."""
    record = {"format": FORMAT, "version": __version__, **_model_record(model), "meta": dict(meta)}
    _atomic_save(record, path)


def read_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint file as a dict; clear errors for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"checkpoint {str(path)!r} is unreadable or corrupt: {err}") from err
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a funknn checkpoint (expected format {FORMAT})")
    return record


def release(src: str | Path, dst: str | Path | None = None) -> Path:
    """Write a training checkpoint without its optimiser and random-generator state.

    What remains is the model, its metadata (command, steps, wall time …) and the loss history:
    everything :func:`load` needs, at a third of the size for Adam (the shipped baselines are
    stored this way). Such a file cannot be resumed; retrain with its command instead.

    Args:
        src: a checkpoint written by :func:`train`.
        dst: output file (default: overwrite ``src``, atomically).
    """
    record = read_checkpoint(src)
    kept = {k: v for k, v in record.items() if k not in ("optimizer", "generator")}
    kept["meta"] = {**kept.get("meta", {}), "released": "optimiser and generator state removed"}
    out = Path(dst) if dst is not None else Path(src)
    _atomic_save(kept, out)
    return out


def load(path: str | Path, device: torch.device | str | None = None) -> nn.Module:
    """Rebuild a model from a checkpoint written by :func:`save` or :func:`train`.

    Returns:
        The model in eval mode, with the file's metadata as ``model.meta`` and the training
        step (if any) as ``model.meta["step"]``.
    """
    from .models import MODEL_REGISTRY

    record = read_checkpoint(path)
    cls = MODEL_REGISTRY.get(record.get("model_class", ""))
    if cls is None:
        raise ValueError(f"checkpoint {str(path)!r} holds an unknown model class "
                         f"{record.get('model_class')!r}")
    model = cls(**record["model_config"])
    try:
        model.load_state_dict(record["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {str(path)!r} does not match its model: {err}") from err
    model.meta = dict(record.get("meta", {}))
    if "step" in record:
        model.meta["step"] = record["step"]
    return model.to(device).eval() if device is not None else model.eval()


# ----------------------------------------------------------------------------- training

def _loss(kind: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if kind == "l1":
        return F.l1_loss(pred, target)
    if kind == "log_l2":  # log of the MSE: a sum of these is a sum of SNRs in dB (up to sign and scale)
        return torch.log(F.mse_loss(pred, target) + 1e-30)
    return F.mse_loss(pred, target)


def _step_loss(model: nn.Module, data: Any, config: TrainConfig, generator: torch.Generator,
               device: torch.device) -> torch.Tensor:
    """Loss of one step on an image collection (crops) or a function source (exact targets)."""
    if hasattr(data, "training_batch"):
        d = draw_low_size(config.mode, config.size, generator)
        batch = {k: v.to(device) for k, v in
                 data.training_batch(config.batch_images, d, config.batch_pixels, generator).items()}
        if config.gradient_weight > 0 or config.laplacian_weight > 0:
            from .derivatives import derivatives

            order = 2 if config.laplacian_weight > 0 else 1
            pred, grad, lap = derivatives(model, batch["low"], batch["coords"], order=order,
                                          chunk=batch["coords"].shape[1], create_graph=True)
            loss = _loss(config.loss, pred, batch["values"])
            if config.gradient_weight > 0:
                loss = loss + config.gradient_weight * _loss(config.loss, grad, batch["gradient"])
            if config.laplacian_weight > 0:
                if "laplacian" not in batch:
                    raise ValueError("laplacian_weight > 0 needs a data source with exact Laplacians")
                loss = loss + config.laplacian_weight * _loss(config.loss, lap, batch["laplacian"])
            return loss
        return _loss(config.loss, model(batch["coords"], batch["low"]), batch["values"])
    if config.gradient_weight > 0 or config.laplacian_weight > 0:
        raise ValueError("gradient_weight / laplacian_weight > 0 need a data source with exact "
                         "derivatives (e.g. funknn.data.RandomBumps), not an image collection")
    high = data.random_crops(config.batch_images, config.size, generator).to(device)
    low, target = make_pair(high, config.mode, generator)
    scale = getattr(model, "fixed_scale", None)
    if scale is not None:  # a U-Net: whole images at its one factor
        if config.mode != "single" or scale != 2 or config.size % 2:
            raise ValueError(f"a fixed-scale model (×{scale}) trains in mode 'single' (×2) with an even "
                             f"size, not mode {config.mode!r}, size {config.size}")
        return _loss(config.loss, model(low), target)
    coords, values = pixel_batch(target, config.batch_pixels, generator)
    return _loss(config.loss, query(model, coords, low, target.shape[-2:]), values)


def train(model: nn.Module, data: ImageCollection | Any, config: TrainConfig, *,
          checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True,
          meta: dict | None = None, callback: Callable[[int, float], None] | None = None) -> dict:
    """Train a model on random pixel batches over random image batches.

    Each step draws ``batch_images`` random crops of side ``size`` (with flips), makes the
    low-resolution input and the target for the mode (antialiased resizing), draws
    ``batch_pixels`` random target pixels per image and takes one Adam step on the L1/L2 loss.

    Args:
        model: a FunkNN (or any model with the same call signature); trained on its device.
        data: training images (an :class:`~funknn.data.ImageCollection`), or a source of
            functions with exact targets such as :class:`~funknn.data.RandomBumps`, whose
            ``training_batch(batch, low_size, pixels, generator)`` gives the step's data.
        config: the run's settings.
        checkpoint: file written atomically every ``checkpoint_every`` steps and at the end,
            holding model, optimiser, step, generator state, config, history and ``meta``.
        resume: continue from ``checkpoint`` if it exists (same model and config required).
        progress: show a tqdm progress bar.
        meta: free-form metadata stored in the checkpoint (e.g. the command line).
        callback: called as ``callback(step, loss)`` after every step.

    Returns:
        History ``{"step": [...], "loss": [...], "seconds": float}``.
    """
    device = next(model.parameters()).device
    return run_adam(model, config, lambda generator: _step_loss(model, data, config, generator, device),
                    checkpoint=checkpoint, resume=resume, progress=progress, meta=meta,
                    desc=f"train {config.mode}", callback=callback)


def optimise(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One optimiser step on ``loss``; returns its value."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def run_adam(model: nn.Module, config: Any, step_loss: Callable[[torch.Generator], torch.Tensor], *,
             checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True,
             meta: dict | None = None, desc: str = "train",
             callback: Callable[[int, float], None] | None = None,
             state: dict | None = None) -> dict:
    """The resumable training loop shared by :func:`train` and the generative prior's parts.

    Adam (``config.lr``) for ``config.steps`` steps on ``step_loss(generator)``, where
    ``generator`` is seeded by ``config.seed``; atomic checkpoints every
    ``config.checkpoint_every`` steps and at the end (model, optimiser, step, generator state,
    config, history, ``meta`` and the entries of ``state``); resuming restores all of them, so a
    resumed run equals an uninterrupted one, and refuses another model or other settings
    (``steps`` may change). ``state`` is a dict that ``step_loss`` may update in place (e.g. an
    epoch's remaining order); it is saved and restored with the run.
    """
    from tqdm.auto import tqdm

    state = {} if state is None else state
    generator = torch.Generator().manual_seed(config.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: dict = {"step": [], "loss": [], "seconds": 0.0}
    step = 0
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        record = read_checkpoint(checkpoint)
        if record.get("model_config") != getattr(model, "config", None):
            raise ValueError(f"cannot resume from {str(checkpoint)!r}: it holds a model with config "
                             f"{record.get('model_config')}, not {getattr(model, 'config', None)}")
        saved = dict(record.get("train_config", {}))
        mine = dataclasses.asdict(config)
        defaults = {f.name: f.default for f in dataclasses.fields(type(config))}
        differ = [k for k in mine if k != "steps" and saved.get(k, defaults[k]) != mine[k]]
        if differ:
            raise ValueError(f"cannot resume from {str(checkpoint)!r}: training settings {differ} differ")
        if "optimizer" not in record:
            raise ValueError(f"cannot resume from {str(checkpoint)!r}: it holds weights only (written by "
                             "funknn.training.release); train from scratch with resume=False / --restart")
        model.load_state_dict(record["state_dict"])
        optimiser.load_state_dict(record["optimizer"])
        generator.set_state(record["generator"])
        history = record["history"]
        step = int(record["step"])
        state.update({k: record[k] for k in state if k in record})

    def write() -> None:
        if checkpoint is None:
            return
        record = {"format": FORMAT, "version": __version__, **_model_record(model),
                  "optimizer": optimiser.state_dict(), "step": step, **state,
                  "generator": generator.get_state(), "train_config": dataclasses.asdict(config),
                  "history": history,
                  "meta": {**(meta or {}), "steps": step, "train_config": dataclasses.asdict(config),
                           "wall_seconds": round(history["seconds"], 1), "hardware": hardware(),
                           "torch": str(torch.__version__)}}
        _atomic_save(record, checkpoint)

    model.train()
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc=desc)
    start = time.perf_counter()
    elapsed0 = history["seconds"]
    while step < config.steps:
        value = optimise(optimiser, step_loss(generator))
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


# ----------------------------------------------------------------------------- evaluation

def super_resolve(model: nn.Module, low: torch.Tensor, size: int | Sequence[int],
                  hierarchical: bool = False, chunk: int = 1024) -> torch.Tensor:
    """Render ``low`` (B, C, d, d) at ``size`` with a model, in eval mode, without gradients."""
    was_training = model.training
    model.eval()
    try:
        return render(model, low, size, chunk=chunk, hierarchical=hierarchical)
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, high: torch.Tensor, low_size: int, scales: Sequence[int] = (2, 4),
             hierarchical: bool = False, batch: int = 8, chunk: int = 1024
             ) -> dict[int, dict[str, torch.Tensor]]:
    """Super-resolution quality on held-out images.

    The input is ``high`` resized (antialiased) to ``low_size``; for each scale s the output of
    side s·low_size is compared with ``high`` resized to that side.

    Args:
        model: a continuous model (FunkNN or an :class:`~funknn.models.baselines.Interpolator`).
        high: (T, C, H, W) ground-truth images.
        low_size: side of the low-resolution input.
        scales: super-resolution factors.
        hierarchical: render by repeated ×2 (factor-trained models).

    Returns:
        ``{scale: {"snr": (T,), "si_snr": (T,), "psnr": (T,), "seconds": float}}`` (seconds for
        all T images); a fixed-scale model (U-Net) has entries only for its own scale.
    """
    low = resize(high, low_size)
    results: dict[int, dict[str, torch.Tensor]] = {}
    for s in scales:
        if not supports_size(model, (low_size, low_size), (s * low_size, s * low_size)):
            continue
        target = resize(high, s * low_size)
        start = time.perf_counter()
        outs = [super_resolve(model, low[i:i + batch], s * low_size, hierarchical, chunk)
                for i in range(0, len(low), batch)]
        seconds = time.perf_counter() - start
        out = torch.cat(outs).to(target.device)
        results[s] = {"snr": snr(out, target), "si_snr": si_snr(out, target),
                      "psnr": psnr(out, target), "seconds": seconds}
    return results

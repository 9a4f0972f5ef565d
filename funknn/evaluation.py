"""Super-resolution quality on held-out images: the per-scale metrics of Tables 1 and 2."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .data import resize
from .metrics import psnr, si_snr, snr
from .models.protocols import SuperResolver
from .rendering import render, supports_size

#: the per-image metrics that :func:`evaluate` reports at each scale
METRICS = ("snr", "si_snr", "psnr")


def super_resolve(model: SuperResolver, low: torch.Tensor, size: int | Sequence[int],
                  hierarchical: bool = False, chunk: int = 1024) -> torch.Tensor:
    """Render ``low`` (B, C, d, d) at ``size`` with a model, in eval mode, without gradients."""
    if not isinstance(model, nn.Module):
        return render(model, low, size, chunk=chunk, hierarchical=hierarchical)
    was_training = model.training
    model.eval()
    try:
        return render(model, low, size, chunk=chunk, hierarchical=hierarchical)
    finally:
        model.train(was_training)


def evaluate(model: SuperResolver, high: torch.Tensor, low_size: int, scales: Sequence[int] = (2, 4),
             hierarchical: bool = False, batch: int = 8, chunk: int = 1024
             ) -> dict[int, dict[str, Any]]:
    """Super-resolution quality on held-out images.

    The input is ``high`` resized (antialiased) to ``low_size``; for each scale s the output of
    side s·low_size is compared with ``high`` resized to that side.

    Args:
        model: a continuous model (FunkNN or an :class:`~funknn.sampling.Interpolator`).
        high: (T, C, H, W) ground-truth images.
        low_size: side of the low-resolution input.
        scales: super-resolution factors.
        hierarchical: render by repeated ×2 (factor-trained models).

    Returns:
        ``{scale: {"snr": (T,), "si_snr": (T,), "psnr": (T,), "seconds": float}}`` (seconds for
        all T images); a fixed-scale model (U-Net) has entries only for its own scale.
    """
    low = resize(high, low_size)
    results: dict[int, dict[str, Any]] = {}
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


def mean_scores(result: Mapping[int, Mapping[str, Any]], metric: str = "snr",
                scales: Sequence[int] | None = None) -> dict[int, float]:
    """The mean over the test images of one metric at each scale: a row of Tables 1 and 2.

    Args:
        result: what :func:`evaluate` returned for one model.
        metric: one of :data:`METRICS`.
        scales: the scales to report, in order (default: the result's); a scale missing from the
            result (one a fixed-scale model cannot render) is ``nan``.

    >>> result = {2: {"snr": torch.tensor([30.0, 32.0]), "seconds": 0.1}}
    >>> mean_scores(result, "snr", scales=(2, 4))
    {2: 31.0, 4: nan}
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return {s: float(result[s][metric].mean()) if s in result else math.nan
            for s in (result if scales is None else scales)}

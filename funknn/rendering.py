"""Rendering a continuous model on a pixel grid of any size, in chunks of bounded memory."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .sampling import check_image, grid_coords


def _size(size: int | Sequence[int]) -> tuple[int, int]:
    hw = (int(size), int(size)) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"size must be a positive int or (H, W), got {size!r}")
    return hw  # type: ignore[return-value]


def supports_size(model: nn.Module, image_size: Sequence[int], size: Sequence[int]) -> bool:
    """Whether ``model`` can render an input of ``image_size`` (h, w) at ``size`` (H, W).

    Continuous models render any size; a fixed-scale model (a U-Net, ``model.fixed_scale``)
    only its own factor.
    """
    scale = getattr(model, "fixed_scale", None)
    return scale is None or tuple(size) == tuple(scale * int(s) for s in image_size)


def query(model: nn.Module, coords: torch.Tensor, image: torch.Tensor, size: Sequence[int],
          features: torch.Tensor | None = None) -> torch.Tensor:
    """``model(coords, image)`` for a model rendering a grid of ``size`` (H, W).

    Models with ``needs_cell`` (LIIF) also receive the output pixel's size; ``features`` from
    their ``encode`` spare re-encoding the image for every chunk.
    """
    if getattr(model, "needs_cell", False):
        cell = (2.0 / size[1], 2.0 / size[0])
        if features is None:
            features = model.encode(image)
        return model.query(features, coords, cell)
    return model(coords, image)


def _render_direct(model: nn.Module, image: torch.Tensor, size: tuple[int, int],
                   chunk: int) -> torch.Tensor:
    B = image.shape[0]
    H, W = size
    if getattr(model, "fixed_scale", None) is not None:
        if not supports_size(model, image.shape[-2:], size):
            raise ValueError(f"{type(model).__name__} maps only ×{model.fixed_scale}: cannot render "
                             f"{tuple(image.shape[-2:])} at {size}")
        return model(image)
    features = model.encode(image) if getattr(model, "needs_cell", False) else None
    coords = grid_coords(H, W, device=image.device, dtype=image.dtype)
    per_image = max(1, chunk // B)
    parts = []
    for start in range(0, H * W, per_image):
        c = coords[start:start + per_image].unsqueeze(0).expand(B, -1, -1)
        parts.append(query(model, c, image, size, features))   # (B, n, C)
    out = torch.cat(parts, dim=1)                          # (B, H*W, C)
    return out.transpose(1, 2).reshape(B, -1, H, W)


def render(model: nn.Module, image: torch.Tensor, size: int | Sequence[int], chunk: int = 1024,
           hierarchical: bool = False, grad: bool = False) -> torch.Tensor:
    """Evaluate a continuous model at the pixel centres of an H×W grid.

    Args:
        model: callable ``model(coords (B, N, 2), image (B, C, h, w)) -> (B, N, C)`` (LIIF also
            gets the output cell), or a fixed-scale model (U-Net) for its one output size.
        image: (B, C, h, w) low-resolution input.
        size: output side or (H, W); any size, not only multiples of the input.
        chunk: queries evaluated at once, over the whole batch (memory grows linearly with
            it; at least one query per image).
        hierarchical: for factor-trained models: double the resolution repeatedly
            (h → 2h → 4h …) while that does not exceed ``size``, each step feeding the previous
            output back in, then render the last step directly to ``size`` if needed.
        grad: keep the autograd graph (memory then grows with the output size).

    Returns:
        (B, C, H, W).
    """
    check_image(image)
    H, W = _size(size)
    if int(chunk) < 1:
        raise ValueError(f"chunk must be a positive number of queries, got {chunk}")
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        current = image
        if hierarchical:
            while 2 * current.shape[-2] <= H and 2 * current.shape[-1] <= W:
                current = _render_direct(model, current, (2 * current.shape[-2], 2 * current.shape[-1]),
                                         int(chunk))
        if tuple(current.shape[-2:]) != (H, W):
            current = _render_direct(model, current, (H, W), int(chunk))
        return current

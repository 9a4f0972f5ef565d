"""Rendering a continuous model on a pixel grid of any size, in chunks of bounded memory."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .models.protocols import CellModel, FixedScaleModel, SuperResolver
from .sampling import as_size, check_image, grid_coords


def supports_size(model: SuperResolver, image_size: Sequence[int], size: Sequence[int]) -> bool:
    """Whether ``model`` can render an input of ``image_size`` (h, w) at ``size`` (H, W).

    Continuous models render any size; a :class:`~funknn.models.protocols.FixedScaleModel`
    (a U-Net) only its own factor.
    """
    if isinstance(model, FixedScaleModel):
        return tuple(size) == tuple(model.fixed_scale * int(s) for s in image_size)
    return True


def query(model: SuperResolver, coords: torch.Tensor, image: torch.Tensor, size: Sequence[int],
          features: torch.Tensor | None = None) -> torch.Tensor:
    """``model(coords, image)`` for a model rendering a grid of ``size`` (H, W).

    A :class:`~funknn.models.protocols.CellModel` (LIIF) also receives the output pixel's size;
    ``features`` from its ``encode`` spare re-encoding the image for every chunk.
    """
    if isinstance(model, CellModel):
        cell = (2.0 / size[1], 2.0 / size[0])
        if features is None:
            features = model.encode(image)
        return model.query(features, coords, cell)
    if isinstance(model, FixedScaleModel):
        raise TypeError(f"{type(model).__name__} maps whole images (×{model.fixed_scale}); it cannot be "
                        "queried at coordinates")
    return model(coords, image)


def _render_direct(model: SuperResolver, image: torch.Tensor, size: tuple[int, int],
                   chunk: int) -> torch.Tensor:
    B = image.shape[0]
    H, W = size
    if isinstance(model, FixedScaleModel):
        if not supports_size(model, image.shape[-2:], size):
            raise ValueError(f"{type(model).__name__} maps only ×{model.fixed_scale}: cannot render "
                             f"{tuple(image.shape[-2:])} at {size}")
        return model(image)
    features = model.encode(image) if isinstance(model, CellModel) else None
    coords = grid_coords(H, W, device=image.device, dtype=image.dtype)
    per_image = max(1, chunk // B)
    parts = []
    for start in range(0, H * W, per_image):
        c = coords[start:start + per_image].unsqueeze(0).expand(B, -1, -1)
        parts.append(query(model, c, image, size, features))   # (B, n, C)
    out = torch.cat(parts, dim=1)                          # (B, H*W, C)
    return out.transpose(1, 2).reshape(B, -1, H, W)


def render(model: SuperResolver, image: torch.Tensor, size: int | Sequence[int], chunk: int = 1024,
           hierarchical: bool = False, grad: bool = False) -> torch.Tensor:
    """Evaluate a continuous model at the pixel centres of an H×W grid.

    Args:
        model: a :class:`~funknn.models.protocols.CoordinateModel`
            ``model(coords (B, N, 2), image (B, C, h, w)) -> (B, N, C)``, a
            :class:`~funknn.models.protocols.CellModel` (LIIF: it also gets the output cell), or
            a :class:`~funknn.models.protocols.FixedScaleModel` (U-Net) for its one output size.
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

    Example:
        >>> from funknn.sampling import Interpolator
        >>> render(Interpolator("bilinear"), torch.rand(2, 3, 8, 8), (12, 20)).shape
        torch.Size([2, 3, 12, 20])
    """
    check_image(image)
    H, W = as_size(size)
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

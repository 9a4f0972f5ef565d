r"""Spatial derivatives of a continuous image model by automatic differentiation.

A model is any callable ``model(coords (B, N, 2), image (B, C, H, W)) -> (B, N, C)`` whose
output at a query depends only on that query's coordinate (FunkNN, an
:class:`~funknn.sampling.Interpolator`, …). Derivatives are taken with respect to
the coordinates (x along the width, y along the height, in [-1, 1]), chunk by chunk so that
memory stays bounded at any output size.

Only the ``cubic_conv`` kernel gives usable second derivatives: bilinear is piecewise linear
(its Laplacian is zero almost everywhere) and torch's bicubic (Keys, a = -0.75) does not
reproduce linear functions, so its curvature is wrong by orders of magnitude.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from .models.protocols import CoordinateModel as Model
from .sampling import as_size, check_coords, check_image


class AnalyticImages(Protocol):
    """Images known in closed form (e.g. :class:`~funknn.data.GaussianBumps`): point samples on a
    grid and exact values, gradients and Laplacians at coordinates (B, N, 2)."""

    def images(self, size: int | tuple[int, int], dtype: torch.dtype = torch.float32) -> torch.Tensor: ...

    def values(self, coords: torch.Tensor) -> torch.Tensor: ...

    def gradient(self, coords: torch.Tensor) -> torch.Tensor: ...

    def laplacian(self, coords: torch.Tensor) -> torch.Tensor: ...


def _chunk_derivatives(model: Model, image: torch.Tensor, coords: torch.Tensor, order: int,
                       create_graph: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    c = coords if (create_graph and coords.requires_grad) else coords.detach().requires_grad_(True)
    u = model(c, image)                                           # (B, n, C)
    grads, laps = [], []
    keep = create_graph or order > 1
    for k in range(u.shape[-1]):
        (g,) = torch.autograd.grad(u[..., k].sum(), c, create_graph=keep, retain_graph=True)
        grads.append(g)                                           # (B, n, 2)
        if order > 1:
            (gxx,) = torch.autograd.grad(g[..., 0].sum(), c, create_graph=create_graph, retain_graph=True)
            (gyy,) = torch.autograd.grad(g[..., 1].sum(), c, create_graph=create_graph, retain_graph=True)
            laps.append(gxx[..., 0] + gyy[..., 1])                # (B, n)
    grad = torch.stack(grads, dim=2)                              # (B, n, C, 2)
    lap = torch.stack(laps, dim=2) if order > 1 else None         # (B, n, C)
    if not create_graph:
        return u.detach(), grad.detach(), None if lap is None else lap.detach()
    return u, grad, lap


def derivatives(model: Model, image: torch.Tensor, coords: torch.Tensor, *, order: int = 2,
                chunk: int = 4096, create_graph: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    r"""Values, gradient and Laplacian of the rendered function at the given coordinates.

    Args:
        model: ``model(coords, image) -> (B, N, C)``.
        image: (B, C, H, W) low-resolution input.
        coords: (B, N, 2) query coordinates in [-1, 1].
        order: 1 (values and gradient) or 2 (also the Laplacian).
        chunk: queries per image evaluated at once (bounds memory unless ``create_graph``).
        create_graph: keep the autograd graph so that losses on the derivatives can be
            back-propagated into the image, the model's weights and the coordinates.

    Returns:
        ``(u (B, N, C), grad (B, N, C, 2), laplacian (B, N, C) or None)`` where
        ``grad[..., 0]`` is :math:`\partial u / \partial x` and ``grad[..., 1]`` is
        :math:`\partial u / \partial y`.

    Example:
        >>> from funknn.sampling import Interpolator
        >>> img = torch.rand(1, 1, 16, 16, dtype=torch.float64)
        >>> coords = torch.zeros(1, 3, 2, dtype=torch.float64)
        >>> u, g, lap = derivatives(Interpolator("cubic_conv"), img, coords)
        >>> g.shape, lap.shape
        (torch.Size([1, 3, 1, 2]), torch.Size([1, 3, 1]))
    """
    check_image(image)
    check_coords(coords, batch=image.shape[0])
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    if int(chunk) < 1:
        raise ValueError(f"chunk must be a positive number of queries, got {chunk}")
    parts = []
    with torch.enable_grad():
        for start in range(0, coords.shape[1], int(chunk)):
            parts.append(_chunk_derivatives(model, image, coords[:, start:start + int(chunk)], order,
                                            create_graph))
    u = torch.cat([p[0] for p in parts], dim=1)
    grad = torch.cat([p[1] for p in parts], dim=1)
    laps = [p[2] for p in parts if p[2] is not None]
    lap = torch.cat(laps, dim=1) if order > 1 else None
    return u, grad, lap


def gradient(model: Model, image: torch.Tensor, coords: torch.Tensor, *, chunk: int = 4096,
             create_graph: bool = False) -> torch.Tensor:
    """Gradient (B, N, C, 2) of the rendered function w.r.t. (x, y); see :func:`derivatives`."""
    return derivatives(model, image, coords, order=1, chunk=chunk, create_graph=create_graph)[1]


def laplacian(model: Model, image: torch.Tensor, coords: torch.Tensor, *, chunk: int = 4096,
              create_graph: bool = False) -> torch.Tensor:
    """Laplacian (B, N, C) of the rendered function w.r.t. (x, y); see :func:`derivatives`."""
    lap = derivatives(model, image, coords, order=2, chunk=chunk, create_graph=create_graph)[2]
    assert lap is not None
    return lap


def render_derivatives(model: Model, image: torch.Tensor, size: int | tuple[int, int], *, chunk: int = 4096
                       ) -> dict[str, torch.Tensor]:
    """Image, gradient and Laplacian of the rendered function on the pixel centres of an H×W grid.

    Returns:
        ``{"image": (B, C, H, W), "gradient": (B, C, 2, H, W), "laplacian": (B, C, H, W)}``.
    """
    from .sampling import grid_coords

    H, W = as_size(size)
    B = image.shape[0]
    coords = grid_coords(H, W, device=image.device, dtype=image.dtype).unsqueeze(0).expand(B, -1, -1)
    u, grad, lap = derivatives(model, image, coords.contiguous(), order=2, chunk=chunk)
    assert lap is not None
    C = u.shape[-1]                          # the model's output channels (not always the input's)
    return {"image": u.transpose(1, 2).reshape(B, C, H, W),
            "gradient": grad.permute(0, 2, 3, 1).reshape(B, C, 2, H, W),
            "laplacian": lap.transpose(1, 2).reshape(B, C, H, W)}


def derivative_snr(model: Model, functions: AnalyticImages, low_size: int, size: int, *, chunk: int = 4096,
                   points: int | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """Accuracy of a model's derivatives against analytic ones, on a grid.

    The model sees ``functions.images(low_size)`` (point samples at the pixel centres of a
    ``low_size × low_size`` grid) and is evaluated on the pixel centres of a ``size × size`` grid.

    Args:
        model: ``model(coords, image)``, e.g. a FunkNN or an
            :class:`~funknn.sampling.Interpolator`.
        functions: analytic images with ``images(size)``, ``values(coords)``,
            ``gradient(coords)`` and ``laplacian(coords)``, such as
            :class:`~funknn.data.GaussianBumps`.
        low_size: side of the model's input.
        size: side of the evaluation grid.
        points: evaluate on this many pixel centres of the grid per function, drawn at random
            (seeded by ``seed``) — an unbiased estimate of the whole grid's SNR at a fixed cost,
            so that fine grids stay affordable; ``None``: every pixel centre.

    Returns:
        Per-function SNR in dB (tensors of shape (B,)) of ``"image"``, ``"gradient"`` (the
        vector field), ``"gradient_norm"`` (its magnitude) and ``"laplacian"``.
    """
    from .metrics import snr
    from .sampling import grid_coords

    p = next(model.parameters(), None) if isinstance(model, nn.Module) else None
    device = p.device if p is not None else torch.device("cpu")
    low = functions.images(low_size).to(device)
    B = low.shape[0]
    coords = grid_coords(size, size, device=device).unsqueeze(0).expand(B, -1, -1)
    if points is not None and points < size * size:
        g = torch.Generator().manual_seed(seed)
        idx = torch.stack([torch.randperm(size * size, generator=g)[:points] for _ in range(B)])
        coords = torch.gather(coords, 1, idx.to(device).unsqueeze(-1).expand(-1, -1, 2))
    coords = coords.contiguous()
    u, grad, lap = derivatives(model, low, coords, order=2, chunk=chunk)
    assert lap is not None
    c = coords.double().cpu()
    true_u, true_g, true_l = functions.values(c), functions.gradient(c), functions.laplacian(c)
    u, grad, lap = u.double().cpu(), grad.double().cpu(), lap.double().cpu()
    return {"image": snr(u.flatten(1), true_u.flatten(1)),
            "gradient": snr(grad.flatten(1), true_g.flatten(1)),
            "gradient_norm": snr(grad.norm(dim=-1).flatten(1), true_g.norm(dim=-1).flatten(1)),
            "laplacian": snr(lap.flatten(1), true_l.flatten(1))}

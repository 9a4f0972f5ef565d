r"""Spatial derivatives of a continuous image model by automatic differentiation.

A model is any callable ``model(coords (B, N, 2), image (B, C, H, W)) -> (B, N, C)`` whose
output at a query depends only on that query's coordinate (FunkNN, an
:class:`~funknn.models.baselines.Interpolator`, …). Derivatives are taken with respect to
the coordinates (x along the width, y along the height, in [-1, 1]), chunk by chunk so that
memory stays bounded at any output size.

Only the ``cubic_conv`` kernel gives usable second derivatives: bilinear is piecewise linear
(its Laplacian is zero almost everywhere) and torch's bicubic (Keys, a = -0.75) does not
reproduce linear functions, so its curvature is wrong by orders of magnitude.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .sampling import check_coords, check_image

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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
        >>> from funknn.models.baselines import Interpolator
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
    lap = torch.cat([p[2] for p in parts], dim=1) if order > 1 else None
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

"""The derivative operator of the inverse problems of Section 4: the spatial gradient of an image
(of its cubic-convolution interpolant) measured at given locations, dense (every pixel centre,
eq. 3) or at the locations of the largest gradients only (eq. 4).

:class:`DerivativeOperator` is the operator (a :class:`~funknn.physics.LinearOperator`); the free
functions are its parts: :func:`measure_gradients` (the measurements of a ground truth),
:func:`grid_locations` (the dense locations), :func:`largest_gradients`, :func:`take_locations`
and :func:`location_mask` (the sparse ones).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..models.protocols import CoordinateModel
from ..sampling import as_size, grid_coords

__all__ = ["DerivativeOperator", "grid_locations", "largest_gradients", "location_mask", "measure_gradients",
           "take_locations"]


def measure_gradients(image: torch.Tensor, coords: torch.Tensor | None = None, chunk: int = 4096, *,
                      create_graph: bool = False) -> torch.Tensor:
    """The paper's derivative measurements of a discrete image: the exact gradient (B, N, C, 2)
    of its cubic-convolution interpolant (Keys, a = −0.5, reflection at the border), by autograd.

    The ground truth is the image itself, not a model's output: use it for the measurements of
    an n×n test image, so that the prior under test never made the data (no inverse crime).

    Args:
        image: (B, C, H, W) the ground truth at the reconstruction's resolution.
        coords: (B, N, 2) measurement locations; default every pixel centre of the image.
        create_graph: keep the autograd graph (the gradients as a differentiable function of
            the image, as :class:`DerivativeOperator` applies them).

    Example:
        >>> grid = grid_locations(8, 1)[0]
        >>> ramp = (0.5 * grid[:, 0]).reshape(1, 1, 8, 8)
        >>> measure_gradients(ramp)[0, 27, 0]         # an inner pixel: ∂u/∂x = 0.5, ∂u/∂y = 0
        tensor([0.5000, 0.0000])
    """
    from ..derivatives import gradient
    from ..sampling import Interpolator

    if coords is None:
        coords = grid_locations(image.shape[-2:], image.shape[0]).to(image.device, image.dtype)
    return gradient(Interpolator("cubic_conv"), image, coords, chunk=chunk, create_graph=create_graph)


def grid_locations(size: int | Sequence[int], batch: int) -> torch.Tensor:
    """Pixel-centre coordinates of an H×W grid, (B, H·W, 2): the dense measurement locations.

    The derivative operator of eq. 3 at these locations is :class:`DerivativeOperator`."""
    H, W = as_size(size)
    return grid_coords(H, W).unsqueeze(0).expand(batch, -1, -1).contiguous()


def largest_gradients(grad: torch.Tensor, fraction: float = 0.2, *, seed: int | None = 0) -> torch.Tensor:
    """Indices of the locations with the largest gradient magnitude (the sparse measurements
    of eq. 4).

    Ties are broken at random by a generator seeded with ``seed``: on piecewise-constant images
    (the phantoms) most gradients are exactly zero, and the "largest 20%" then includes many of
    them; taking those in index order would fill whole rows of background. A strictly larger
    magnitude is always kept before a smaller one. ``seed=None`` takes tied locations in index
    order (about what ``torch.topk`` did before ties were broken at random).

    Args:
        grad: (B, N, C, 2) gradients at N locations.
        fraction: share of the locations kept (the paper: 20%).
        seed: seed of the tie-breaking permutation (one per image of the batch); None: index order.

    Returns:
        (B, k) indices, k = round(fraction · N), largest first.

    Example:
        >>> g = torch.zeros(1, 8, 1, 2); g[0, 5] = 1.0             # one non-zero gradient, 7 ties
        >>> keep = largest_gradients(g, 0.5)
        >>> keep[0, 0].item(), len(set(keep[0].tolist())), torch.equal(keep, largest_gradients(g, 0.5))
        (5, 4, True)
    """
    if grad.dim() != 4 or grad.shape[-1] != 2:
        raise ValueError(f"grad must have shape (B, N, C, 2), got {tuple(grad.shape)}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    k = max(1, int(round(fraction * grad.shape[1])))
    magnitude = grad.detach().pow(2).sum(dim=(-1, -2))                    # (B, N)
    if seed is None:
        return magnitude.argsort(dim=1, descending=True, stable=True)[:, :k]
    generator = torch.Generator().manual_seed(int(seed))
    # a random order of the locations, then a stable sort by magnitude: equal magnitudes keep
    # the random order among themselves, and larger ones always come first
    shuffle = torch.rand(magnitude.shape, generator=generator).argsort(dim=1).to(magnitude.device)
    order = magnitude.gather(1, shuffle).argsort(dim=1, descending=True, stable=True)[:, :k]
    return shuffle.gather(1, order)


def take_locations(index: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The entries at ``index`` (B, k) along dimension 1 of each (B, N, …) tensor: e.g. the
    coordinates and gradients of the locations :func:`largest_gradients` keeps.

    Example:
        >>> coords, grads = grid_locations(4, 2), torch.arange(32.).reshape(2, 16, 1, 1).expand(-1, -1, 1, 2)
        >>> c, g = take_locations(torch.tensor([[15, 0], [3, 4]]), coords, grads)
        >>> c.shape, g[1, :, 0, 0].tolist()
        (torch.Size([2, 2, 2]), [19.0, 20.0])
    """
    if index.dim() != 2:
        raise ValueError(f"index must have shape (B, k), got {tuple(index.shape)}")
    out = []
    for t in tensors:
        if t.dim() < 2 or t.shape[0] != index.shape[0]:
            raise ValueError(f"a tensor of shape {tuple(t.shape)} has no (B = {index.shape[0]}, N) "
                             "dimensions")
        idx = index.to(t.device).reshape(*index.shape, *([1] * (t.dim() - 2)))
        out.append(t.gather(1, idx.expand(-1, -1, *t.shape[2:])))
    return tuple(out)


def location_mask(index: torch.Tensor, count: int) -> torch.Tensor:
    """(B, count) boolean mask that is True at the locations ``index`` (B, k)."""
    return torch.zeros(index.shape[0], count, dtype=torch.bool, device=index.device).scatter_(1, index, True)


class DerivativeOperator:
    """The derivative operator: the spatial gradient of an image measured at given locations,
    image (B, C, H, W) → gradients (B, N, C, 2), ``[..., 0]`` = ∂u/∂x, ``[..., 1]`` = ∂u/∂y.

    The gradient is that of the image's cubic-convolution interpolant (Keys, a = −0.5,
    reflection at the border), as in :func:`measure_gradients`, linear in the image; the adjoint
    is its vector-Jacobian product (autograd). :meth:`of` measures the same gradient on any
    continuous image ``model(·, low)`` (a FunkNN rendering a decoded image, …): what the
    derivative problems of :mod:`funknn.inverse` fit.

    Args:
        coords: (B, N, 2) measurement locations, one set per image (so the operator applies to
            batches of B images).
        size: the image's (H, W) (or side).
        channels: the image's channels C.
        chunk: locations evaluated at once.

    Example:
        >>> from funknn.physics import check_adjoint
        >>> op = DerivativeOperator(grid_locations(8, 2), 8)
        >>> op.domain_shape, op.range_shape, op.batch
        ((1, 8, 8), (64, 1, 2), 2)
        >>> check_adjoint(op) < 1e-12
        True
    """

    def __init__(self, coords: torch.Tensor, size: int | Sequence[int], channels: int = 1,
                 chunk: int = 4096) -> None:
        if coords.dim() != 3 or coords.shape[-1] != 2:
            raise ValueError(f"coords must have shape (B, N, 2), got {tuple(coords.shape)}")
        if int(channels) < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        H, W = as_size(size)
        self.coords, self.size, self.chunk = coords, (H, W), int(chunk)
        self.batch: int | None = coords.shape[0]
        self.domain_shape = (int(channels), H, W)
        self.range_shape = (coords.shape[1], int(channels), 2)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Gradients (B, N, C, 2) of images x (B, C, H, W) at the locations (differentiable):
        :func:`measure_gradients`."""
        if tuple(x.shape[1:]) != self.domain_shape or x.shape[0] != self.batch:
            raise ValueError(f"x must have shape ({self.batch}, {', '.join(map(str, self.domain_shape))}), "
                             f"got {tuple(x.shape)}")
        coords = self.coords.to(x.device, x.dtype)
        return measure_gradients(x, coords, self.chunk, create_graph=x.requires_grad)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """The adjoint (B, C, H, W) of gradients y (B, N, C, 2): ∂⟨A x, y⟩/∂x."""
        if tuple(y.shape[1:]) != self.range_shape or y.shape[0] != self.batch:
            raise ValueError(f"y must have shape ({self.batch}, {', '.join(map(str, self.range_shape))}), "
                             f"got {tuple(y.shape)}")
        with torch.enable_grad():
            x = torch.zeros(y.shape[0], *self.domain_shape, dtype=y.dtype, device=y.device,
                            requires_grad=True)
            (out,) = torch.autograd.grad(self(x), x, y, create_graph=y.requires_grad)
        return out

    def of(self, model: CoordinateModel, low: torch.Tensor, index: torch.Tensor | None = None
           ) -> torch.Tensor:
        """Gradients (B, N, C, 2) of the continuous images ``model(·, low)`` at the locations
        (with the graph, for a loss); at the locations ``coords[:, index]`` only when ``index``
        (k,) is given."""
        from ..derivatives import gradient

        coords = self.coords.to(low.device)
        if index is not None:
            coords = coords[:, index.to(low.device)]
        return gradient(model, low, coords, chunk=coords.shape[1], create_graph=True)

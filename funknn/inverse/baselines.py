"""The classical baselines that the prior is measured against: TV-regularised least squares for
CT (:func:`tv_least_squares`) and least-squares integration of a gradient field with TV for the
derivative problems (:func:`poisson_tv`), both by Adam on the pixels."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..engine import optimise
from ..physics import LimitedViewCT
from ..sampling import as_size
from .problems import SCALES
from .regularisers import mean_gradient_magnitude, total_variation

__all__ = ["pixel_gradient", "poisson_tv", "tv_least_squares"]

def _adam_pixels(x0: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor], steps: int, lr: float,
                 nonnegative: bool) -> torch.Tensor:
    x = x0.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        optimise(optimiser, loss_fn(x))
        if nonnegative:
            with torch.no_grad():
                x.clamp_(min=0)
    return x.detach()


def tv_least_squares(ct: LimitedViewCT, measurements: torch.Tensor, tv_weight: float = 1e-3,
                     steps: int = 500, lr: float = 1e-2, nonnegative: bool = True) -> torch.Tensor:
    """Classical CT baseline: argmin_x ‖A x − y‖² / M + λ TV(x) (x ≥ 0), by Adam from the FBP.

    Returns:
        (B, 1, H, W).
    """
    x0 = ct.fbp(measurements).clamp(min=0) if nonnegative else ct.fbp(measurements)
    m = measurements.numel()

    def loss(x: torch.Tensor) -> torch.Tensor:
        return (ct.A(x) - measurements).pow(2).sum() / m + tv_weight * total_variation(x).sum()

    return _adam_pixels(x0, loss, steps, lr, nonnegative)


def pixel_gradient(x: torch.Tensor) -> torch.Tensor:
    """Gradient (B, H·W, C, 2) of a pixel image at its pixel centres, in the [-1, 1] coordinates
    (central differences inside, one-sided at the border); row-major like
    :func:`funknn.grid_coords`."""
    H, W = x.shape[-2:]
    gx = torch.gradient(x, dim=-1)[0] * (W / 2)       # spacing 2/W per pixel
    gy = torch.gradient(x, dim=-2)[0] * (H / 2)
    g = torch.stack([gx, gy], dim=-1)                 # (B, C, H, W, 2)
    return g.flatten(2, 3).permute(0, 2, 1, 3)        # (B, H*W, C, 2)


def poisson_tv(gradients: torch.Tensor, mask: torch.Tensor | None, size: int | tuple[int, int],
               tv_weight: float = 0.0, steps: int = 1000, lr: float = 1e-2, scale: str = "relative"
               ) -> torch.Tensor:
    """Classical baseline for the derivative problems: least-squares integration of a measured
    gradient field on the pixel grid (a Poisson problem), with optional TV.

    argmin_x mean over measured pixels ‖∇_h x − g‖² + λ TV(x), ∇_h the finite-difference
    gradient of :func:`pixel_gradient`. The mean of x is not identified by derivatives (it stays
    at 0); compare with a scale-and-shift-invariant SNR. With ``scale="relative"`` (default) both
    terms are relative and per image, as in :class:`~funknn.inverse.SolverConfig`: the misfit divided by the
    image's mean measured ‖g‖², TV = :func:`mean_gradient_magnitude` divided by its mean
    measured ‖g‖, so that one λ means the same for this baseline and for the prior, and each
    image of a batch is solved as it would be alone; ``"absolute"``: the misfit (pooled over the
    batch) plus λ times :func:`total_variation` (per-pixel differences).

    Args:
        gradients: (B, H·W, C, 2) measured gradients at the pixel centres (any values where
            ``mask`` is False).
        mask: (B, H·W) bool of the measured pixels, or ``None`` for all.
        size: (H, W) of the grid.

    Returns:
        (B, C, H, W).
    """
    H, W = as_size(size)
    B, N, C, _ = gradients.shape
    if N != H * W:
        raise ValueError(f"gradients has {N} locations, the grid {H}×{W} has {H * W}")
    weight = torch.ones(B, N, 1, 1) if mask is None else mask.to(gradients.dtype)[..., None, None]
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {SCALES}")
    weight = weight.to(gradients.device)
    count = weight.flatten(1).sum(1).clamp_min(1)                             # (B,) measured locations
    measured = (gradients.detach() ** 2 * weight).sum(dim=(-1, -2))          # (B, N): ‖g‖² where measured
    data_scale = (measured.sum(1) / count).clamp_min(1e-30)                  # per image
    tv_scale = (measured.sqrt().sum(1) / count).clamp_min(1e-30)

    def loss(x: torch.Tensor) -> torch.Tensor:
        misfit = ((pixel_gradient(x) - gradients) ** 2 * weight).flatten(1).sum(1) / count     # (B,)
        if scale == "absolute":
            return (misfit * count).sum() / count.sum() + tv_weight * total_variation(x).sum()
        return (misfit / data_scale + tv_weight * mean_gradient_magnitude(x) / tv_scale).sum()

    return _adam_pixels(torch.zeros(B, C, H, W, device=gradients.device), loss, steps, lr, False)

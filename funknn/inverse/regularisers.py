"""The regularisers of the inverse problems: total variation (in the package's coordinates, or
per pixel) and the latent penalty λ‖w‖² of the solver."""

from __future__ import annotations

import torch

__all__ = ["latent_penalty", "mean_gradient_magnitude", "total_variation"]


def mean_gradient_magnitude(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Total variation in the package's coordinates: the mean over pixels of the magnitude of
    the finite-difference gradient (forward differences divided by the pixel spacing 2/W, 2/H),
    per image (B,). An image's value does not depend on its resolution, and it compares directly
    with measured gradients ∇u.

    Example:
        >>> from funknn.physics import grid_locations
        >>> grid = grid_locations(16, 1)[0]
        >>> ramp = (0.3 * grid[:, 0] - 0.4 * grid[:, 1]).reshape(1, 1, 16, 16)   # |∇u| = 0.5
        >>> round(float(mean_gradient_magnitude(ramp)), 4)
        0.5
    """
    H, W = x.shape[-2:]
    return _mean_difference_magnitude(x, W / 2, H / 2, eps)


def _mean_difference_magnitude(x: torch.Tensor, sx: float, sy: float, eps: float) -> torch.Tensor:
    """Mean over pixels of |(sx·∂x, sy·∂y)| by forward differences, smoothed by ``eps``: (B,)."""
    dx = x[..., :-1, 1:] - x[..., :-1, :-1]
    dy = x[..., 1:, :-1] - x[..., :-1, :-1]
    if sx != 1 or sy != 1:
        dx, dy = dx * sx, dy * sy
    return (dx * dx + dy * dy + eps).sqrt().flatten(1).mean(1)


def total_variation(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Isotropic total variation of (B, C, H, W) images (forward differences, mean over pixels,
    smoothed by ``eps`` so that it is differentiable at 0), per image: (B,)."""
    return _mean_difference_magnitude(x, 1.0, 1.0, eps)


def latent_penalty(w: torch.Tensor) -> torch.Tensor:
    """‖w‖² as the mean over the latent dimensions of (B, L) noise, per image: (B,) (the
    solver's regulariser λ‖w‖²)."""
    return w.pow(2).mean(1)

"""Baselines that share FunkNN's interface ``model(coords, image) -> values``."""

from __future__ import annotations

import torch
from torch import nn

from ..sampling import KERNELS, check_coords, check_image, sample


class Interpolator(nn.Module):
    """Plain interpolation of the low-resolution image (no learning).

    Args:
        kernel: ``"bilinear"``, ``"bicubic"`` or ``"cubic_conv"``.
        boundary: ``"reflection"`` or ``"extrapolate"`` (``cubic_conv`` only), see
            :func:`funknn.sample`.
        pure: bilinear/bicubic in plain PyTorch (twice differentiable; same values).

    Shapes:
        coords (B, N, 2), image (B, C, H, W) → (B, N, C).
    """

    def __init__(self, kernel: str = "bicubic", boundary: str = "reflection", pure: bool = False) -> None:
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
        sample(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 2), kernel, boundary=boundary)  # validates
        self.kernel, self.boundary, self.pure = kernel, boundary, bool(pure)
        self.config = dict(kernel=kernel, boundary=boundary, pure=bool(pure))

    def forward(self, coords: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        check_image(image)
        check_coords(coords, batch=image.shape[0])
        return sample(image, coords, self.kernel, validate=False, boundary=self.boundary, pure=self.pure)

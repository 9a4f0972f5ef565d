"""Continuous sampling of discrete images.

Coordinate convention (the same as :func:`torch.nn.functional.grid_sample` with
``align_corners=False``): an image of size H×W is a function on [-1, 1]²; ``x`` runs along
the width (columns) and ``y`` along the height (rows). The centre of pixel (row ``i``,
column ``j``) is ``x = (2j + 1) / W - 1``, ``y = (2i + 1) / H - 1``.

Three kernels are offered:

* ``"bilinear"`` and ``"bicubic"``: :func:`torch.nn.functional.grid_sample` (bicubic is
  Keys' cubic convolution with a = -0.75). Fast; first derivatives only (the backward of
  ``grid_sample`` is not itself differentiable with respect to the coordinates).
* ``"cubic_conv"``: Keys' cubic convolution with a = -0.5 written in plain PyTorch, so it
  is differentiable any number of times with respect to both the coordinates and the image.
  With a = -0.5 the interpolant reproduces quadratics, so derivatives are meaningful.

Points outside the image are handled by reflection padding (``padding_mode="reflection"``
in ``grid_sample``; the same reflection of each tap index in ``cubic_conv``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KERNELS = ("bilinear", "bicubic", "cubic_conv")


def check_image(image: torch.Tensor, name: str = "image") -> None:
    """Raise ``ValueError`` unless ``image`` is a finite floating tensor of shape (B, C, H, W)."""
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(image).__name__}")
    if image.dim() != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W), got shape {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {image.dtype}")
    if min(image.shape[-2:]) < 1:
        raise ValueError(f"{name} must have at least one pixel, got shape {tuple(image.shape)}")
    if not torch.isfinite(image).all():
        raise ValueError(f"{name} contains non-finite values (nan or inf)")


def check_coords(coords: torch.Tensor, batch: int | None = None, allow_outside: bool = False,
                 name: str = "coords") -> None:
    """Raise ``ValueError`` unless ``coords`` has shape (B, N, 2), is finite and lies in [-1, 1]².

    Args:
        coords: (B, N, 2) tensor of (x, y) coordinates.
        batch: expected batch size B, or ``None`` to accept any.
        allow_outside: accept coordinates outside [-1, 1] (reflection padding applies).
    """
    if not isinstance(coords, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, N, 2), got {type(coords).__name__}")
    if coords.dim() != 3 or coords.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (B, N, 2), got shape {tuple(coords.shape)}")
    if batch is not None and coords.shape[0] != batch:
        raise ValueError(f"{name} has batch size {coords.shape[0]} but the image has batch size {batch}")
    if not coords.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {coords.dtype}")
    if not torch.isfinite(coords).all():
        raise ValueError(f"{name} contains non-finite values (nan or inf)")
    if not allow_outside and coords.numel() and coords.detach().abs().max() > 1 + 1e-6:
        raise ValueError(
            f"{name} must lie in [-1, 1] (x along the width, y along the height); got values up to "
            f"{coords.detach().abs().max().item():.4g}. Pass allow_outside=True to sample with "
            "reflection padding outside the image.")


def grid_coords(height: int, width: int, *, device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Pixel-centre coordinates of an H×W image, row-major.

    Returns:
        (H·W, 2) tensor of (x, y) with x = (2j+1)/W - 1 and y = (2i+1)/H - 1.

    Example:
        >>> grid_coords(2, 2)
        tensor([[-0.5000, -0.5000],
                [ 0.5000, -0.5000],
                [-0.5000,  0.5000],
                [ 0.5000,  0.5000]])
    """
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"grid size must be positive, got ({height}, {width})")
    ys = (2 * torch.arange(height, device=device, dtype=dtype) + 1) / height - 1
    xs = (2 * torch.arange(width, device=device, dtype=dtype) + 1) / width - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=-1)


def keys_weights(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Weights of Keys' cubic convolution for the four taps at offsets -1, 0, 1, 2.

    Each weight is written as one cubic polynomial in the fractional position ``t`` ∈ [0, 1),
    so the pieces of the kernel are chosen consistently (also at pixel centres, t = 0) and
    autograd gives exact derivatives of the interpolant.

    Args:
        t: (...) fractional positions.
        a: the kernel parameter (-0.5: Keys' third-order kernel; -0.75: torch's bicubic).

    Returns:
        (..., 4) weights.
    """
    t2 = t * t
    t3 = t2 * t
    w_m1 = a * t3 - 2 * a * t2 + a * t                     # outer piece at distance 1 + t
    w_0 = (a + 2) * t3 - (a + 3) * t2 + 1                  # inner piece at distance t
    w_1 = -(a + 2) * t3 + (2 * a + 3) * t2 - a * t         # inner piece at distance 1 - t
    w_2 = -a * t3 + a * t2                                 # outer piece at distance 2 - t
    return torch.stack([w_m1, w_0, w_1, w_2], dim=-1)


def _reflect_index(idx: torch.Tensor, size: int) -> torch.Tensor:
    """Reflect integer indices about the image border (edge pixels repeated, like grid_sample)."""
    if size == 1:
        return torch.zeros_like(idx)
    period = 2 * size
    idx = torch.remainder(idx, period)
    return torch.where(idx >= size, period - 1 - idx, idx)


def cubic_conv(image: torch.Tensor, coords: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys' cubic convolution interpolation in pure PyTorch (twice differentiable).

    Args:
        image: (B, C, H, W).
        coords: (B, N, 2) in the [-1, 1] convention of the module.
        a: kernel parameter; -0.5 by default (third-order accurate), -0.75 matches torch's bicubic.

    Returns:
        (B, N, C) interpolated values.
    """
    B, C, H, W = image.shape
    px = ((coords[..., 0] + 1) * W - 1) / 2                 # continuous column index
    py = ((coords[..., 1] + 1) * H - 1) / 2                 # continuous row index
    fx = torch.floor(px.detach())
    fy = torch.floor(py.detach())
    wx = keys_weights(px - fx, a)                           # (B, N, 4)
    wy = keys_weights(py - fy, a)
    taps = torch.arange(-1, 3, device=image.device)
    ix = _reflect_index(fx.long().unsqueeze(-1) + taps, W)  # (B, N, 4)
    iy = _reflect_index(fy.long().unsqueeze(-1) + taps, H)
    flat = (iy.unsqueeze(-1) * W + ix.unsqueeze(-2)).reshape(B, -1)   # (B, N*16)
    values = image.reshape(B, C, H * W).transpose(1, 2)     # (B, H*W, C)
    gathered = torch.gather(values, 1, flat.unsqueeze(-1).expand(-1, -1, C))
    gathered = gathered.reshape(B, -1, 4, 4, C)             # (B, N, row tap, col tap, C)
    return torch.einsum("bni,bnj,bnijc->bnc", wy, wx, gathered)


def sample(image: torch.Tensor, coords: torch.Tensor, kernel: str = "bicubic", *,
           allow_outside: bool = False, validate: bool = True) -> torch.Tensor:
    """Sample a discrete image at continuous coordinates.

    Args:
        image: (B, C, H, W) image, any number of channels, not necessarily square.
        coords: (B, N, 2) coordinates (x along the width, y along the height) in [-1, 1].
        kernel: ``"bilinear"``, ``"bicubic"`` (torch, a = -0.75) or ``"cubic_conv"`` (a = -0.5).
        allow_outside: accept coordinates outside [-1, 1] (reflection padding).
        validate: check shapes and values (switch off inside hot loops that already checked).

    Returns:
        (B, N, C) values.

    Example:
        >>> img = torch.arange(6.).reshape(1, 1, 2, 3)
        >>> sample(img, grid_coords(2, 3)[None], "cubic_conv").flatten()
        tensor([0., 1., 2., 3., 4., 5.])
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
    if validate:
        check_image(image)
        check_coords(coords, batch=image.shape[0], allow_outside=allow_outside)
    coords = coords.to(image.dtype)
    if kernel == "cubic_conv":
        return cubic_conv(image, coords)
    out = F.grid_sample(image, coords.unsqueeze(1), mode=kernel, padding_mode="reflection",
                        align_corners=False)           # (B, C, 1, N)
    return out[:, :, 0].transpose(1, 2)

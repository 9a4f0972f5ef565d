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
in ``grid_sample``; the same reflection of each tap index in ``cubic_conv``). ``cubic_conv``
also offers ``boundary="extrapolate"``: Keys' own boundary condition (his eq. 25,
f(-1) = 3 f(0) - 3 f(1) + f(2)), i.e. the image is continued beyond its border by the quadratic
through the three outermost samples of each row and column. Reflection puts a kink into a smooth
function at the border (a first-derivative jump, so the Laplacian there is wrong by O(1/h));
extrapolation keeps the interpolant third-order accurate up to the border, which is what
derivatives of smooth images need. For natural photos reflection is the safer choice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: the sampling kernels :func:`sample` accepts
KERNELS = ("bilinear", "bicubic", "cubic_conv")
#: the boundary modes beyond the image's edge pixels
BOUNDARIES = ("reflection", "extrapolate")
#: pixels added on each side by ``boundary="extrapolate"``; taps further out repeat the last one
EXTRAPOLATE_PAD = 8


def as_size(size: int | Sequence[int], name: str = "size") -> tuple[int, int]:
    """A size given as one side or as (H, W), as a pair of positive ints (H, W).

    Example:
        >>> as_size(4), as_size((3, 5))
        ((4, 4), (3, 5))
    """
    if isinstance(size, (int, np.integer)):
        hw: tuple[int, ...] = (int(size), int(size))
    elif isinstance(size, Sequence) and not isinstance(size, str):
        hw = tuple(int(s) for s in size)
    else:
        raise ValueError(f"{name} must be a positive int or (H, W), got {size!r}")
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"{name} must be a positive int or (H, W), got {size!r}")
    return hw[0], hw[1]


def check_kernel(kernel: str, boundary: str = "reflection") -> None:
    """Raise ``ValueError`` unless ``kernel`` is one of :data:`KERNELS` and ``boundary`` one of
    :data:`BOUNDARIES` that the kernel supports (``"extrapolate"``: ``cubic_conv`` only)."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"unknown boundary {boundary!r}; expected one of {BOUNDARIES}")
    if boundary != "reflection" and kernel != "cubic_conv":
        raise ValueError(f"boundary={boundary!r} is implemented for kernel='cubic_conv' only, "
                         f"not {kernel!r}")


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


def _extrapolation_matrix(size: int, pad: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(size + 2 pad, size) matrix continuing a signal by the quadratic through its outer samples."""
    m = torch.zeros(size + 2 * pad, size, dtype=torch.float64)
    m[pad:pad + size] = torch.eye(size, dtype=torch.float64)
    for k in range(1, pad + 1):
        # Lagrange weights of the nodes 0, 1, 2 at t = -k (k = 1 gives Keys' 3, -3, 1)
        w = torch.tensor([(k + 1) * (k + 2) / 2, -k * (k + 2), k * (k + 1) / 2], dtype=torch.float64)
        m[pad - k, :3] = w
        m[pad + size - 1 + k, size - 3:] = w.flip(0)
    return m.to(device=device, dtype=dtype)


def extrapolate(image: torch.Tensor, pad: int = EXTRAPOLATE_PAD) -> torch.Tensor:
    """Pad (B, C, H, W) by ``pad`` pixels per side with Keys' quadratic boundary extrapolation.

    Needs H, W ≥ 3. Differentiable (a linear map of the image).
    """
    H, W = image.shape[-2:]
    if min(H, W) < 3:
        raise ValueError(f"boundary='extrapolate' needs an image of at least 3×3 pixels, got {H}×{W}")
    ey = _extrapolation_matrix(H, pad, image.dtype, image.device)
    ex = _extrapolation_matrix(W, pad, image.dtype, image.device)
    return ey @ image @ ex.T


def linear_weights(t: torch.Tensor) -> torch.Tensor:
    """Weights of linear interpolation in the four-tap layout of :func:`keys_weights`."""
    zero = torch.zeros_like(t)
    return torch.stack([zero, 1 - t, t, zero], dim=-1)


def cubic_conv(image: torch.Tensor, coords: torch.Tensor, a: float | None = -0.5,
               boundary: str = "reflection") -> torch.Tensor:
    """Keys' cubic convolution interpolation in pure PyTorch (twice differentiable).

    Args:
        image: (B, C, H, W).
        coords: (B, N, 2) in the [-1, 1] convention of the module.
        a: kernel parameter; -0.5 by default (third-order accurate), -0.75 matches torch's bicubic;
            ``None`` gives linear interpolation (torch's bilinear) through the same code.
        boundary: ``"reflection"`` (taps beyond the border mirror the image) or
            ``"extrapolate"`` (Keys' quadratic boundary extrapolation, see the module docstring).

    Returns:
        (B, N, C) interpolated values.
    """
    if boundary not in BOUNDARIES:
        raise ValueError(f"unknown boundary {boundary!r}; expected one of {BOUNDARIES}")
    B, C, H, W = image.shape
    pad = EXTRAPOLATE_PAD if boundary == "extrapolate" else 0
    px = ((coords[..., 0] + 1) * W - 1) / 2                 # continuous column index
    py = ((coords[..., 1] + 1) * H - 1) / 2                 # continuous row index
    fx = torch.floor(px.detach())
    fy = torch.floor(py.detach())
    weights = linear_weights if a is None else (lambda t: keys_weights(t, a))
    wx = weights(px - fx)                                   # (B, N, 4)
    wy = weights(py - fy)
    taps = torch.arange(-1, 3, device=image.device)
    if pad:
        image = extrapolate(image, pad)
        ix = (fx.long().unsqueeze(-1) + taps + pad).clamp(0, W + 2 * pad - 1)
        iy = (fy.long().unsqueeze(-1) + taps + pad).clamp(0, H + 2 * pad - 1)
        H, W = H + 2 * pad, W + 2 * pad
    else:
        ix = _reflect_index(fx.long().unsqueeze(-1) + taps, W)  # (B, N, 4)
        iy = _reflect_index(fy.long().unsqueeze(-1) + taps, H)
    flat = (iy.unsqueeze(-1) * W + ix.unsqueeze(-2)).reshape(B, -1)   # (B, N*16)
    values = image.reshape(B, C, H * W).transpose(1, 2)     # (B, H*W, C)
    gathered = torch.gather(values, 1, flat.unsqueeze(-1).expand(-1, -1, C))
    gathered = gathered.reshape(B, -1, 4, 4, C)             # (B, N, row tap, col tap, C)
    return torch.einsum("bni,bnj,bnijc->bnc", wy, wx, gathered)


def _patch_axis(pos: torch.Tensor, size: int, pad: int, a: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """One axis of :func:`cubic_conv_patches`: for continuous indices ``pos`` (B, N, p) of the
    patch points, the weights (B, N, p, K) of K consecutive pixel indices (B, N, K) that cover
    all their taps (reflected, or clamped into the extrapolated padding)."""
    f = torch.floor(pos.detach())
    lowest = f.amin(dim=-1, keepdim=True)                               # (B, N, 1)
    rel = (f - lowest).long()                                           # (B, N, p)
    K = int(rel.max()) + 4 if rel.numel() else 4
    taps = torch.arange(4, device=pos.device)
    weights = torch.zeros(*pos.shape, K, dtype=pos.dtype, device=pos.device)
    weights = weights.scatter_add(-1, rel.unsqueeze(-1) + taps, keys_weights(pos - f, a))
    index = lowest.long() - 1 + torch.arange(K, device=pos.device)      # (B, N, K)
    if pad:
        return weights, (index + pad).clamp(0, size + 2 * pad - 1)
    return weights, _reflect_index(index, size)


def cubic_conv_patches(image: torch.Tensor, coords: torch.Tensor, offsets: torch.Tensor,
                       spacing: torch.Tensor, boundary: str = "reflection", a: float = -0.5) -> torch.Tensor:
    """Patches of the cubic-convolution interpolant on a separable grid around each query: the
    value at ``coords + (offsets[j] · spacing_x · 2/W, offsets[i] · spacing_y · 2/H)`` for every
    row i and column j; FunkNN's spatial transformer with the ``cubic_conv`` kernel.

    Equal to :func:`cubic_conv` at each of the p² points (the same polynomial pieces, so the same
    derivatives to any order), but computed separably: one K×K block of pixels per query
    (K ≈ p · spacing + 4) and two small matrix products, instead of 16 taps for each of the p²
    points.

    Args:
        image: (B, C, H, W).
        coords: (B, N, 2) queries.
        offsets: (p,) offsets of the patch grid in units of the spacing (e.g. -4 … 4).
        spacing: (2,) spacing (x, y) in low-resolution pixels.
        boundary: as in :func:`cubic_conv`.

    Returns:
        (B, N, C, p, p), rows along y.

    Example:
        >>> img, q = torch.rand(1, 2, 6, 7), torch.rand(1, 3, 2) * 2 - 1
        >>> off, h = torch.arange(-1.0, 2.0), torch.tensor([2 / 7, 2 / 6])
        >>> grid = torch.stack(torch.meshgrid(off, off, indexing="ij")[::-1], -1).reshape(9, 2)
        >>> pointwise = cubic_conv(img, (q[:, :, None] + grid * h).reshape(1, 27, 2))
        >>> patches = cubic_conv_patches(img, q, off, torch.ones(2))
        >>> torch.allclose(patches, pointwise.reshape(1, 3, 3, 3, 2).permute(0, 1, 4, 2, 3), atol=1e-6)
        True
    """
    if boundary not in BOUNDARIES:
        raise ValueError(f"unknown boundary {boundary!r}; expected one of {BOUNDARIES}")
    B, C, H, W = image.shape
    N, p = coords.shape[1], offsets.shape[0]
    pad = EXTRAPOLATE_PAD if boundary == "extrapolate" else 0
    step_x = offsets * (spacing[0] * (2.0 / W))
    step_y = offsets * (spacing[1] * (2.0 / H))
    px = ((coords[..., :1] + step_x + 1) * W - 1) / 2                   # (B, N, p) column positions
    py = ((coords[..., 1:] + step_y + 1) * H - 1) / 2                   # (B, N, p) row positions
    wx, ix = _patch_axis(px, W, pad, a)                                 # (B, N, p, Kx), (B, N, Kx)
    wy, iy = _patch_axis(py, H, pad, a)
    if pad:
        image = extrapolate(image, pad)
    Wp = image.shape[-1]
    kx, ky = ix.shape[-1], iy.shape[-1]
    flat = (iy.unsqueeze(-1) * Wp + ix.unsqueeze(-2)).reshape(B, -1)    # (B, N*Ky*Kx)
    values = image.reshape(B, C, -1).transpose(1, 2)                    # (B, H*W, C)
    block = torch.gather(values, 1, flat.unsqueeze(-1).expand(-1, -1, C)).reshape(B, N, ky, kx * C)
    rows = (wy @ block).reshape(B, N, p, kx, C).permute(0, 1, 4, 2, 3)  # (B, N, C, p, Kx)
    return rows @ wx.transpose(-1, -2).unsqueeze(2)                     # (B, N, C, p, p)


def sample(image: torch.Tensor, coords: torch.Tensor, kernel: str = "bicubic", *,
           allow_outside: bool = False, validate: bool = True, boundary: str = "reflection",
           pure: bool = False) -> torch.Tensor:
    """Sample a discrete image at continuous coordinates.

    Args:
        image: (B, C, H, W) image, any number of channels, not necessarily square.
        coords: (B, N, 2) coordinates (x along the width, y along the height) in [-1, 1].
        kernel: ``"bilinear"``, ``"bicubic"`` (torch, a = -0.75) or ``"cubic_conv"`` (a = -0.5).
        allow_outside: accept coordinates outside [-1, 1] (reflection padding).
        validate: check shapes and values (switch off inside hot loops that already checked).
        boundary: ``"reflection"`` (every kernel) or ``"extrapolate"`` (``cubic_conv`` only:
            Keys' quadratic boundary condition, for derivatives of smooth images).
        pure: compute ``"bilinear"`` / ``"bicubic"`` in plain PyTorch instead of
            ``grid_sample`` (the same values; differentiable any number of times, slower), so
            that their second derivatives can be compared with ``cubic_conv``'s.

    Returns:
        (B, N, C) values.

    Example:
        >>> img = torch.arange(6.).reshape(1, 1, 2, 3)
        >>> sample(img, grid_coords(2, 3)[None], "cubic_conv").flatten().round(decimals=4)
        tensor([0., 1., 2., 3., 4., 5.])
    """
    check_kernel(kernel, boundary)
    if validate:
        check_image(image)
        check_coords(coords, batch=image.shape[0], allow_outside=allow_outside)
    coords = coords.to(image.dtype)
    if kernel == "cubic_conv":
        return cubic_conv(image, coords, boundary=boundary)
    if pure:
        return cubic_conv(image, coords, a=None if kernel == "bilinear" else -0.75)
    out = F.grid_sample(image, coords.unsqueeze(1), mode=kernel, padding_mode="reflection",
                        align_corners=False)           # (B, C, 1, N)
    return out[:, :, 0].transpose(1, 2)


class Interpolator(nn.Module):
    """Plain interpolation of the low-resolution image (no learning): :func:`sample` as a
    coordinate model, ``model(coords, image)``, like FunkNN.

    Args:
        kernel: ``"bilinear"``, ``"bicubic"`` or ``"cubic_conv"``.
        boundary: ``"reflection"`` or ``"extrapolate"`` (``cubic_conv`` only), see :func:`sample`.
        pure: bilinear/bicubic in plain PyTorch (twice differentiable; same values).

    Shapes:
        coords (B, N, 2), image (B, C, H, W) → (B, N, C).

    Example:
        >>> Interpolator("cubic_conv")(grid_coords(2, 3)[None], torch.arange(6.).reshape(1, 1, 2, 3)).shape
        torch.Size([1, 6, 1])
    """

    def __init__(self, kernel: str = "bicubic", boundary: str = "reflection", pure: bool = False) -> None:
        super().__init__()
        check_kernel(kernel, boundary)
        self.kernel, self.boundary, self.pure = kernel, boundary, bool(pure)
        self.config = dict(kernel=kernel, boundary=boundary, pure=bool(pure))

    def forward(self, coords: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        check_image(image)
        check_coords(coords, batch=image.shape[0])
        return sample(image, coords, self.kernel, validate=False, boundary=self.boundary, pure=self.pure)

"""Synthetic sources, generated reproducibly (no files): Gaussian bumps with analytic derivatives
(:class:`GaussianBumps`, the training source :class:`RandomBumps`) and random-ellipse phantoms
(:class:`Ellipses`, the embedded splits :class:`EllipsePhantoms`, :func:`ellipse_phantoms`,
:func:`ellipse_set`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..sampling import as_size, grid_coords
from .image import ImageCollection
from .registry import register
from .source import Source

__all__ = ["ELLIPSE_SEEDS", "EllipsePhantoms", "Ellipses", "GaussianBumps", "RandomBumps",
           "ellipse_phantoms", "ellipse_set"]


class GaussianBumps:
    r"""Gaussian bumps :math:`g(x, y) = \exp(-((x-x_0)^2 + (y-y_0)^2) / (2\sigma^2))` with
    analytic derivatives (Appendix E of the paper).

    The centre is uniform in the field of view [-1, 1]² and σ uniform in ``sigma_range``, in the
    [-1, 1] coordinates of the package (x along the width, y along the height).

    Args:
        params: (B, 3) tensor of (x0, y0, sigma), float64.

    Shapes (B bumps, N queries): ``values(coords)`` (B, N, 1), ``gradient(coords)``
    (B, N, 1, 2), ``laplacian(coords)`` (B, N, 1) for coords (B, N, 2) — the shapes of
    :func:`funknn.derivatives.derivatives`.
    """

    def __init__(self, params: torch.Tensor) -> None:
        if params.dim() != 2 or params.shape[1] != 3:
            raise ValueError(f"params must have shape (B, 3) of (x0, y0, sigma), got {tuple(params.shape)}")
        if (params[:, 2] <= 0).any():
            raise ValueError("sigma must be positive")
        self.params = params.double()

    @classmethod
    def random(cls, count: int, generator: torch.Generator | None = None,
               sigma_range: tuple[float, float] = (0.1, 0.4)) -> GaussianBumps:
        """``count`` random bumps: centre uniform in [-1, 1]², σ uniform in ``sigma_range``."""
        lo, hi = sigma_range
        if not 0 < lo <= hi:
            raise ValueError(f"sigma_range must satisfy 0 < low <= high, got {sigma_range}")
        u = torch.rand(count, 3, generator=generator, dtype=torch.float64)
        return cls(torch.stack([2 * u[:, 0] - 1, 2 * u[:, 1] - 1, lo + (hi - lo) * u[:, 2]], dim=1))

    def __len__(self) -> int:
        return self.params.shape[0]

    def _parts(self, coords: torch.Tensor):
        c = coords.double()
        x0, y0, s = (self.params[:, k, None] for k in range(3))
        dx, dy = c[..., 0] - x0, c[..., 1] - y0
        s2 = s * s
        g = torch.exp(-(dx * dx + dy * dy) / (2 * s2))
        return g, dx, dy, s2

    def values(self, coords: torch.Tensor) -> torch.Tensor:
        g, *_ = self._parts(coords)
        return g.unsqueeze(-1)

    def gradient(self, coords: torch.Tensor) -> torch.Tensor:
        g, dx, dy, s2 = self._parts(coords)
        return torch.stack([-dx / s2 * g, -dy / s2 * g], dim=-1).unsqueeze(2)

    def laplacian(self, coords: torch.Tensor) -> torch.Tensor:
        g, dx, dy, s2 = self._parts(coords)
        return (g * ((dx * dx + dy * dy) / (s2 * s2) - 2 / s2)).unsqueeze(-1)

    def images(self, size: int | Sequence[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Point samples at the pixel centres of an H×W grid: (B, 1, H, W)."""
        H, W = as_size(size)
        c = grid_coords(H, W, dtype=torch.float64).unsqueeze(0).expand(len(self), -1, -1)
        return self.values(c)[..., 0].reshape(len(self), 1, H, W).to(dtype)


@register("bumps")
class RandomBumps:
    """A training source of fresh random :class:`GaussianBumps` at every step, with exact values,
    gradients and Laplacians at random continuous coordinates (no pixel grid for the targets).

    Used by :func:`funknn.tasks.super_resolution.train` in place of an :class:`ImageCollection`.

    Args:
        sigma_range: range of σ (the paper: [0.1, 0.4]).
    """

    channels = 1

    def __init__(self, sigma_range: tuple[float, float] = (0.1, 0.4)) -> None:
        self.sigma_range = sigma_range
        GaussianBumps.random(1, sigma_range=sigma_range)  # validates the range

    def training_batch(self, batch: int, low_size: int, pixels: int,
                       generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """One step's data: low-resolution point samples (batch, 1, d, d), random coordinates
        (batch, pixels, 2) and the exact values (batch, pixels, 1), gradients
        (batch, pixels, 1, 2) and Laplacians (batch, pixels, 1) there."""
        bumps = GaussianBumps.random(batch, generator, self.sigma_range)
        coords = torch.rand(batch, pixels, 2, generator=generator, dtype=torch.float64) * 2 - 1
        return {"low": bumps.images(low_size), "coords": coords.float(),
                "values": bumps.values(coords).float(), "gradient": bumps.gradient(coords).float(),
                "laplacian": bumps.laplacian(coords).float()}


class Ellipses:
    """Random-ellipse phantoms: a CT-like image distribution (in the spirit of DIVal's "ellipses"
    data set), generated reproducibly from a seed and renderable at any resolution.

    A phantom is a sum of ellipses ``v_k · 1[((x', y') / (a_k, b_k))² ≤ 1]`` (x', y' the
    coordinates relative to the centre, rotated by the ellipse's angle), clipped to [0, 1] and
    set to zero outside the unit disc (the field of view of a CT scanner). Coordinates are the
    package's [-1, 1] convention.

    Args:
        params: one (K_i, 6) float64 tensor per phantom, rows (v, a, b, x0, y0, angle).

    Example:
        >>> phantoms = Ellipses.random(4, torch.Generator().manual_seed(0))
        >>> phantoms.images(32).shape
        torch.Size([4, 1, 32, 32])
    """

    def __init__(self, params: Sequence[torch.Tensor]) -> None:
        self.params = []
        for i, p in enumerate(params):
            p = torch.as_tensor(p, dtype=torch.float64)
            if p.dim() != 2 or p.shape[1] != 6:
                raise ValueError(f"params[{i}] must have shape (K, 6) of (v, a, b, x0, y0, angle), "
                                 f"got {tuple(p.shape)}")
            if (p[:, 1:3] <= 0).any():
                raise ValueError(f"params[{i}]: semi-axes a, b must be positive")
            self.params.append(p)

    @classmethod
    def random(cls, count: int, generator: torch.Generator | None = None, mean_ellipses: float = 8.0,
               max_ellipses: int = 16) -> Ellipses:
        """``count`` random phantoms.

        Per phantom, the number of ellipses is 1 + Poisson(``mean_ellipses`` − 1), at most
        ``max_ellipses``; per ellipse the intensity v ~ U(0.1, 0.6), semi-axes 0.05 + 0.2·Exp(1)
        (at most 0.8), the centre uniform in the disc of radius 0.8 and the angle ~ U(0, π).
        """
        if count < 1:
            raise ValueError(f"count must be positive, got {count}")
        if not 1 <= mean_ellipses <= max_ellipses:
            raise ValueError(f"need 1 <= mean_ellipses <= max_ellipses, got {mean_ellipses}, {max_ellipses}")
        rate = torch.full((1,), float(mean_ellipses) - 1, dtype=torch.float64)
        params = []
        for _ in range(count):  # one phantom after the other: a prefix does not depend on count
            k = int((1 + torch.poisson(rate, generator=generator)).clamp(max=max_ellipses))
            u = torch.rand(k, 6, generator=generator, dtype=torch.float64)
            v = 0.1 + 0.5 * u[:, 0]
            axes = (0.05 - 0.2 * torch.log1p(-u[:, 1:3].clamp(max=1 - 1e-12))).clamp(max=0.8)
            radius, phi = 0.8 * u[:, 3].sqrt(), 2 * np.pi * u[:, 4]
            angle = np.pi * u[:, 5]
            params.append(torch.stack([v, axes[:, 0], axes[:, 1], radius * torch.cos(phi),
                                       radius * torch.sin(phi), angle], dim=1))
        return cls(params)

    def __len__(self) -> int:
        return len(self.params)

    def values(self, coords: torch.Tensor) -> torch.Tensor:
        """Exact values at coordinates (B, N, 2) → (B, N, 1) (a discontinuous function)."""
        if coords.dim() != 3 or coords.shape[0] != len(self) or coords.shape[-1] != 2:
            raise ValueError(f"coords must have shape ({len(self)}, N, 2), got {tuple(coords.shape)}")
        out = []
        for p, c in zip(self.params, coords.double()):
            v, a, b, x0, y0, t = (p[:, k, None] for k in range(6))
            dx, dy = c[None, :, 0] - x0, c[None, :, 1] - y0
            xr = dx * torch.cos(t) + dy * torch.sin(t)
            yr = -dx * torch.sin(t) + dy * torch.cos(t)
            inside = (xr / a) ** 2 + (yr / b) ** 2 <= 1
            u = (v * inside).sum(0).clamp(0, 1)
            u = torch.where((c * c).sum(-1) <= 1, u, torch.zeros_like(u))
            out.append(u)
        return torch.stack(out).unsqueeze(-1)

    def images(self, size: int | Sequence[int], supersample: int = 4,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Pixel averages on an H×W grid (``supersample × supersample`` points per pixel): (B, 1, H, W)."""
        H, W = as_size(size)
        s = int(supersample)
        if s < 1:
            raise ValueError(f"supersample must be positive, got {supersample}")
        grid = grid_coords(H * s, W * s, dtype=torch.float64).reshape(H * s, W * s, 2)
        disc = (grid * grid).sum(-1) <= 1
        out = torch.empty(len(self), 1, H, W, dtype=dtype)
        for i, p in enumerate(self.params):   # one fine raster at a time: memory of the output only
            fine = self._raster(p, grid, disc)[None, None]
            out[i] = (F.avg_pool2d(fine, s) if s > 1 else fine)[0].to(dtype)
        return out

    @staticmethod
    def _raster(p: torch.Tensor, grid: torch.Tensor, disc: torch.Tensor) -> torch.Tensor:
        """One phantom on the points of ``grid`` (h, w, 2), as :meth:`values` (up to rounding),
        evaluating each ellipse only inside its bounding box: several times faster."""
        h, w = grid.shape[:2]
        u = torch.zeros(h, w, dtype=torch.float64)
        xs, ys = grid[0, :, 0].contiguous(), grid[:, 0, 1].contiguous()
        for v, a, b, x0, y0, t in p.tolist():
            cos, sin = math.cos(t), math.sin(t)
            ex, ey = math.hypot(a * cos, b * sin), math.hypot(a * sin, b * cos)   # half extents
            j0, j1 = (int(torch.searchsorted(xs, x0 - ex - 1e-9)),
                      int(torch.searchsorted(xs, x0 + ex + 1e-9, right=True)))
            i0, i1 = (int(torch.searchsorted(ys, y0 - ey - 1e-9)),
                      int(torch.searchsorted(ys, y0 + ey + 1e-9, right=True)))
            if j0 >= j1 or i0 >= i1:
                continue
            c = grid[i0:i1, j0:j1]
            dx, dy = c[..., 0] - x0, c[..., 1] - y0
            xr = dx * cos + dy * sin
            yr = -dx * sin + dy * cos
            u[i0:i1, j0:j1] += v * ((xr / a) ** 2 + (yr / b) ** 2 <= 1)
        return torch.where(disc, u.clamp(0, 1), torch.zeros_like(u))


#: seeds of the generator streams of the embedded phantom splits (disjoint draws)
#: ("validation": for choosing hyper-parameters such as regularisation weights, never the test split)
ELLIPSE_SEEDS = {"train": 0, "test": 1, "validation": 2}


def _check_split(split: str) -> None:
    if split not in ELLIPSE_SEEDS:
        raise ValueError(f"unknown split {split!r}; expected one of {tuple(ELLIPSE_SEEDS)}")


def ellipse_set(split: str = "train", count: int = 1000) -> Ellipses:
    """The :class:`Ellipses` (parameters) behind :func:`ellipse_phantoms`."""
    _check_split(split)
    return Ellipses.random(count, torch.Generator().manual_seed(ELLIPSE_SEEDS[split]))


@register("ellipses")
class EllipsePhantoms(Source):
    """The embedded phantom data set: ``count`` random-ellipse phantoms (:class:`Ellipses`, default
    settings) of the split's fixed seed, as pixel averages at ``size × size``.

    Item ``i`` (1, S, S) is phantom ``i`` rendered on demand (streamed); :meth:`tensor` renders
    all of them, (count, 1, S, S), equal to the items. The first ``k`` phantoms of a split do not
    depend on ``count`` or ``size``, so the same phantoms can be drawn at several resolutions
    (e.g. the prior's and a finer ground truth).

    Args:
        split: ``"train"``, ``"test"`` or ``"validation"`` (for choosing hyper-parameters).
        count: number of phantoms.
        size: image side in pixels.
        supersample: points per pixel along each axis.
    """

    def __init__(self, split: str = "train", count: int = 1000, size: int = 64, supersample: int = 4) -> None:
        _check_split(split)
        self.split, self.size, self.supersample = split, size, supersample
        self.ellipses = ellipse_set(split, count)

    def __len__(self) -> int:
        return len(self.ellipses)

    def _decode(self, i: int) -> torch.Tensor:
        return Ellipses([self.ellipses.params[i]]).images(self.size, supersample=self.supersample)[0]

    def tensor(self) -> torch.Tensor:
        """Every phantom rendered at once, (count, 1, S, S)."""
        return self.ellipses.images(self.size, supersample=self.supersample)

    def collection(self) -> ImageCollection:
        """The phantoms of :meth:`tensor` as an :class:`ImageCollection` (named "0", "1", ...)."""
        return ImageCollection(list(self.tensor()))


def ellipse_phantoms(split: str = "train", count: int = 1000, size: int = 64, supersample: int = 4
                     ) -> torch.Tensor:
    """The embedded phantom data set in memory, (count, 1, S, S): :class:`EllipsePhantoms`'
    :meth:`~EllipsePhantoms.tensor`."""
    return EllipsePhantoms(split, count, size, supersample).tensor()

"""Data: the embedded photo sets (from scikit-image's bundled images) and loaders for user
image folders (CelebA-HQ, LSUN exported as images) and LoDoPaB-CT's HDF5 files: in memory
(:func:`image_folder`, :func:`celeba_hq`, :func:`lodopab_ct`) or streamed through DataLoader
workers (:class:`ImageFolderDataset`, :func:`celeba_hq_dataset`, :class:`LoDoPaBDataset`, with an
optional uint8 on-disk :class:`ItemCache`; :func:`default_workers`).

An :class:`ImageCollection` holds images of shape (C, H, W) in [0, 1]; it serves random
training crops (with flips) and deterministic test tiles.
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torch.utils.data

from .sampling import as_size, grid_coords

#: Source images of the embedded sets, split by *source image*. Natural photographs for
#: training and testing; another domain (astronomy, microscopy, retinal fundus) as the
#: out-of-distribution set. All are bundled with scikit-image (no download).
EMBEDDED_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("astronaut", "rocket", "stereo_motorcycle", "coins", "clock", "moon",
              "brick", "grass", "gravel"),
    "test": ("chelsea", "coffee", "camera"),
    "ood": ("hubble_deep_field", "immunohistochemistry", "retina"),
}

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DATA_HINT = ("see data/README.md for where to get CelebA-HQ and LSUN-bedroom and the expected "
             "folder layout (a flat folder of image files)")


def resize(images: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
    """Antialiased bicubic resize, as used to make low-resolution inputs and targets.

    Args:
        images: (B, C, H, W).
        size: output side or (H, W).

    Returns:
        (B, C, h, w).
    """
    if images.dim() != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    hw = as_size(size)
    if tuple(images.shape[-2:]) == hw:
        return images
    return F.interpolate(images, size=hw, mode="bicubic", antialias=True, align_corners=False)


def to_tensor(array: np.ndarray, channels: int) -> torch.Tensor:
    """(H, W[, c]) uint8/float array → (channels, H, W) float32 in [0, 1]."""
    a = np.asarray(array)
    a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[-1] == 4:
        a = a[..., :3]
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)
    if t.shape[0] == channels:
        return t
    if channels == 1:
        return t.mean(0, keepdim=True)
    if t.shape[0] == 1:
        return t.expand(channels, -1, -1).clone()
    raise ValueError(f"cannot convert an image with {t.shape[0]} channels to {channels}")


def _rescale_short_side(image: torch.Tensor, short_side: int | None) -> torch.Tensor:
    if short_side is None:
        return image
    h, w = image.shape[-2:]
    s = short_side / min(h, w)
    return resize(image[None], (max(1, round(h * s)), max(1, round(w * s))))[0].clamp(0, 1)


class ImageCollection:
    """A list of images (C, H, W) in [0, 1], possibly of different sizes.

    Args:
        images: sequence of (C, H, W) tensors with the same C.
        names: optional names, one per image.
    """

    def __init__(self, images: Sequence[torch.Tensor], names: Sequence[str] | None = None) -> None:
        if len(images) == 0:
            raise ValueError("an ImageCollection needs at least one image")
        channels = {im.shape[0] for im in images}
        if len(channels) != 1 or any(im.dim() != 3 for im in images):
            raise ValueError("images must all have shape (C, H, W) with the same C")
        self.images = list(images)
        self.names = list(names) if names is not None else [str(i) for i in range(len(images))]
        self.channels = channels.pop()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]

    def _check_size(self, size: int) -> None:
        small = [n for n, im in zip(self.names, self.images) if min(im.shape[-2:]) < size]
        if small:
            raise ValueError(f"crop size {size} is larger than images {small[:5]}")

    def random_crops(self, batch: int, size: int, generator: torch.Generator | None = None,
                     flips: bool = True) -> torch.Tensor:
        """Random ``size``×``size`` crops of randomly chosen images, randomly flipped left-right.

        Returns:
            (batch, C, size, size).
        """
        self._check_size(size)
        g = generator
        which = torch.randint(len(self.images), (batch,), generator=g)
        out = torch.empty(batch, self.channels, size, size)
        for k, i in enumerate(which.tolist()):
            im = self.images[i]
            top = int(torch.randint(im.shape[1] - size + 1, (1,), generator=g))
            left = int(torch.randint(im.shape[2] - size + 1, (1,), generator=g))
            crop = im[:, top:top + size, left:left + size]
            if flips and bool(torch.randint(2, (1,), generator=g)):
                crop = crop.flip(-1)
            out[k] = crop
        return out

    def tiles(self, size: int, limit: int | None = None, per_image: int | None = None) -> torch.Tensor:
        """Non-overlapping ``size``×``size`` tiles of every image, in order (deterministic).

        Args:
            size: tile side.
            limit: at most this many tiles in all.
            per_image: at most this many tiles of each image (the first in row-major order).

        Returns:
            (T, C, size, size).
        """
        self._check_size(size)
        if per_image is not None and per_image < 1:
            raise ValueError(f"per_image must be a positive number of tiles, got {per_image}")
        out = []
        for im in self.images:
            mine = [im[:, top:top + size, left:left + size]
                    for top in range(0, im.shape[1] - size + 1, size)
                    for left in range(0, im.shape[2] - size + 1, size)]
            out.extend(mine[:per_image])
        stacked = torch.stack(out)
        return stacked[:limit] if limit is not None else stacked


def embedded_photos(split: str = "train", short_side: int | None = 256, channels: int = 3) -> ImageCollection:
    """The embedded photo sets built from scikit-image's bundled images (no download).

    Args:
        split: ``"train"``, ``"test"`` (held-out source images) or ``"ood"`` (another domain).
        short_side: each source image is resized (antialiased) so its shorter side has this length
            (``None``: native resolution).
        channels: 3 (grey images repeated) or 1 (colour images averaged).

    Returns:
        An :class:`ImageCollection` (stereo_motorcycle contributes both views).
    """
    if split not in EMBEDDED_SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {tuple(EMBEDDED_SPLITS)}")
    import skimage.data

    images, names = [], []
    for name in EMBEDDED_SPLITS[split]:
        loaded = getattr(skimage.data, name)()
        views = loaded[:2] if isinstance(loaded, tuple) else (loaded,)
        for v, array in enumerate(views):
            images.append(_rescale_short_side(to_tensor(array, channels), short_side))
            names.append(name if len(views) == 1 else f"{name}_{v}")
    return ImageCollection(images, names)


def _image_files(path: str | Path, select: slice | None, limit: int | None) -> list[Path]:
    """The sorted image files of a flat folder, ``[select][:limit]``, with the loaders' errors."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder {str(folder)!r} does not exist; {DATA_HINT}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"dataset folder {str(folder)!r} holds no image files "
                                f"({', '.join(IMAGE_SUFFIXES)}); {DATA_HINT}")
    if select is not None:
        files = files[select]
        if not files:
            raise ValueError(f"the selection {select} of {str(folder)!r} holds no files")
    return files[:limit]


def _load_image(file: Path, size: int | None, channels: int) -> torch.Tensor:
    """One image file → (channels, H, W) in [0, 1]; with ``size``, centre-cropped to a square and
    resized (antialiased bicubic) to size×size, then clamped to [0, 1]."""
    from PIL import Image

    try:
        with Image.open(file) as im:
            array = np.asarray(im.convert("RGB" if channels == 3 else "L"))
    except Exception as err:  # PIL raises several types for broken files
        raise ValueError(f"cannot read image file {str(file)!r}: {err}") from err
    t = to_tensor(array, channels)
    if size is not None:
        h, w = t.shape[-2:]
        s = min(h, w)
        t = t[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        t = resize(t[None], size)[0].clamp(0, 1)
    return t


def image_folder(path: str | Path, size: int | None = None, channels: int = 3,
                 limit: int | None = None, select: slice | None = None) -> ImageCollection:
    """Load a flat folder of images (e.g. CelebA-HQ or LSUN-bedroom exported as PNG/JPEG).

    Args:
        path: the folder.
        size: if given, each image is centre-cropped to a square and resized to size×size.
        channels: 3 or 1.
        limit: read at most this many files (sorted by name).
        select: a slice of the sorted file list to read (applied before ``limit``).

    Returns:
        An :class:`ImageCollection`.
    """
    files = _image_files(path, select, limit)
    images = [_load_image(f, size, channels) for f in files]
    return ImageCollection(images, [f.name for f in files])


def celeba_hq(root: str | Path, split: str = "train", size: int = 128, test_count: int = 100,
              limit: int | None = None) -> ImageCollection:
    """CelebA-HQ exported as a flat folder of images (see data/README.md).

    The files are sorted by name; the last ``test_count`` are the test split, the rest train.

    Args:
        root: the folder.
        split: ``"train"`` or ``"test"``.
        size: side the images are resized to (the paper: 128 for training, up to 1024 for testing).
        test_count: number of test images (the paper: 100).
        limit: read at most this many images.
    """
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'test'")
    select = slice(None, -test_count) if split == "train" else slice(-test_count, None)
    return image_folder(root, size=size, select=select, limit=limit)


def lsun_bedroom(root: str | Path, size: int = 256, limit: int | None = 100) -> ImageCollection:
    """LSUN-bedroom exported as a flat folder of images: the out-of-distribution test set.

    The paper super-resolves 128 → 256 on LSUN-bedroom with models trained on CelebA-HQ; each
    image is centre-cropped to a square and resized to ``size`` (the ground truth), the first
    ``limit`` files by name (the paper: 100).
    """
    return image_folder(root, size=size, limit=limit)


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


class RandomBumps:
    """A training source of fresh random :class:`GaussianBumps` at every step, with exact values,
    gradients and Laplacians at random continuous coordinates (no pixel grid for the targets).

    Used by :func:`funknn.training.train` in place of an :class:`ImageCollection`.

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


def ellipse_phantoms(split: str = "train", count: int = 1000, size: int = 64, supersample: int = 4
                     ) -> torch.Tensor:
    """The embedded phantom data set: ``count`` random-ellipse phantoms (:class:`Ellipses`,
    default settings) of the split's fixed seed, as pixel averages at ``size × size``, (count, 1, S, S).

    The first ``k`` phantoms of a split do not depend on ``count`` or ``size``, so the same
    phantoms can be drawn at several resolutions (e.g. the prior's and a finer ground truth).
    """
    if split not in ELLIPSE_SEEDS:
        raise ValueError(f"unknown split {split!r}; expected one of {tuple(ELLIPSE_SEEDS)}")
    return ellipse_set(split, count).images(size, supersample=supersample)


def ellipse_set(split: str = "train", count: int = 1000) -> Ellipses:
    """The :class:`Ellipses` (parameters) behind :func:`ellipse_phantoms`."""
    if split not in ELLIPSE_SEEDS:
        raise ValueError(f"unknown split {split!r}; expected one of {tuple(ELLIPSE_SEEDS)}")
    return Ellipses.random(count, torch.Generator().manual_seed(ELLIPSE_SEEDS[split]))


LODOPAB_HINT = ("LoDoPaB-CT's ground-truth files are named ground_truth_<split>_<nnn>.hdf5 with a "
                "dataset 'data' of shape (k, 362, 362); see data/README.md")


def _lodopab_files(root: str | Path, split: str, scale: float) -> list[Path]:
    """The sorted ground-truth files of a LoDoPaB-CT split, with the loaders' errors."""
    try:
        import h5py  # noqa: F401
    except ImportError as err:  # pragma: no cover - h5py is a dependency
        raise ImportError("reading LoDoPaB-CT needs h5py (pip install h5py)") from err
    if split not in ("train", "validation", "test"):
        raise ValueError(f"unknown split {split!r}; expected 'train', 'validation' or 'test'")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    folder = Path(root)
    if not folder.is_dir():
        raise FileNotFoundError(f"LoDoPaB-CT folder {str(folder)!r} does not exist; {LODOPAB_HINT}")
    files = sorted(folder.glob(f"ground_truth_{split}_*.hdf5"))
    files += sorted(folder.glob(f"ground_truth_{split}_*.h5"))
    if not files:
        raise FileNotFoundError(f"no ground_truth_{split}_*.hdf5 files in {str(folder)!r}; {LODOPAB_HINT}")
    return files


def _lodopab_data(h, file: Path):
    """The checked dataset ``data`` (k, H, W) of an open LoDoPaB-CT file."""
    if "data" not in h:
        raise ValueError(f"{str(file)!r} has no dataset 'data'; {LODOPAB_HINT}")
    d = h["data"]
    if d.ndim != 3:
        raise ValueError(f"{str(file)!r}: dataset 'data' must be (k, H, W), got shape {d.shape}")
    return d


def lodopab_ct(root: str | Path, split: str = "train", size: int = 128, limit: int | None = None,
               scale: float = 1.0) -> torch.Tensor:
    """Ground-truth slices of LoDoPaB-CT (Leuschner et al. 2021) from its HDF5 files.

    Reads ``ground_truth_<split>_*.hdf5`` in ``root`` (sorted), dataset ``data`` (k, 362, 362)
    of attenuation values, divides by one fixed ``scale`` (LoDoPaB's ground truth is already
    normalised to [0, 1], so the default 1 keeps it: the same slice has the same values in
    every call, whatever else is read), resizes to ``size`` (antialiased bicubic) and clips to
    [0, 1]. Returns (N, 1, size, size).

    Args:
        root: folder with the HDF5 files.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        size: output side (the paper: 128).
        limit: read at most this many slices.
        scale: fixed intensity divisor.
    """
    files = _lodopab_files(root, split, scale)
    import h5py

    slices = []
    remaining = limit if limit is not None else float("inf")
    for f in files:
        if remaining <= 0:
            break
        with h5py.File(f, "r") as h:
            d = _lodopab_data(h, f)
            k = int(min(d.shape[0], remaining))
            slices.append(torch.from_numpy(np.asarray(d[:k], dtype=np.float32)))
            remaining -= k
    data = torch.cat(slices).unsqueeze(1) / float(scale)
    return resize(data, size).clamp(0, 1)


# --------------------------------------------------------------------------------------------
# Streaming datasets: lazy decoding for DataLoader workers, with an optional uint8 on-disk cache


def default_workers(local_ranks: int | None = None) -> int:
    """The number of :class:`torch.utils.data.DataLoader` worker processes sized to this machine:
    ``min(8, cpus // local_ranks - 1)``, at least 0.

    ``cpus`` counts the CPUs this process may run on (``os.sched_getaffinity`` where the system has
    it, so that ``taskset`` and container CPU sets are respected; else ``os.cpu_count()``); one CPU
    per training process is left to the training process itself. ``local_ranks`` is the number of
    training processes sharing the machine, each with its own loader (default: torchrun's
    ``LOCAL_WORLD_SIZE``, else 1). More than 8 workers rarely pays: decoding then waits on the disk.
    0 means loading in the main process (the DataLoader's own default); on a 2-CPU machine the
    answer is 1.
    """
    if hasattr(os, "sched_getaffinity"):
        cpus = len(os.sched_getaffinity(0))
    else:  # pragma: no cover - macOS, Windows
        cpus = os.cpu_count() or 1
    if local_ranks is None:
        local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    if local_ranks < 1:
        raise ValueError(f"local_ranks must be a positive number of processes, got {local_ranks}")
    return max(0, min(8, cpus // local_ranks - 1))


_CACHE_MAGIC = b"FUNKNNC1"
_CACHE_PAGE = 4096
#: version of the decoding pipeline recorded in cache keys: bump it when decoding changes
_CACHE_FORMAT = 1


def _file_signature(files: Sequence[Path]) -> list[list]:
    """(name, bytes, modification time in ns) of each file: a changed file changes the cache key."""
    out = []
    for f in files:
        st = f.stat()
        out.append([f.name, st.st_size, st.st_mtime_ns])
    return out


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


class ItemCache:
    """A uint8 on-disk cache of a dataset's items, all of one shape, shared by processes.

    One file per dataset configuration, named ``<kind>-<16 hex digits of the key's hash>.u8`` in
    ``folder``; the key (a JSON-able dict: the source files with their sizes and modification
    times, the output size, channels, scale, ...) is hashed with SHA-256 and the full digest is also
    stored in the file's header, so a stale or foreign file is never read. Layout: a 4096-byte
    header (magic, digest, count and item shape), one "filled" byte per item, then the items'
    pixels (``count × prod(shape)`` bytes, page aligned), as ``round(x·255)``.

    Safe with several processes at once (DataLoader workers, torchrun ranks on one machine):

    - the file is created at full size under a temporary name and linked to its final name only
      if none exists (``os.link``; ``os.replace`` where the file system has no hard links, and to
      replace a file whose header does not match), so nobody sees a partial header;
    - an item is written with ``os.pwrite`` (pixels first, then its flag, two ordered system calls
      on one page cache), and read through a read-only shared memory map only once its flag is set,
      so a reader never returns a half-written item; an item whose writer died before setting the
      flag is decoded again. Two processes filling the same item write the same bytes.

    The file is sparse until filled; open handles are per process (dropped when pickled and
    reopened after a fork).
    """

    def __init__(self, folder: str | Path, key: dict, count: int, shape: Sequence[int]) -> None:
        if count < 1:
            raise ValueError(f"a cache needs at least one item, got {count}")
        self.key = dict(key)
        self.digest = hashlib.sha256(json.dumps(self.key, sort_keys=True).encode()).digest()
        self.count, self.shape = int(count), tuple(int(s) for s in shape)
        self.item_bytes = math.prod(self.shape)
        self.flags_offset = _CACHE_PAGE
        self.data_offset = -(-(_CACHE_PAGE + self.count) // _CACHE_PAGE) * _CACHE_PAGE
        self.nbytes = self.data_offset + self.count * self.item_bytes
        kind = str(self.key.get("kind", "items"))
        self.path = Path(folder) / f"{kind}-{self.digest.hex()[:16]}.u8"
        self._pid: int | None = None
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._view: np.ndarray | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_pid=None, _fd=-1, _map=None, _view=None)
        return state

    def _header(self) -> bytes:
        return _CACHE_MAGIC + self.digest + np.array([self.count, *self.shape], dtype="<i8").tobytes()

    def _create(self, replace: bool) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(self._header())
                f.truncate(self.nbytes)
            if replace:
                os.replace(tmp, self.path)
                return
            try:
                os.link(tmp, self.path)          # atomic "create if absent"
            except FileExistsError:
                pass                             # another process was first: use its file
            except OSError:                      # no hard links here
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def _matches(self, fd: int) -> bool:
        header = self._header()
        return os.fstat(fd).st_size == self.nbytes and os.pread(fd, len(header), 0) == header

    def _open(self) -> np.ndarray:
        if self._pid == os.getpid() and self._view is not None:
            return self._view
        for _ in range(3):
            if not self.path.exists():
                self._create(replace=False)
            fd = os.open(self.path, os.O_RDWR)
            if self._matches(fd):
                break
            os.close(fd)                         # stale or foreign: never used, replaced
            self._create(replace=True)
        else:  # pragma: no cover - someone keeps rewriting the file
            raise RuntimeError(f"cache file {str(self.path)!r} keeps changing under us; remove it")
        self._fd, self._pid = fd, os.getpid()
        self._map = mmap.mmap(fd, self.nbytes, access=mmap.ACCESS_READ)
        self._view = np.frombuffer(self._map, dtype=np.uint8)
        return self._view

    def filled(self) -> np.ndarray:
        """A copy of the items' "filled" flags, (count,) bool."""
        view = self._open()
        return view[self.flags_offset:self.flags_offset + self.count].astype(bool)

    def get(self, i: int) -> np.ndarray | None:
        """Item ``i`` as uint8 of the item shape, or None if it is not filled yet."""
        view = self._open()
        if not view[self.flags_offset + i]:
            return None
        start = self.data_offset + i * self.item_bytes
        return view[start:start + self.item_bytes].reshape(self.shape).copy()

    def put(self, i: int, pixels: np.ndarray) -> None:
        """Store item ``i`` (uint8 of the item shape): the pixels, then the flag."""
        if pixels.dtype != np.uint8 or pixels.shape != self.shape:
            raise ValueError(f"a cached item must be uint8 of shape {self.shape}, "
                             f"got {pixels.dtype} {pixels.shape}")
        self._open()
        _pwrite_all(self._fd, np.ascontiguousarray(pixels).tobytes(), self.data_offset + i * self.item_bytes)
        _pwrite_all(self._fd, b"\x01", self.flags_offset + i)


def _check_side(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive integer side in pixels, got {size!r}")
    return int(size)


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of items (or None for all), got {limit}")


class _StreamingDataset(torch.utils.data.Dataset):
    """Items decoded on demand by ``_decode(i)`` → (C, size, size) float32 in [0, 1], through the
    optional :class:`ItemCache`."""

    cache: ItemCache | None

    def __len__(self) -> int:
        raise NotImplementedError

    def _decode(self, i: int) -> torch.Tensor:
        raise NotImplementedError

    def __getitem__(self, i: int) -> torch.Tensor:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a dataset of {n} items")
        i %= n
        if self.cache is None:
            return self._decode(i)
        stored = self.cache.get(i)
        if stored is None:
            stored = np.rint(self._decode(i).numpy() * 255).astype(np.uint8)
            self.cache.put(i, stored)
        return torch.from_numpy(stored).float().div_(255)

    def fill_cache(self, workers: int = 0) -> int:
        """Decode every item not yet in the cache (in ``workers`` DataLoader processes); returns how
        many items were decoded."""
        if self.cache is None:
            raise ValueError("this dataset has no cache (pass cache=<folder>)")
        missing = np.flatnonzero(~self.cache.filled()).tolist()
        if not missing:
            return 0
        loader = torch.utils.data.DataLoader(
            torch.utils.data.Subset(self, missing), batch_size=None, num_workers=workers)
        for _ in loader:
            pass
        return len(missing)


class ImageFolderDataset(_StreamingDataset):
    """A flat folder of images read lazily: a :class:`torch.utils.data.Dataset` for DataLoader
    workers, so that no process holds the whole data set in memory.

    The files, their order, the centre crop, the antialiased resize and the clamping are those of
    :func:`image_folder`: without a cache, ``dataset[i]`` equals ``image_folder(path, size,
    channels, limit, select)[i]`` exactly. Only the folder is listed on construction; each item is
    decoded when read. The dataset pickles (DataLoader workers started with ``spawn`` work).

    With ``cache=<folder>`` the resized images are kept as uint8 in an :class:`ItemCache` (one
    file per folder contents, size and channels) shared by all processes on the machine, filled as
    items are first read (or at once by :meth:`fill_cache`); later reads (epochs) skip decoding.
    With a cache every read, first or later, returns the stored ``round(x·255)/255``, which differs
    from the uncached image by at most 0.5/255 (quantisation).

    Args:
        path: the folder.
        size: side of the square images returned, (channels, size, size) float32 in [0, 1].
        channels: 3 or 1.
        select: a slice of the sorted file list (applied before ``limit``).
        limit: at most this many files.
        cache: a folder for the uint8 cache, or None.
    """

    def __init__(self, path: str | Path, size: int, channels: int = 3, select: slice | None = None,
                 limit: int | None = None, cache: str | Path | None = None) -> None:
        self.size = _check_side(size)
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        _check_limit(limit)
        self.channels = channels
        self.files = _image_files(path, select, limit)
        self.names = [f.name for f in self.files]
        self.cache = None
        if cache is not None:
            key = {"kind": "images", "format": _CACHE_FORMAT, "files": _file_signature(self.files),
                   "size": self.size, "channels": channels}
            self.cache = ItemCache(cache, key, len(self.files), (channels, self.size, self.size))

    def __len__(self) -> int:
        return len(self.files)

    def _decode(self, i: int) -> torch.Tensor:
        return _load_image(self.files[i], self.size, self.channels)


def celeba_hq_dataset(root: str | Path, split: str = "train", size: int = 128, test_count: int = 100,
                      limit: int | None = None, cache: str | Path | None = None) -> ImageFolderDataset:
    """CelebA-HQ read lazily: the split of :func:`celeba_hq` (files sorted by name, the last
    ``test_count`` are the test split) as an :class:`ImageFolderDataset`."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'test'")
    select = slice(None, -test_count) if split == "train" else slice(-test_count, None)
    return ImageFolderDataset(root, size, select=select, limit=limit, cache=cache)


class LoDoPaBDataset(_StreamingDataset):
    """LoDoPaB-CT's ground-truth slices read lazily from its HDF5 files: a
    :class:`torch.utils.data.Dataset` of (1, size, size) float32 in [0, 1].

    The files, their order, the scaling, the resize and the clamping are those of
    :func:`lodopab_ct`: without a cache, ``dataset[i]`` equals ``lodopab_ct(root, split, size,
    limit, scale)[i]`` exactly. Construction reads only the files' shapes into an index of
    (file, slice); the HDF5 files are opened on first read in each process (h5py handles survive
    neither pickling nor fork) and kept open. The dataset pickles.

    ``cache=<folder>``: as for :class:`ImageFolderDataset` (key: the files with sizes and
    modification times, the number of slices, size and scale); cached items differ from uncached
    ones by at most 0.5/255.

    Args:
        root: folder with the ``ground_truth_<split>_*.hdf5`` files.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        size: output side (the paper: 128).
        limit: at most this many slices.
        scale: fixed intensity divisor.
        cache: a folder for the uint8 cache, or None.
    """

    def __init__(self, root: str | Path, split: str = "train", size: int = 128, limit: int | None = None,
                 scale: float = 1.0, cache: str | Path | None = None) -> None:
        files = _lodopab_files(root, split, scale)
        self.size = _check_side(size)
        _check_limit(limit)
        self.scale = float(scale)
        self.files, counts = self._index_files(files, limit)
        self.file_of = np.repeat(np.arange(len(counts)), counts)
        self.slice_of = np.concatenate([np.arange(k) for k in counts])
        self._pid: int | None = None
        self._handles: dict[int, object] = {}
        self.cache = None
        if cache is not None:
            key = {"kind": "lodopab", "format": _CACHE_FORMAT, "files": _file_signature(self.files),
                   "count": len(self), "size": self.size, "scale": self.scale}
            self.cache = ItemCache(cache, key, len(self), (1, self.size, self.size))

    @staticmethod
    def _index_files(files: list[Path], limit: int | None) -> tuple[list[Path], list[int]]:
        """The files that contribute (up to ``limit`` slices) and their numbers of slices."""
        import h5py

        used, counts = [], []
        remaining = limit if limit is not None else math.inf
        for f in files:
            if remaining <= 0:
                break
            with h5py.File(f, "r") as h:
                k = int(min(_lodopab_data(h, f).shape[0], remaining))
            if k > 0:
                used.append(f)
                counts.append(k)
            remaining -= k
        if not counts:
            raise ValueError(f"the files {[str(f) for f in files]} hold no slices; {LODOPAB_HINT}")
        return used, counts

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_pid=None, _handles={})
        return state

    def __len__(self) -> int:
        return len(self.file_of)

    def _data(self, file_index: int):
        if self._pid != os.getpid():             # new process (fork): open our own handles
            self._pid, self._handles = os.getpid(), {}
        if file_index not in self._handles:
            import h5py

            f = self.files[file_index]
            self._handles[file_index] = _lodopab_data(h5py.File(f, "r"), f)
        return self._handles[file_index]

    def _decode(self, i: int) -> torch.Tensor:
        d = self._data(int(self.file_of[i]))
        x = torch.from_numpy(np.asarray(d[int(self.slice_of[i])], dtype=np.float32))
        return resize(x[None, None] / self.scale, self.size).clamp(0, 1)[0]

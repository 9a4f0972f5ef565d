"""Data: the embedded photo sets (from scikit-image's bundled images) and loaders for user
image folders (CelebA-HQ, LSUN exported as images).

An :class:`ImageCollection` holds images of shape (C, H, W) in [0, 1]; it serves random
training crops (with flips) and deterministic test tiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

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
    hw = (int(size), int(size)) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
    if min(hw) < 1:
        raise ValueError(f"size must be positive, got {size}")
    if tuple(images.shape[-2:]) == hw:
        return images
    return F.interpolate(images, size=hw, mode="bicubic", antialias=True, align_corners=False)


def _to_tensor(array: np.ndarray, channels: int) -> torch.Tensor:
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

    def tiles(self, size: int, limit: int | None = None) -> torch.Tensor:
        """Non-overlapping ``size``×``size`` tiles of every image, in order (deterministic).

        Returns:
            (T, C, size, size).
        """
        self._check_size(size)
        out = []
        for im in self.images:
            for top in range(0, im.shape[1] - size + 1, size):
                for left in range(0, im.shape[2] - size + 1, size):
                    out.append(im[:, top:top + size, left:left + size])
        stacked = torch.stack(out)
        return stacked[:limit] if limit is not None else stacked


def embedded_photos(split: str = "train", short_side: int = 256, channels: int = 3) -> ImageCollection:
    """The embedded photo sets built from scikit-image's bundled images (no download).

    Args:
        split: ``"train"``, ``"test"`` (held-out source images) or ``"ood"`` (another domain).
        short_side: each source image is resized (antialiased) so its shorter side has this length.
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
            images.append(_rescale_short_side(_to_tensor(array, channels), short_side))
            names.append(name if len(views) == 1 else f"{name}_{v}")
    return ImageCollection(images, names)


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
    from PIL import Image

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
    files = files[:limit]
    images = []
    for f in files:
        try:
            with Image.open(f) as im:
                array = np.asarray(im.convert("RGB" if channels == 3 else "L"))
        except Exception as err:  # PIL raises several types for broken files
            raise ValueError(f"cannot read image file {str(f)!r}: {err}") from err
        t = _to_tensor(array, channels)
        if size is not None:
            h, w = t.shape[-2:]
            s = min(h, w)
            t = t[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
            t = resize(t[None], size)[0].clamp(0, 1)
        images.append(t)
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
        from .sampling import grid_coords

        H, W = (int(size), int(size)) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
        c = grid_coords(H, W, dtype=torch.float64).unsqueeze(0).expand(len(self), -1, -1)
        return self.values(c)[..., 0].reshape(len(self), 1, H, W).to(dtype)


class RandomBumps:
    """A training source of fresh random :class:`GaussianBumps` at every step, with exact values
    and gradients at random continuous coordinates (no pixel grid for the targets).

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
        (batch, pixels, 2) and the exact values (batch, pixels, 1) and gradients
        (batch, pixels, 1, 2) there."""
        bumps = GaussianBumps.random(batch, generator, self.sigma_range)
        coords = torch.rand(batch, pixels, 2, generator=generator, dtype=torch.float64) * 2 - 1
        return {"low": bumps.images(low_size), "coords": coords.float(),
                "values": bumps.values(coords).float(), "gradient": bumps.gradient(coords).float()}

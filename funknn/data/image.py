"""Image operations shared by every source: the antialiased :func:`resize`, :func:`to_tensor`,
the short-side rescale, :class:`ImageCollection` (images in memory) and :func:`random_crops`, the
one random-crop helper (with flips) of the package.

Example:
    >>> images = [torch.rand(3, 20, 30), torch.rand(3, 24, 24)]
    >>> random_crops(images, 16, torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3, 16, 16])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..sampling import as_size

__all__ = ["ImageCollection", "random_crops", "rescale_short_side", "resize", "to_tensor"]


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


def rescale_short_side(image: torch.Tensor, short_side: int | None) -> torch.Tensor:
    """(C, H, W) resized (antialiased) so that its shorter side is ``short_side``, clamped to
    [0, 1]; ``None`` returns the image unchanged."""
    if short_side is None:
        return image
    h, w = image.shape[-2:]
    s = short_side / min(h, w)
    return resize(image[None], (max(1, round(h * s)), max(1, round(w * s))))[0].clamp(0, 1)


def random_crops(images: Sequence[torch.Tensor] | torch.Tensor, size: int,
                 generator: torch.Generator | None = None, flips: bool = True) -> torch.Tensor:
    """One random ``size``×``size`` crop of each image, flipped left-right with probability 1/2.

    Per image, in order, the random draws are: the top row, the left column, then (with
    ``flips``) whether to flip; so a run is reproducible from ``generator``.

    Args:
        images: a sequence of (C, H, W) tensors with the same C (sizes may differ), or (B, C, H, W).
        size: the crop side.
        generator: the random generator (None: torch's global one).
        flips: whether to flip at random.

    Returns:
        (B, C, size, size).
    """
    crops = []
    for k, im in enumerate(images):
        h, w = im.shape[-2:]
        if h < size or w < size:
            raise ValueError(f"crop size {size} exceeds the size {h}×{w} of image {k}")
        top = int(torch.randint(h - size + 1, (1,), generator=generator))
        left = int(torch.randint(w - size + 1, (1,), generator=generator))
        crop = im[:, top:top + size, left:left + size]
        if flips and bool(torch.randint(2, (1,), generator=generator)):
            crop = crop.flip(-1)
        crops.append(crop)
    if not crops:
        raise ValueError("random_crops needs at least one image")
    return torch.stack(crops)


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
        """Random ``size``×``size`` crops of randomly chosen images, randomly flipped left-right
        (:func:`random_crops` of ``batch`` images drawn with replacement).

        Returns:
            (batch, C, size, size).
        """
        self._check_size(size)
        which = torch.randint(len(self.images), (batch,), generator=generator)
        if batch == 0:
            return torch.empty(0, self.channels, size, size)
        return random_crops([self.images[i] for i in which.tolist()], size, generator, flips)

    def tile_sources(self, size: int, limit: int | None = None, per_image: int | None = None) -> list[int]:
        """The source image (its index in the collection) of each tile of :meth:`tiles` with the
        same arguments, in the same order: the ``groups`` of :func:`funknn.stats.bootstrap_mean`.

        >>> ImageCollection([torch.rand(3, 32, 64), torch.rand(3, 32, 32)]).tile_sources(32)
        [0, 0, 1]
        """
        self._check_size(size)
        if per_image is not None and per_image < 1:
            raise ValueError(f"per_image must be a positive number of tiles, got {per_image}")
        out = []
        for k, im in enumerate(self.images):
            count = (im.shape[1] // size) * (im.shape[2] // size)
            out.extend([k] * (count if per_image is None else min(count, per_image)))
        return out[:limit] if limit is not None else out

    def tiles(self, size: int, limit: int | None = None, per_image: int | None = None) -> torch.Tensor:
        """Non-overlapping ``size``×``size`` tiles of every image, in order (deterministic).

        Args:
            size: tile side.
            limit: at most this many tiles in all.
            per_image: at most this many tiles of each image (the first in row-major order).

        Returns:
            (T, C, size, size); :meth:`tile_sources` gives the source image of each.
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

"""Photo sources: the embedded photo sets (scikit-image's bundled images, no download) and flat
folders of image files (CelebA-HQ, LSUN-bedroom exported as images, or any folder).

One class per source, in memory or streamed: :class:`ImageFolder` is a
:class:`torch.utils.data.Dataset` that decodes each file when read (for DataLoader workers, with an
optional uint8 cache) and :meth:`~ImageFolder.collection` gives the same images in memory;
:class:`CelebAHQ` and :class:`LSUNBedroom` are its presets. The functions :func:`image_folder`,
:func:`celeba_hq`, :func:`celeba_hq_dataset`, :func:`lsun_bedroom` and the class
:class:`ImageFolderDataset` are the earlier names of the same things.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .cache import CACHE_FORMAT, ItemCache, file_signature
from .image import ImageCollection, rescale_short_side, resize, to_tensor
from .registry import register
from .source import Source, check_limit, check_side

__all__ = ["CELEBA_SPLITS", "DATA_HINT", "EMBEDDED_SPLITS", "IMAGE_SUFFIXES", "CelebAHQ", "EmbeddedPhotos",
           "ImageFolder", "ImageFolderDataset", "LSUNBedroom", "celeba_hq", "celeba_hq_dataset",
           "celeba_split", "embedded_photos", "image_folder", "lsun_bedroom"]

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

#: the splits of CelebA-HQ's sorted files
CELEBA_SPLITS = ("train", "test")


@register("photos")
class EmbeddedPhotos(Source):
    """The embedded photo sets built from scikit-image's bundled images (no download).

    The images are decoded on construction (they are small) and have different sizes, so this
    source serves them in memory (:meth:`collection`); as a Dataset its items are those images.

    Args:
        split: ``"train"``, ``"test"`` (held-out source images) or ``"ood"`` (another domain).
        short_side: each source image is resized (antialiased) so its shorter side has this length
            (``None``: native resolution).
        channels: 3 (grey images repeated) or 1 (colour images averaged).
    """

    def __init__(self, split: str = "train", short_side: int | None = 256, channels: int = 3) -> None:
        if split not in EMBEDDED_SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {tuple(EMBEDDED_SPLITS)}")
        import skimage.data

        self.images: list[torch.Tensor] = []
        self.names = []
        for name in EMBEDDED_SPLITS[split]:
            loaded = getattr(skimage.data, name)()
            views = loaded[:2] if isinstance(loaded, tuple) else (loaded,)
            for v, array in enumerate(views):
                self.images.append(rescale_short_side(to_tensor(array, channels), short_side))
                self.names.append(name if len(views) == 1 else f"{name}_{v}")

    def __len__(self) -> int:
        return len(self.images)

    def _decode(self, i: int) -> torch.Tensor:
        return self.images[i]


def embedded_photos(split: str = "train", short_side: int | None = 256, channels: int = 3) -> ImageCollection:
    """The embedded photo sets in memory: :class:`EmbeddedPhotos`' :meth:`~EmbeddedPhotos.collection`
    (an :class:`ImageCollection`; stereo_motorcycle contributes both views)."""
    return EmbeddedPhotos(split, short_side, channels).collection()


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


@register("folder")
class ImageFolder(Source):
    """A flat folder of image files (e.g. CelebA-HQ or LSUN-bedroom exported as PNG/JPEG), read
    lazily: a :class:`torch.utils.data.Dataset` for DataLoader workers, so that no process holds
    the whole data set in memory, and :meth:`collection` for all of it in memory.

    The files are sorted by name, ``[select][:limit]``; with ``size`` each image is centre-cropped
    to a square and resized (antialiased bicubic) to size×size, then clamped to [0, 1]; without,
    it keeps its native size. Only the folder is listed on construction; each item is decoded when
    read. The source pickles (DataLoader workers started with ``spawn`` work).

    With ``cache=<folder>`` (needs ``size``) the resized images are kept as uint8 in an
    :class:`~funknn.data.ItemCache` (one file per folder contents, size and channels) shared
    by all processes on the machine, filled as items are first read (or at once by
    :meth:`fill_cache`); later reads (epochs) skip decoding. With a cache every read, first or
    later, returns the stored ``round(x·255)/255``, which differs from the uncached image by at
    most 0.5/255 (quantisation).

    Args:
        path: the folder.
        size: side of the square images returned, (channels, size, size) float32 in [0, 1], or
            None for the native sizes.
        channels: 3 or 1.
        select: a slice of the sorted file list (applied before ``limit``).
        limit: at most this many files.
        cache: a folder for the uint8 cache, or None.
    """

    def __init__(self, path: str | Path, size: int | None = None, channels: int = 3,
                 select: slice | None = None, limit: int | None = None,
                 cache: str | Path | None = None) -> None:
        self.size = None if size is None else check_side(size)
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        check_limit(limit)
        if cache is not None and self.size is None:
            raise ValueError("cache needs a size: the cache stores images of one size")
        self.channels = channels
        self.files = _image_files(path, select, limit)
        self.names = [f.name for f in self.files]
        self.cache = None
        if cache is not None and self.size is not None:
            key = {"kind": "images", "format": CACHE_FORMAT, "files": file_signature(self.files),
                   "size": self.size, "channels": channels}
            self.cache = ItemCache(cache, key, len(self.files), (channels, self.size, self.size))

    def __len__(self) -> int:
        return len(self.files)

    def _decode(self, i: int) -> torch.Tensor:
        return _load_image(self.files[i], self.size, self.channels)


class ImageFolderDataset(ImageFolder):
    """:class:`ImageFolder` with a required ``size`` (its earlier name for streaming): without a
    cache, ``dataset[i]`` equals ``image_folder(path, size, channels, limit, select)[i]`` exactly."""

    def __init__(self, path: str | Path, size: int, channels: int = 3, select: slice | None = None,
                 limit: int | None = None, cache: str | Path | None = None) -> None:
        super().__init__(path, check_side(size), channels, select, limit, cache)


def image_folder(path: str | Path, size: int | None = None, channels: int = 3,
                 limit: int | None = None, select: slice | None = None) -> ImageCollection:
    """Load a flat folder of images in memory: :class:`ImageFolder`'s :meth:`~ImageFolder.collection`.

    Args:
        path: the folder.
        size: if given, each image is centre-cropped to a square and resized to size×size.
        channels: 3 or 1.
        limit: read at most this many files (sorted by name).
        select: a slice of the sorted file list to read (applied before ``limit``).

    Returns:
        An :class:`ImageCollection`.
    """
    return ImageFolder(path, size, channels, select=select, limit=limit).collection()


def celeba_split(split: str, test_count: int) -> slice:
    """The split rule of CelebA-HQ: of the files sorted by name, the last ``test_count`` are the
    test split, the rest train."""
    if split not in CELEBA_SPLITS:
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'test'")
    return slice(None, -test_count) if split == "train" else slice(-test_count, None)


@register("celeba-hq")
class CelebAHQ(ImageFolder):
    """CelebA-HQ exported as a flat folder of images (see data/README.md): an :class:`ImageFolder`
    of one split (:func:`celeba_split`), images resized to ``size``.

    Args:
        root: the folder.
        split: ``"train"`` or ``"test"``.
        size: side the images are resized to (the paper: 128 for training, up to 1024 for testing).
        test_count: number of test images (the paper: 100).
        limit: read at most this many images.
        cache: a folder for the uint8 cache, or None.
        channels: 3 or 1.
    """

    def __init__(self, root: str | Path, split: str = "train", size: int = 128, test_count: int = 100,
                 limit: int | None = None, cache: str | Path | None = None, channels: int = 3) -> None:
        self.split = split
        super().__init__(root, size, channels, select=celeba_split(split, test_count), limit=limit,
                         cache=cache)


@register("lsun-bedroom")
class LSUNBedroom(ImageFolder):
    """LSUN-bedroom exported as a flat folder of images: the out-of-distribution test set.

    The paper super-resolves 128 → 256 on LSUN-bedroom with models trained on CelebA-HQ; each
    image is centre-cropped to a square and resized to ``size`` (the ground truth), the first
    ``limit`` files by name (the paper: 100).
    """

    def __init__(self, root: str | Path, size: int = 256, limit: int | None = 100,
                 cache: str | Path | None = None, channels: int = 3) -> None:
        super().__init__(root, size, channels, limit=limit, cache=cache)


def celeba_hq(root: str | Path, split: str = "train", size: int = 128, test_count: int = 100,
              limit: int | None = None) -> ImageCollection:
    """CelebA-HQ in memory: :class:`CelebAHQ`'s :meth:`~ImageFolder.collection` (the files sorted
    by name; the last ``test_count`` are the test split, the rest train); the arguments are
    :class:`CelebAHQ`'s."""
    return CelebAHQ(root, split, size, test_count, limit).collection()


def celeba_hq_dataset(root: str | Path, split: str = "train", size: int = 128, test_count: int = 100,
                      limit: int | None = None, cache: str | Path | None = None) -> CelebAHQ:
    """CelebA-HQ read lazily: :class:`CelebAHQ` with a required size (the split of :func:`celeba_hq`)."""
    return CelebAHQ(root, split, check_side(size), test_count, limit, cache)


def lsun_bedroom(root: str | Path, size: int = 256, limit: int | None = 100) -> ImageCollection:
    """LSUN-bedroom in memory: :class:`LSUNBedroom`'s :meth:`~ImageFolder.collection`."""
    return LSUNBedroom(root, size, limit).collection()

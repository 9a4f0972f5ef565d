"""Data: image ops, the data sources (embedded photos, image folders such as CelebA-HQ and
LSUN-bedroom, LoDoPaB-CT's HDF5 files, synthetic bumps and ellipse phantoms), the on-disk uint8
cache and the dataset registry.

One module per concern:

- ``funknn.data.image``: :func:`resize`, :func:`to_tensor`, :class:`ImageCollection` (images
  in memory: random training crops with flips, deterministic test tiles), :func:`random_crops`;
- ``funknn.data.source``: :class:`Source`, the base of every source, a
  :class:`torch.utils.data.Dataset` (streamed through DataLoader workers, optional cache) with
  :meth:`~Source.collection` / :meth:`~Source.tensor` for the same images in memory;
  :func:`default_workers`;
- ``funknn.data.photos``: :class:`EmbeddedPhotos`, :class:`ImageFolder` and its presets
  :class:`CelebAHQ`, :class:`LSUNBedroom`;
- ``funknn.data.lodopab``: :class:`LoDoPaB`;
- ``funknn.data.synthetic``: :class:`GaussianBumps`, :class:`RandomBumps`, :class:`Ellipses`,
  :class:`EllipsePhantoms`;
- ``funknn.data.cache``: :class:`ItemCache`;
- ``funknn.data.registry``: :func:`names`, :func:`make`, :func:`register`.

The earlier functions (:func:`image_folder`, :func:`celeba_hq`, :func:`celeba_hq_dataset`,
:func:`lsun_bedroom`, :func:`embedded_photos`, :func:`lodopab_ct`, :func:`ellipse_phantoms`) and
classes (:class:`ImageFolderDataset`, :class:`LoDoPaBDataset`) remain, as thin wrappers of the
source classes.

Example:
    >>> from funknn import data
    >>> data.names()
    ('bumps', 'celeba-hq', 'ellipses', 'folder', 'lodopab', 'lsun-bedroom', 'photos')
    >>> data.make("photos", split="test", short_side=32).collection().names
    ['chelsea', 'coffee', 'camera']
"""

from .cache import ItemCache
from .image import ImageCollection, random_crops, rescale_short_side, resize, to_tensor
from .lodopab import LODOPAB_HINT, LODOPAB_SPLITS, LoDoPaB, LoDoPaBDataset, lodopab_ct
from .photos import (
    CELEBA_SPLITS,
    DATA_HINT,
    EMBEDDED_SPLITS,
    IMAGE_SUFFIXES,
    CelebAHQ,
    EmbeddedPhotos,
    ImageFolder,
    ImageFolderDataset,
    LSUNBedroom,
    celeba_hq,
    celeba_hq_dataset,
    celeba_split,
    embedded_photos,
    image_folder,
    lsun_bedroom,
)
from .registry import make, names, register, source
from .source import Source, default_workers
from .synthetic import (
    ELLIPSE_SEEDS,
    EllipsePhantoms,
    Ellipses,
    GaussianBumps,
    RandomBumps,
    ellipse_phantoms,
    ellipse_set,
)

__all__ = [
    "CELEBA_SPLITS", "DATA_HINT", "ELLIPSE_SEEDS", "EMBEDDED_SPLITS", "IMAGE_SUFFIXES", "LODOPAB_HINT",
    "LODOPAB_SPLITS", "CelebAHQ", "EllipsePhantoms", "Ellipses", "EmbeddedPhotos", "GaussianBumps",
    "ImageCollection", "ImageFolder", "ImageFolderDataset", "ItemCache", "LSUNBedroom", "LoDoPaB",
    "LoDoPaBDataset", "RandomBumps", "Source", "celeba_hq", "celeba_hq_dataset", "celeba_split",
    "default_workers", "ellipse_phantoms", "ellipse_set", "embedded_photos", "image_folder",
    "lodopab_ct", "lsun_bedroom", "make", "names", "random_crops", "register", "rescale_short_side",
    "resize", "source", "to_tensor",
]

"""LoDoPaB-CT (Leuschner et al. 2021): the ground-truth slices of its HDF5 files, one class
(:class:`LoDoPaB`) streamed (a :class:`torch.utils.data.Dataset`, optional uint8 cache) or in
memory (:meth:`LoDoPaB.tensor`, :meth:`LoDoPaB.collection`); :func:`lodopab_ct` and
:class:`LoDoPaBDataset` are its earlier names."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cache import CACHE_FORMAT, ItemCache, file_signature
from .image import ImageCollection, resize
from .registry import register
from .source import Source, check_limit, check_side

__all__ = ["LODOPAB_HINT", "LODOPAB_SPLITS", "LoDoPaB", "LoDoPaBDataset", "lodopab_ct"]

LODOPAB_HINT = ("LoDoPaB-CT's ground-truth files are named ground_truth_<split>_<nnn>.hdf5 with a "
                "dataset 'data' of shape (k, 362, 362); see data/README.md")
LODOPAB_SPLITS = ("train", "validation", "test")


def _lodopab_files(root: str | Path, split: str, scale: float) -> list[Path]:
    """The sorted ground-truth files of a LoDoPaB-CT split, with the loaders' errors."""
    try:
        import h5py  # noqa: F401
    except ImportError as err:  # pragma: no cover - h5py is a dependency
        raise ImportError("reading LoDoPaB-CT needs h5py (pip install h5py)") from err
    if split not in LODOPAB_SPLITS:
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


@register("lodopab")
class LoDoPaB(Source):
    """LoDoPaB-CT's ground-truth slices from its HDF5 files: items (1, size, size) float32 in [0, 1].

    Reads ``ground_truth_<split>_*.hdf5`` in ``root`` (sorted), dataset ``data`` (k, 362, 362)
    of attenuation values, up to ``limit`` slices in file order; divides by one fixed ``scale``
    (LoDoPaB's ground truth is already normalised to [0, 1], so the default 1 keeps it: the same
    slice has the same values in every call, whatever else is read), resizes to ``size``
    (antialiased bicubic) and clips to [0, 1].

    Streamed, construction reads only the files' shapes into an index of (file, slice); the HDF5
    files are opened on first read in each process (h5py handles survive neither pickling nor
    fork) and kept open; the source pickles. In memory, :meth:`tensor` reads each file's slices
    at once, (N, 1, size, size), equal to the items.

    ``cache=<folder>``: as for :class:`~funknn.data.ImageFolder` (key: the files with sizes and
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
        self.size = check_side(size)
        check_limit(limit)
        self.scale = float(scale)
        self.files, self.counts = self._index_files(files, limit)
        self.file_of = np.repeat(np.arange(len(self.counts)), self.counts)
        self.slice_of = np.concatenate([np.arange(k) for k in self.counts])
        self._pid: int | None = None
        self._handles: dict[int, Any] = {}
        self.cache = None
        if cache is not None:
            key = {"kind": "lodopab", "format": CACHE_FORMAT, "files": file_signature(self.files),
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

    def _data(self, file_index: int) -> Any:
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

    def tensor(self) -> torch.Tensor:
        """Every slice, (N, 1, size, size): each file's slices read at once (without a cache)."""
        if self.cache is not None:
            return super().tensor()
        import h5py

        slices = []
        for f, k in zip(self.files, self.counts):
            with h5py.File(f, "r") as h:
                slices.append(torch.from_numpy(np.asarray(_lodopab_data(h, f)[:k], dtype=np.float32)))
        data = torch.cat(slices).unsqueeze(1) / self.scale
        return resize(data, self.size).clamp(0, 1)

    def collection(self) -> ImageCollection:
        """The slices of :meth:`tensor` as an :class:`~funknn.data.ImageCollection` (named "0", "1", ...)."""
        return ImageCollection(list(self.tensor()))


#: the earlier name of :class:`LoDoPaB` (the streamed data set)
LoDoPaBDataset = LoDoPaB


def lodopab_ct(root: str | Path, split: str = "train", size: int = 128, limit: int | None = None,
               scale: float = 1.0) -> torch.Tensor:
    """Ground-truth slices of LoDoPaB-CT in memory, (N, 1, size, size): :class:`LoDoPaB`'s
    :meth:`~LoDoPaB.tensor`.

    Args:
        root: folder with the HDF5 files.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        size: output side (the paper: 128).
        limit: read at most this many slices.
        scale: fixed intensity divisor.
    """
    return LoDoPaB(root, split, size, limit, scale).tensor()

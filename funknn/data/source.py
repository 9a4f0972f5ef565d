"""The one base class of the data sources: a :class:`Source` is a
:class:`torch.utils.data.Dataset` of images (C, H, W) in [0, 1] decoded on demand (streamed through
DataLoader workers, with an optional uint8 :class:`~funknn.data.ItemCache`), and gives the same
images in memory (:meth:`Source.collection`, :meth:`Source.tensor`); :func:`default_workers`
sizes the DataLoader to the machine.

Example:
    >>> from funknn.data import make
    >>> phantoms = make("ellipses", count=3, size=16)
    >>> torch.equal(phantoms[1], phantoms.tensor()[1]), len(phantoms.collection())
    (True, 3)
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.utils.data

from .cache import ItemCache
from .image import ImageCollection

__all__ = ["Source", "check_limit", "check_side", "default_workers"]


def check_side(size: int) -> int:
    """``size`` as a positive int side in pixels, or a ``ValueError`` naming ``size``."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive integer side in pixels, got {size!r}")
    return int(size)


def check_limit(limit: int | None) -> None:
    """``limit`` is None or a positive number of items, else a ``ValueError`` naming ``limit``."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of items (or None for all), got {limit}")


class Source(torch.utils.data.Dataset):
    """Items decoded on demand by ``_decode(i)`` → (C, H, W) float32 in [0, 1], through the optional
    :class:`ItemCache` (``cache``); in memory, :meth:`collection` and :meth:`tensor` hold
    ``[self[i] for i in range(len(self))]``.

    With a cache every read, first or later, returns the stored ``round(x·255)/255``, which
    differs from the decoded image by at most 0.5/255 (quantisation); without one, ``self[i]`` is
    the decoded image itself.
    """

    cache: ItemCache | None = None
    names: list[str] | None = None

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

    def collection(self) -> ImageCollection:
        """Every item in memory, in order, named as the source names them (else "0", "1", ...)."""
        return ImageCollection([self[i] for i in range(len(self))], self.names)

    def tensor(self) -> torch.Tensor:
        """Every item stacked, (N, C, H, W) (the items must have one size)."""
        return torch.stack([self[i] for i in range(len(self))])


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

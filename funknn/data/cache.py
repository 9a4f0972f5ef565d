"""The uint8 on-disk :class:`ItemCache` of a streamed source's items, shared by the processes of
one machine (DataLoader workers, torchrun ranks), and the cache keys' file signatures."""

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

__all__ = ["CACHE_FORMAT", "ItemCache", "file_signature"]

_CACHE_MAGIC = b"FUNKNNC1"
_CACHE_PAGE = 4096
#: version of the decoding pipeline recorded in cache keys: bump it when decoding changes
CACHE_FORMAT = 1


def file_signature(files: Sequence[Path]) -> list[list]:
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

"""The command line's one way to its data: :func:`source` turns a recipe's
:class:`~funknn.config.DataSpec` into what a trainer or ``evaluate`` reads."""

from __future__ import annotations

from typing import Any

from .. import data as data_mod
from ..config import DataSpec

__all__ = ["describe", "source"]


EMBEDDED = ("ellipses", "bumps", "photos")


def _grey(name: str, channels: int) -> None:
    if channels != 1:
        raise ValueError(f"--data {name} is grey: pass --channels 1")


def _registered(spec: DataSpec, split: str, size: int | None, channels: int, stream: bool = False) -> Any:
    """The registry's source (:func:`funknn.data.make`) of a folder or ``lodopab:DIR`` spec."""
    if spec.name.startswith("lodopab:"):
        _grey(spec.name, channels)
        return data_mod.make("lodopab", root=spec.name.split(":", 1)[1], split=split, size=size,
                             limit=spec.count, cache=spec.cache if stream else None)
    return data_mod.make("folder", path=spec.name, size=size, channels=channels, limit=spec.count,
                         cache=spec.cache if stream else None)


def _streamed(spec: DataSpec, channels: int, size: int) -> Any:
    if spec.name in EMBEDDED:
        raise ValueError(f"--stream reads a folder of images or lodopab:DIR, not the embedded {spec.name!r}")
    return _registered(spec, "train", size, channels, stream=True)


def _tensor(spec: DataSpec, split: str, size: int) -> Any:
    """Grey images (N, 1, size, size)."""
    if spec.name == "ellipses":
        return data_mod.make("ellipses", split=split, count=spec.count, size=size).tensor()
    if spec.name in ("bumps", "photos"):
        raise ValueError(f"--data {spec.name} is not a set of grey images of one size; use ellipses, "
                         "lodopab:DIR or a folder")
    if spec.name.startswith("lodopab:"):
        return _registered(spec, split, size, 1).tensor()
    return _registered(spec, split, size, 1).collection().tiles(size)


def _collection(spec: DataSpec, split: str, channels: int) -> Any:
    if spec.name == "bumps":
        _grey(spec.name, channels)
        return data_mod.make("bumps")
    if spec.name == "photos":
        photos = data_mod.make("photos", split=split, short_side=spec.short_side, channels=channels)
        return photos.collection()
    if spec.name == "ellipses":
        _grey(spec.name, channels)
        return data_mod.make("ellipses", split=split, count=spec.count, size=spec.short_side).collection()
    if spec.name.startswith("lodopab:"):
        return _registered(spec, split, spec.short_side, channels).collection()
    return data_mod.make("folder", path=spec.name, channels=channels).collection()


def source(spec: DataSpec, split: str = "train", channels: int = 1, size: int | None = None) -> Any:
    """The data of ``spec``: with ``size``, grey images (N, 1, size, size) for the generative
    prior (a lazily read data set with ``spec.stream``); without, the super-resolution source
    (an :class:`~funknn.data.ImageCollection`, :class:`~funknn.data.RandomBumps`, or a streamed
    data set of crops of side ``short_side``)."""
    if spec.stream:
        return _streamed(spec, channels if size is None else 1, spec.short_side if size is None else size)
    if size is not None:
        return _tensor(spec, split, size)
    return _collection(spec, split, channels)


def describe(spec: DataSpec, task: str, size: int) -> str:
    """One line naming the training data, as a checkpoint's metadata records it."""
    if task == "super-resolution":
        if spec.name == "photos":
            return (f"embedded photos (train split: {', '.join(data_mod.EMBEDDED_SPLITS['train'])}), "
                    f"short side {spec.short_side}")
        if spec.name == "bumps":
            return ("random Gaussian bumps (centre uniform in [-1, 1]², sigma uniform in [0.1, 0.4]), "
                    "exact values and derivatives at random coordinates")
        size = spec.short_side
        if spec.name != "ellipses":
            return spec.name
    if spec.name == "ellipses":
        return f"{spec.count} random-ellipse phantoms (funknn.data.ellipse_phantoms, train split) at {size}²"
    return f"{spec.name} (train split, up to {spec.count} images) at {size}²"

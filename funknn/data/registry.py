"""The dataset registry: each source class registers itself by name with :func:`register` in its
own module, :func:`names` lists them and :func:`make` builds one from keyword arguments.

A new data set is one module: a class decorated with ``@register("name")`` (usually a
:class:`~funknn.data.Source`), imported by ``funknn/data/__init__.py``.

Example:
    >>> from funknn.data import make, names
    >>> "ellipses" in names()
    True
    >>> make("ellipses", count=2, size=8).tensor().shape
    torch.Size([2, 1, 8, 8])
    >>> make("ellipses", colour=3)
    Traceback (most recent call last):
    ...
    ValueError: dataset 'ellipses' has no argument 'colour'; its arguments: split, count, size, supersample
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["make", "names", "register", "source"]

_SOURCES: dict[str, type] = {}


def register(name: str) -> Callable[[type], type]:
    """A class decorator: register the source class under ``name`` (returned unchanged)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a dataset name must be a non-empty string, got {name!r}")

    def decorate(factory: type) -> type:
        known = _SOURCES.get(name)
        if known is not None and known is not factory:
            raise ValueError(f"dataset name {name!r} is already registered by {known.__qualname__}")
        _SOURCES[name] = factory
        return factory

    return decorate


def names() -> tuple[str, ...]:
    """The registered dataset names, sorted."""
    return tuple(sorted(_SOURCES))


def source(name: str) -> type:
    """The class registered under ``name``."""
    if name not in _SOURCES:
        raise ValueError(f"unknown dataset {name!r}; expected one of {names()}")
    return _SOURCES[name]


def _arguments(factory: Callable[..., Any]) -> list[str]:
    return [p.name for p in inspect.signature(factory).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def make(name: str, **kwargs: Any) -> Any:
    """The data source registered under ``name``, built with ``kwargs``.

    Raises:
        ValueError: for an unknown name (listing the names), an argument the source does not take
            or a required argument left out (naming the argument).
    """
    factory = source(name)
    allowed = _arguments(factory)
    for key in kwargs:
        if key not in allowed:
            raise ValueError(f"dataset {name!r} has no argument {key!r}; its arguments: {', '.join(allowed)}")
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as err:
        missing = [p.name for p in inspect.signature(factory).parameters.values()
                   if p.default is p.empty and p.name not in kwargs
                   and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        raise ValueError(f"dataset {name!r} needs the argument {missing[0]!r}" if missing else
                         f"dataset {name!r}: {err}") from err
    return factory(**kwargs)

"""The model registry: every model family registers its classes by decorator in its own file, and
:func:`build` makes one by name.

A registered class keeps its complete constructor arguments in ``self.config`` (so that a
checkpoint can rebuild it). A name may carry preset constructor arguments (``liif-edsr`` is
``LIIF(preset="edsr")``) and the task that trains it (``"super-resolution"``, ``"autoencoder"``,
``"flow"``, ``"gasp"``; see :mod:`funknn.config`), which is where the command line takes the
choices of ``train --model`` from.

Example:
    >>> from torch import nn
    >>> @register("tiny-doc-example", task="super-resolution", width=2)
    ... class Tiny(nn.Module):
    ...     def __init__(self, in_channels: int = 3, width: int = 4):
    ...         super().__init__()
    ...         self.config = dict(in_channels=in_channels, width=width)
    >>> build("tiny-doc-example").config
    {'in_channels': 3, 'width': 2}
    >>> "tiny-doc-example" in names(task="super-resolution")
    True
    >>> unregister("tiny-doc-example")
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from torch import nn

__all__ = ["Entry", "build", "complete_config", "entry", "model_class", "names", "register", "unregister"]

M = TypeVar("M", bound=type[nn.Module])


@dataclass(frozen=True)
class Entry:
    """One registered name: the class, its preset constructor arguments and the task that
    trains it (``None``: a model that is not trained, e.g. plain interpolation)."""

    cls: type[nn.Module]
    preset: dict[str, Any] = field(default_factory=dict)
    task: str | None = None


#: name → entry; what :func:`build` knows
_REGISTRY: dict[str, Entry] = {}


def register(name: str, cls: type[nn.Module] | None = None, /, *, task: str | None = None,
             **preset: Any) -> Callable[[M], M]:
    """Register a model class under ``name``: ``build(name, **kwargs)`` then returns
    ``cls(**preset, **kwargs)``.

    Used as a class decorator (``@register("unet", task="super-resolution")``); stack several
    for presets. ``register(name, cls, **preset)`` registers an existing class directly.

    Raises:
        ValueError: ``name`` is registered already.
    """
    def decorate(klass: M) -> M:
        if name in _REGISTRY:
            raise ValueError(f"a model named {name!r} is registered already")
        _REGISTRY[name] = Entry(klass, dict(preset), task)
        return klass

    if cls is not None:
        decorate(cls)
    return decorate


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (tests and interactive experiments)."""
    entry(name)
    del _REGISTRY[name]


def entry(name: str) -> Entry:
    """The registry entry of ``name``.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; expected one of {names()}")
    return _REGISTRY[name]


def names(task: str | None = None) -> list[str]:
    """The names :func:`build` accepts, sorted; with ``task``, only the models that task trains."""
    return sorted(n for n, e in _REGISTRY.items() if task is None or e.task == task)


def build(name: str, **kwargs: Any) -> nn.Module:
    """A new model by registry name (see :func:`names`) and constructor arguments.

    Raises:
        ValueError: unknown name, or an argument the model does not take.
    """
    found = entry(name)
    accepted = inspect.signature(found.cls).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"model {name!r} takes no argument(s) {unknown}; it takes {sorted(accepted)}")
    return found.cls(**{**found.preset, **kwargs})


def model_class(class_name: str) -> type[nn.Module]:
    """The registered class called ``class_name`` (what a checkpoint file records)."""
    for found in _REGISTRY.values():
        if found.cls.__name__ == class_name:
            return found.cls
    known = sorted({found.cls.__name__ for found in _REGISTRY.values()})
    raise ValueError(f"unknown model class {class_name!r}; expected one of {known}")


def complete_config(cls: type[nn.Module] | Callable[..., Any], config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every constructor argument of ``cls`` it leaves out set to its default
    (files written before configs were complete)."""
    full = {k: p.default for k, p in inspect.signature(cls).parameters.items()
            if p.default is not inspect.Parameter.empty}
    return {**full, **config}

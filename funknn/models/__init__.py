"""Models: FunkNN, the baselines, the generative prior (autoencoder, RealNVP flow) and GASP, one
factory to build them by name, and the interfaces they offer (:mod:`.protocols`).

Example:
    >>> from funknn.models import build, names
    >>> names()
    ['autoencoder', 'funknn', 'gasp', 'interpolator', 'liif', 'liif-140k', 'liif-edsr', 'realnvp', 'unet']
    >>> build("funknn", in_channels=1, network="mlp").config["network"]
    'mlp'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from ..sampling import Interpolator
from .autoencoder import Autoencoder
from .baselines import LIIF, UNet
from .flow import RealNVP
from .funknn import NETWORKS, FunkNN, count_parameters
from .gasp import GASP
from .protocols import CellModel, Configured, CoordinateModel, FixedScaleModel, SuperResolver, kind

#: name → (class, preset keyword arguments); what :func:`build` knows
_REGISTRY: dict[str, tuple[type[nn.Module], dict[str, Any]]] = {}


def register(name: str, cls: type[nn.Module], **preset: Any) -> None:
    """Make ``build(name, **kwargs)`` return ``cls(**preset, **kwargs)``. The class must keep its
    complete constructor arguments in ``self.config`` (so that a file can rebuild it)."""
    if name in _REGISTRY:
        raise ValueError(f"a model named {name!r} is registered already")
    _REGISTRY[name] = (cls, dict(preset))


register("funknn", FunkNN)
register("liif", LIIF)
register("liif-edsr", LIIF, preset="edsr")
register("liif-140k", LIIF, preset="140k")
register("unet", UNet)
register("autoencoder", Autoencoder)
register("realnvp", RealNVP)
register("gasp", GASP)
register("interpolator", Interpolator)


def names() -> list[str]:
    """The names :func:`build` accepts, sorted."""
    return sorted(_REGISTRY)


def build(name: str, **kwargs: Any) -> nn.Module:
    """A new model by registry name (see :func:`names`) and constructor arguments.

    Raises:
        ValueError: unknown name, or an argument the model does not take.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; expected one of {names()}")
    cls, preset = _REGISTRY[name]
    accepted = inspect.signature(cls).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"model {name!r} takes no argument(s) {unknown}; it takes {sorted(accepted)}")
    return cls(**{**preset, **kwargs})


def model_class(class_name: str) -> type[nn.Module]:
    """The registered class called ``class_name`` (what a checkpoint file records)."""
    for cls, _ in _REGISTRY.values():
        if cls.__name__ == class_name:
            return cls
    known = sorted({cls.__name__ for cls, _ in _REGISTRY.values()})
    raise ValueError(f"unknown model class {class_name!r}; expected one of {known}")


def complete_config(cls: type[nn.Module] | Callable[..., Any], config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every constructor argument of ``cls`` it leaves out set to its default
    (files written before configs were complete)."""
    full = {k: p.default for k, p in inspect.signature(cls).parameters.items()
            if p.default is not inspect.Parameter.empty}
    return {**full, **config}


__all__ = ["Autoencoder", "CellModel", "Configured", "CoordinateModel", "FixedScaleModel", "FunkNN", "GASP",
           "LIIF", "NETWORKS", "RealNVP", "SuperResolver", "UNet", "build", "complete_config",
           "count_parameters", "kind", "model_class", "names", "register"]

"""Models: FunkNN, the baselines, the generative prior (autoencoder, RealNVP flow) and GASP, one
factory to build them by name (:mod:`.registry`: each family registers its classes by decorator in
its own file) and the interfaces they offer (:mod:`.protocols`).

Example:
    >>> from funknn.models import build, names
    >>> names()
    ['autoencoder', 'funknn', 'gasp', 'interpolator', 'liif', 'liif-140k', 'liif-edsr', 'realnvp', 'unet']
    >>> build("funknn", in_channels=1, network="mlp").config["network"]
    'mlp'
    >>> names(task="super-resolution")
    ['funknn', 'liif', 'liif-140k', 'liif-edsr', 'unet']
"""

from __future__ import annotations

# importing a family's module registers its models
from .autoencoder import Autoencoder
from .baselines import LIIF, UNet
from .flow import RealNVP
from .funknn import NETWORKS, FunkNN, count_parameters
from .gasp import GASP
from .protocols import CellModel, Configured, CoordinateModel, FixedScaleModel, SuperResolver, kind
from .registry import build, complete_config, entry, model_class, names, register

__all__ = ["Autoencoder", "CellModel", "Configured", "CoordinateModel", "FixedScaleModel", "FunkNN", "GASP",
           "LIIF", "NETWORKS", "RealNVP", "SuperResolver", "UNet", "build", "complete_config",
           "count_parameters", "entry", "kind", "model_class", "names", "register"]

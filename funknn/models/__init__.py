"""Models: FunkNN, the baselines and the generative prior (autoencoder, RealNVP flow)."""

from .autoencoder import Autoencoder
from .baselines import LIIF, UNet
from .flow import RealNVP
from .funknn import NETWORKS, FunkNN, count_parameters

#: classes that :func:`funknn.load` can rebuild from a checkpoint, by name
MODEL_REGISTRY = {"FunkNN": FunkNN, "Autoencoder": Autoencoder, "RealNVP": RealNVP,
                  "LIIF": LIIF, "UNet": UNet}

__all__ = ["Autoencoder", "FunkNN", "LIIF", "NETWORKS", "RealNVP", "UNet", "count_parameters",
           "MODEL_REGISTRY"]

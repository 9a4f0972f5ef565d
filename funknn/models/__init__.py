"""Models: FunkNN and (in later modules) baselines and the generative prior."""

from .funknn import NETWORKS, FunkNN, count_parameters

#: classes that :func:`funknn.load` can rebuild from a checkpoint, by name
MODEL_REGISTRY = {"FunkNN": FunkNN}

__all__ = ["FunkNN", "NETWORKS", "count_parameters", "MODEL_REGISTRY"]

"""funknn: FunkNN — neural interpolation for functional generation (ICLR 2023), in PyTorch.

The public API::

    import funknn
    model = funknn.pretrained("photos_factor")          # a ready FunkNN
    high = funknn.render(model, low, size=(256, 256), hierarchical=True)
    values = funknn.sample(image, coords, kernel="cubic_conv")
"""

from . import checkpoints, data, export, generative, metrics, models, sampling, stats
from .checkpoints import load, save
from .evaluation import evaluate
from .models import FunkNN, build, count_parameters
from .pretrained import available_pretrained, pretrained, pretrained_path, pretrained_seeds
from .rendering import render
from .sampling import Interpolator, grid_coords, sample
from .tasks.super_resolution import TrainConfig, train
from .version import __version__

__all__ = ["FunkNN", "Interpolator", "TrainConfig", "__version__", "available_pretrained", "build",
           "checkpoints", "count_parameters", "data", "evaluate", "export", "generative", "grid_coords",
           "load", "metrics", "models", "pretrained", "pretrained_path", "pretrained_seeds", "render",
           "sample", "sampling", "save", "stats", "train"]

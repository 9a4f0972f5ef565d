"""funknn: FunkNN — neural interpolation for functional generation (ICLR 2023), in PyTorch.

The public API::

    import funknn
    model = funknn.pretrained("photos_factor")          # a ready FunkNN
    high = funknn.render(model, low, size=(256, 256), hierarchical=True)
    values = funknn.sample(image, coords, kernel="cubic_conv")
"""

__version__ = "0.1.0"

from . import data, generative, metrics, sampling  # noqa: E402
from .models import FunkNN, count_parameters  # noqa: E402
from .pretrained import available_pretrained, pretrained, pretrained_path  # noqa: E402
from .rendering import render  # noqa: E402
from .sampling import grid_coords, sample  # noqa: E402
from .training import TrainConfig, evaluate, load, save, train  # noqa: E402

__all__ = ["FunkNN", "TrainConfig", "available_pretrained", "count_parameters", "data", "evaluate",
           "generative", "grid_coords", "load", "metrics", "pretrained", "pretrained_path", "render",
           "sample",
           "sampling", "save", "train", "__version__"]

"""What the package trains, each task on the engine's loop (:mod:`funknn.engine`):
super-resolution (:mod:`~funknn.tasks.super_resolution`: pairs, pixel batches, losses,
:func:`~funknn.tasks.super_resolution.train`), the generative prior's autoencoder and flow
(:mod:`~funknn.tasks.prior`) and the GASP baseline (:mod:`~funknn.tasks.gasp`)."""

from .gasp import GASPConfig, gasp_step, train_gasp
from .prior import PERCEPTUAL, FitConfig, FlowConfig, autoencoder_loss, train_autoencoder, train_flow
from .super_resolution import LOSSES, MODES, FunctionSource, TrainConfig, make_pair, pixel_batch, train

__all__ = ["LOSSES", "MODES", "PERCEPTUAL", "FitConfig", "FlowConfig", "FunctionSource", "GASPConfig",
           "TrainConfig", "autoencoder_loss", "gasp_step", "make_pair", "pixel_batch", "train",
           "train_autoencoder", "train_flow", "train_gasp"]

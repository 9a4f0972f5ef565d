"""The continuous generative prior (Section 3.2 of the paper): G = FunkNN ∘ decoder ∘ flow.

A latent noise vector ``w`` goes through the RealNVP flow to a latent code, the autoencoder's
decoder turns the code into a low-resolution image, and FunkNN renders that image at any
resolution or at any coordinates, with derivatives.

The trainers of the two discrete parts (autoencoder, flow) live in :mod:`funknn.tasks.prior`,
GASP's in :mod:`funknn.tasks.gasp`; they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
import torch.utils.data
from torch import nn
from torch.utils.data import Dataset

from .derivatives import derivatives
from .models.autoencoder import Autoencoder
from .models.flow import RealNVP
from .models.protocols import Configured, CoordinateModel, FineTuning
from .rendering import render
from .tasks.gasp import GASPConfig as GASPConfig
from .tasks.gasp import gasp_step as gasp_step
from .tasks.gasp import train_gasp as train_gasp
from .tasks.prior import PERCEPTUAL as PERCEPTUAL
from .tasks.prior import FitConfig as FitConfig
from .tasks.prior import FlowConfig as FlowConfig
from .tasks.prior import autoencoder_loss as autoencoder_loss
from .tasks.prior import first as first
from .tasks.prior import train_autoencoder as train_autoencoder
from .tasks.prior import train_flow as train_flow

# the trainers above are re-exported (their home: funknn.tasks); this module's own names:
__all__ = ["PRIOR_FILES", "SHIPPED_PRIOR", "ContinuousGenerator", "DiagonalGaussian", "encode", "load_prior",
           "sample_quality"]


class DiagonalGaussian:
    """The baseline latent distribution: a diagonal Gaussian fitted (maximum likelihood) to
    latent codes (N, L), in place of the flow.

    Example:
        >>> codes = torch.randn(100, 4) * torch.tensor([1.0, 2.0, 3.0, 4.0])
        >>> DiagonalGaussian(codes).sample(5, torch.Generator().manual_seed(0)).shape
        torch.Size([5, 4])
    """

    def __init__(self, codes: torch.Tensor) -> None:
        if codes.dim() != 2 or len(codes) < 2:
            raise ValueError(f"codes must have shape (N >= 2, L), got {tuple(codes.shape)}")
        self.mean = codes.mean(0)
        self.std = codes.std(0, unbiased=False)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes (n, L)."""
        noise = torch.randn(n, len(self.mean), generator=generator, dtype=self.mean.dtype)
        return self.mean + self.std * noise.to(self.mean.device)


def sample_quality(real: torch.Tensor, generated: torch.Tensor, pool: int = 4, k: int = 3
                   ) -> dict[str, float]:
    """k-NN precision and recall (:func:`funknn.metrics.precision_recall`) of generated images
    against real ones (both (N, C, S, S)), on their ``pool``×``pool`` average-pooled pixels (a
    feature space where a neighbour is an image of similar layout; pixel-exact distances would
    weigh a one-pixel shift of an edge as much as a missing ellipse). With fewer than k + 1
    images in a set, k shrinks to what the sets allow (NaN with fewer than two)."""
    from .metrics import precision_recall

    k = min(k, len(real) - 1, len(generated) - 1)
    if k < 1:
        return {"precision": float("nan"), "recall": float("nan")}

    def features(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x.float(), pool).flatten(1) if pool > 1 else x.float().flatten(1)

    return precision_recall(features(real), features(generated), k=k)


@torch.no_grad()
def encode(model: Autoencoder, images: torch.Tensor | Dataset, batch: int = 256, workers: int = 0
           ) -> torch.Tensor:
    """Latent codes (N, L) of images (N, C, S, S), or of a data set of them read by ``workers``
    DataLoader processes, in batches, without gradients."""
    device = next(model.parameters()).device
    parts = (images.split(batch) if isinstance(images, torch.Tensor) else
             torch.utils.data.DataLoader(images, batch_size=batch, num_workers=workers))
    with torch.no_grad():
        return torch.cat([model.encode(part.to(device)).cpu() for part in parts])


class _Decode(nn.Module):
    """``forward`` = the autoencoder's ``decode`` (a module that ``functional_call`` can call)."""

    def __init__(self, autoencoder: Autoencoder) -> None:
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.autoencoder.decode(codes)


class ContinuousGenerator(nn.Module):
    """G(w) = FunkNN(·, decoder(flow(w))): a generator of continuous images.

    Args:
        autoencoder: a trained :class:`~funknn.models.Autoencoder` (its decoder is used).
        flow: a trained :class:`~funknn.models.RealNVP` on the autoencoder's codes.
        funknn: a trained FunkNN for the same image domain (channels must match).

    Example:
        >>> ae = Autoencoder(1, image_size=16, latent_dim=4, width=4)
        >>> from funknn.models import FunkNN
        >>> G = ContinuousGenerator(ae, RealNVP(4, blocks=1, hidden=(8,)), FunkNN(1, "mlp"))
        >>> G.sample(2, size=32).shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(self, autoencoder: Autoencoder, flow: RealNVP, funknn: nn.Module) -> None:
        super().__init__()
        if flow.dim != autoencoder.latent_dim:
            raise ValueError(f"flow dim {flow.dim} != autoencoder latent_dim {autoencoder.latent_dim}")
        if not isinstance(funknn, CoordinateModel):
            raise TypeError("funknn must be a coordinate model, model(coords, image), got "
                            f"{type(funknn).__name__}")
        channels = funknn.config.get("in_channels") if isinstance(funknn, Configured) else None
        if channels is not None and channels != autoencoder.in_channels:
            raise ValueError(f"FunkNN has {channels} channels, the autoencoder {autoencoder.in_channels}")
        self.autoencoder, self.flow, self.funknn = autoencoder, flow, funknn
        self.latent_dim = autoencoder.latent_dim
        self.low_size = autoencoder.image_size

    def noise(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
              ) -> torch.Tensor:
        """Base noise w ~ N(0, temperature² I), (n, L)."""
        p = next(self.parameters())
        return (temperature * torch.randn(n, self.latent_dim, generator=generator,
                                          dtype=p.dtype)).to(p.device)

    def low_resolution(self, noise: torch.Tensor) -> torch.Tensor:
        """Decoder(flow(w)): the discrete low-resolution images (B, C, d, d)."""
        return self.autoencoder.decode(self.flow(noise))

    @property
    def coordinate_model(self) -> nn.Module:
        """The coordinate model that renders :meth:`low_resolution`'s output (FunkNN)."""
        return self.funknn

    def regularised_image(self, low: torch.Tensor) -> torch.Tensor:
        """What a TV regulariser sees: the decoded low-resolution image itself."""
        return low

    def fine_tuning(self) -> FineTuning:
        """What :func:`funknn.inverse.solve` fine-tunes after the latent search (Appendix B.1,
        after Hussein et al. 2020): the decoder's layers (``from_latent`` and ``decoder``) applied
        to the fixed codes flow(w); the encoder, the flow and FunkNN stay fixed."""
        decode = _Decode(self.autoencoder)
        trained = {id(p) for part in (self.autoencoder.from_latent, self.autoencoder.decoder)
                   for p in part.parameters()}
        names = tuple(k for k, p in decode.named_parameters() if id(p) in trained)
        return FineTuning(decode, names, self.flow)

    def forward(self, coords: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Intensities (B, N, C) of the continuous images G(w) at coords (B, N, 2)."""
        return self.funknn(coords, self.low_resolution(noise))

    def render(self, noise: torch.Tensor, size: int | Sequence[int], hierarchical: bool = False,
               chunk: int = 1024) -> torch.Tensor:
        """G(w) on an H×W grid, (B, C, H, W)."""
        return render(self.funknn, self.low_resolution(noise), size, chunk=chunk, hierarchical=hierarchical)

    @torch.no_grad()
    def sample(self, n: int, size: int | Sequence[int] | None = None,
               generator: torch.Generator | None = None, temperature: float = 1.0,
               hierarchical: bool = False) -> torch.Tensor:
        """``n`` random images rendered at ``size`` (default: the decoder's resolution)."""
        return self.render(self.noise(n, generator, temperature), size or self.low_size, hierarchical)

    def derivatives(self, noise: torch.Tensor, coords: torch.Tensor, order: int = 1, chunk: int = 4096,
                    create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Values, gradients and (order 2) Laplacians of G(w) at coords; see
        :func:`funknn.derivatives.derivatives`."""
        return derivatives(self.funknn, self.low_resolution(noise), coords, order=order, chunk=chunk,
                           create_graph=create_graph)


#: file names of a prior saved in one folder (what chapter 4 writes with ``train=True``)
PRIOR_FILES = {"autoencoder": "autoencoder.pt", "flow": "flow.pt", "funknn": "funknn.pt"}
#: the shipped prior (``funknn.pretrained`` names)
SHIPPED_PRIOR = {"autoencoder": "ellipses40k_autoencoder", "flow": "ellipses40k_flow",
                 "funknn": "ellipses64_factor"}


def load_prior(directory: str | Path | None = None, device: torch.device | str | None = None
               ) -> ContinuousGenerator:
    """A ready :class:`ContinuousGenerator` (eval mode).

    Args:
        directory: folder with ``autoencoder.pt``, ``flow.pt`` and ``funknn.pt``; ``None`` for
            the shipped prior on random-ellipse phantoms.
    """
    from .checkpoints import load
    from .pretrained import pretrained

    if directory is None:
        parts = {k: pretrained(name, device=device) for k, name in SHIPPED_PRIOR.items()}
    else:
        parts = {k: load(Path(directory) / name, device=device) for k, name in PRIOR_FILES.items()}
    autoencoder, flow = parts["autoencoder"], parts["flow"]
    if not isinstance(autoencoder, Autoencoder) or not isinstance(flow, RealNVP):
        raise ValueError(f"the prior's files hold a {type(autoencoder).__name__} and a "
                         f"{type(flow).__name__}, not an Autoencoder and a RealNVP")
    return ContinuousGenerator(autoencoder, flow, parts["funknn"]).eval()

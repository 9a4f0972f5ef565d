"""GASP: a GAN over functions (Dupont, Teh and Doucet, "Generative Models as Distributions of
Functions", AISTATS 2022), the continuous generative model the paper's Figure 7 compares with.
Written for this package from that paper's description.

A sample is a function ``f_θ(x, y)`` given by its own weights θ:

- **Function representation**: random Fourier features of the coordinate,
  ``γ(x) = [cos(2π B x), sin(2π B x)]`` with a fixed Gaussian frequency matrix ``B`` (F × 2,
  entries N(0, σ²)), then a small MLP with LeakyReLU and a final Tanh; the Tanh's (−1, 1) is
  mapped to intensities in (0, 1), the range of the package's images. Coordinates are the
  package's: x along the width, y along the height, in [−1, 1].
- **Hypernetwork**: an MLP from a Gaussian latent ``z`` to all of θ; only the hypernetwork is
  trained. Its output layer starts near zero and its bias at one ordinary initialisation of
  the function MLP, so that an untrained generator already draws well-scaled functions.
- **Discriminator**: a point-cloud network on (coordinate, value) sets, as GASP: PointConv
  layers over the k nearest neighbours of each point (a weight network of the relative
  positions), and farthest-point-sampling pooling (max over each kept point's neighbours).
  The training images all come on one fixed grid, so the neighbour and pooling indices are
  computed once, when the model is built.

The defaults are this package's small GASP (the shipped ``ellipses64_gasp`` checkpoint). GASP's
own 64² CelebA-HQ structure (the authors' ``configs/config_celebahq64.json``) needs the opt-in
options ``disc_batchnorm``, ``disc_pool="mean"``, ``weightnet_depth=4``,
``weightnet_batchnorm``, ``weightnet_final_activation`` and ``generator_slope=0.1`` besides the
sizes; :data:`PUBLISHED_64` holds them all (``recipe("ellipses64_gasp").changed(PUBLISHED_64)``
is that structure with the shipped recipe's training).

Batch normalisation (``disc_batchnorm``, as GASP: after every PointConv but the last, before
its LeakyReLU) normalises each channel over the batch and the points. The discriminator trains
in train mode (the training loop sets it), so every forward pass, the R1 pass included, uses
the statistics of its own batch, as GASP's code does: the real and the generated images go
through in separate passes, and R1's gradient flows through the batch statistics too (the
penalty couples the images of a batch; a data-parallel run normalises per part, without
synchronising the statistics across processes). In eval mode the running statistics are used
(the discriminator is not needed outside training). The weight network's batch normalisation
(``weightnet_batchnorm``) sees only the fixed relative positions, never the data, so its batch
statistics are exact and identical in every pass: it keeps no running statistics and gives the
same output in train and eval mode.

A sample's weights travel where a low-resolution image would, as a (B, P, 1, 1) tensor
(``GASP.low_resolution``), and :attr:`GASP.function` is a coordinate model
``function(coords, weights) -> values``: :func:`funknn.render`,
:func:`funknn.derivatives.derivatives` and the latent-space solvers of :mod:`funknn.inverse`
take it as they take FunkNN and its input image.

Derivatives: LeakyReLU is piecewise linear, so the function's gradient is exact and
piecewise smooth, but its second derivatives come only through the Fourier features (the
network's kinks contribute nothing); a Laplacian of a GASP function is that and no more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..sampling import check_coords, check_image, grid_coords
from .registry import register

SLOPE = 0.2   # LeakyReLU's negative slope: the discriminator's, and by default the generator's


#: how the discriminator pools the features of each kept point's neighbours
POOLS = ("max", "mean")

#: GASP's published structure for 64² images (the authors' CelebA-HQ 64² configuration), as
#: :class:`GASP` arguments beside ``image_size`` and ``in_channels``: 128 Fourier frequencies of
#: σ = 2, a function MLP 3 × 128, a hypernetwork 256-512 from a latent of 64; PointConvs of 64,
#: 128, 256 and 512 channels over 9 neighbours with batch normalisation, mean pooling, weight
#: networks of four layers of 16 with batch normalisation; LeakyReLU 0.1 in the generator.
PUBLISHED_64: dict = dict(latent_dim=64, frequencies=128, sigma=2.0, hidden=(128, 128, 128),
                          hypernet=(256, 512), disc_channels=(64, 128, 256, 512), neighbours=9,
                          weightnet=16, weightnet_depth=4, weightnet_batchnorm=True,
                          weightnet_final_activation=True, disc_batchnorm=True, disc_pool="mean",
                          generator_slope=0.1)


def _leaky(x: torch.Tensor, slope: float = SLOPE) -> torch.Tensor:
    return F.leaky_relu(x, slope)


def _check_slope(slope: float, name: str) -> None:
    if not 0 <= slope < 1:
        raise ValueError(f"{name} must be in [0, 1), got {slope}")


class FourierFunction(nn.Module):
    """The function representation ``f_θ``: Fourier features and an MLP whose weights θ are
    given per sample. A coordinate model: ``forward(coords (B, N, 2), weights (B, P, 1, 1))
    -> (B, N, C)``.

    Args:
        frequencies: F, the number of random frequencies (2F features).
        sigma: standard deviation of the frequencies (cycles per unit of the [−1, 1] coordinates).
        hidden: widths of the MLP's hidden layers.
        out_channels: C.
        seed: seed of the frequency matrix (also stored with the weights).
        slope: negative slope of the hidden layers' LeakyReLU (GASP: 0.1).
    """

    def __init__(self, frequencies: int = 64, sigma: float = 2.0, hidden: Sequence[int] = (64, 64),
                 out_channels: int = 1, seed: int = 0, slope: float = SLOPE) -> None:
        super().__init__()
        if frequencies < 1 or not hidden or min(hidden) < 1 or out_channels < 1:
            raise ValueError("frequencies, every hidden width and out_channels must be positive, got "
                             f"{frequencies}, {tuple(hidden)}, {out_channels}")
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        _check_slope(slope, "generator_slope")
        g = torch.Generator().manual_seed(seed)
        self.freqs: torch.Tensor
        self.register_buffer("freqs", sigma * torch.randn(frequencies, 2, generator=g))
        widths = [2 * frequencies, *hidden, out_channels]
        #: (fan_in, fan_out) of each layer, in order
        self.layers = list(zip(widths[:-1], widths[1:]))
        self.num_weights = sum(i * o + o for i, o in self.layers)
        self.out_channels = out_channels
        self.slope = slope

    def features(self, coords: torch.Tensor) -> torch.Tensor:
        """γ(x): (B, N, 2F)."""
        phase = 2 * math.pi * coords @ self.freqs.t().to(coords.dtype)
        return torch.cat([phase.cos(), phase.sin()], dim=-1)

    def initial_weights(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One θ drawn like PyTorch's default ``nn.Linear`` initialisation, (P,)."""
        parts = []
        for fan_in, fan_out in self.layers:
            bound = 1 / math.sqrt(fan_in)
            parts.append((torch.rand(fan_out * fan_in + fan_out, generator=generator) * 2 - 1) * bound)
        return torch.cat(parts)

    def forward(self, coords: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if weights.dim() != 4 or weights.shape[1] != self.num_weights or weights.shape[-2:] != (1, 1):
            raise ValueError(f"weights must have shape (B, {self.num_weights}, 1, 1), "
                             f"got {tuple(weights.shape)}")
        check_coords(coords, batch=weights.shape[0], allow_outside=True)
        theta = weights.flatten(1)
        h = self.features(coords)
        start = 0
        for n, (fan_in, fan_out) in enumerate(self.layers):
            w = theta[:, start:start + fan_in * fan_out].view(-1, fan_out, fan_in)
            start += fan_in * fan_out
            b = theta[:, start:start + fan_out]
            start += fan_out
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            h = _leaky(h, self.slope) if n < len(self.layers) - 1 else h
        return 0.5 * (torch.tanh(h) + 1)


class PositionNorm(nn.Module):
    """Batch normalisation of (…, C) features over all leading positions,
    ``γ (x − mean) / sqrt(var + ε) + β`` with the biased variance, as ``nn.BatchNorm1d`` in train
    mode, but with exact statistics and no running estimate: the weight network's input is one
    fixed set of relative positions, so train and eval mode agree. A single position (the last
    PointConv of a small grid) normalises to β, where ``nn.BatchNorm1d`` would refuse."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        mean, var = flat.mean(0), flat.var(0, unbiased=False)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


def weight_network(mid: int, depth: int = 2, batchnorm: bool = False, final_activation: bool = False
                   ) -> nn.Sequential:
    """PointConv's weight network, relative position (…, 2) → (…, M): ``depth`` linear layers of
    width M = ``mid``, each but the last (each, with ``final_activation``) followed by a
    :class:`PositionNorm` (with ``batchnorm``) and a LeakyReLU. The defaults are this package's
    two-layer net; GASP's is ``depth=4, batchnorm=True, final_activation=True`` with M = 16."""
    if mid < 1 or depth < 1:
        raise ValueError(f"weightnet and weightnet_depth must be positive, got {mid}, {depth}")
    layers: list[nn.Module] = []
    width = 2
    for n in range(depth):
        layers.append(nn.Linear(width, mid))
        if n < depth - 1 or final_activation:
            if batchnorm:
                layers.append(PositionNorm(mid))
            layers.append(nn.LeakyReLU(SLOPE))
        width = mid
    return nn.Sequential(*layers)


class PointConv(nn.Module):
    """A PointConv layer on a fixed point set: each output point gathers its k nearest input
    points' features (B, N, k, C_in), weighs them by a weight network of the relative positions
    (k, M per point; :func:`weight_network`, built from ``weightnet`` options), sums to
    (C_in × M) and maps that linearly to C_out."""

    def __init__(self, in_channels: int, out_channels: int, mid: int, rel: torch.Tensor,
                 index: torch.Tensor, weightnet: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.rel: torch.Tensor
        self.index: torch.Tensor
        self.register_buffer("rel", rel, persistent=False)        # (N_out, k, 2)
        self.register_buffer("index", index, persistent=False)    # (N_out, k)
        self.weightnet = weight_network(mid, **(weightnet or {}))
        self.linear = nn.Linear(in_channels * mid, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:          # (B, N_in, C) -> (B, N_out, C_out)
        weights = self.weightnet(self.rel)                        # (N_out, k, M)
        gathered = x[:, self.index]                               # (B, N_out, k, C)
        mixed = torch.einsum("bnkc,nkm->bncm", gathered, weights)
        return self.linear(mixed.flatten(2))


def farthest_points(points: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of ``count`` points chosen by farthest-point sampling from (N, 2) ``points``,
    starting with the point nearest the centre (deterministic)."""
    if not 1 <= count <= len(points):
        raise ValueError(f"cannot choose {count} of {len(points)} points")
    chosen = [int(points.norm(dim=1).argmin())]
    dist = (points - points[chosen[0]]).pow(2).sum(1)
    for _ in range(count - 1):
        nxt = int(dist.argmax())
        chosen.append(nxt)
        dist = torch.minimum(dist, (points - points[nxt]).pow(2).sum(1))
    return torch.tensor(chosen)


def nearest(queries: torch.Tensor, points: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Indices (Q, k) of the k nearest ``points`` (N, 2) of each query (Q, 2), ``chunk`` queries at
    a time (memory chunk × N, not Q × N: 1 GB for a 128² grid otherwise)."""
    return torch.cat([torch.cdist(part, points).topk(k, dim=1, largest=False).indices
                      for part in queries.split(chunk)])


class PointCloudDiscriminator(nn.Module):
    """GASP's discriminator on the (coordinate, value) sets of a fixed ``size × size`` grid: PointConv
    layers of ``channels`` widths (on all the points of their level), each followed by
    [batch normalisation,] a LeakyReLU and farthest-point pooling to a quarter of the points
    (max or mean over the k nearest), then a last PointConv from all remaining points to one
    logit at the centre. ``forward(images (B, C, size, size)) -> (B,)`` logits.

    Args:
        size, in_channels: the grid and the image channels.
        channels: out channels of the PointConv layers before the last.
        neighbours: k, of the PointConvs and of the pooling.
        mid: M, the weight networks' width.
        batchnorm: batch normalisation after each PointConv but the last (GASP's
            ``add_batchnorm``; train/eval mode: see the module's docstring).
        pool: ``"max"`` or ``"mean"`` (GASP's average pooling) over each kept point's neighbours.
        weightnet_depth, weightnet_batchnorm, weightnet_final_activation: the weight networks
            (:func:`weight_network`; GASP: 4, True, True).
    """

    def __init__(self, size: int, in_channels: int = 1, channels: Sequence[int] = (32, 64, 128, 256),
                 neighbours: int = 9, mid: int = 8, *, batchnorm: bool = False, pool: str = "max",
                 weightnet_depth: int = 2, weightnet_batchnorm: bool = False,
                 weightnet_final_activation: bool = False) -> None:
        super().__init__()
        if size < 4 or not channels:
            raise ValueError(f"the discriminator needs a grid of at least 4² and one layer, "
                             f"got {size}, {channels}")
        if min(channels) < 1 or neighbours < 1:
            raise ValueError(f"every disc_channels width and neighbours must be positive, got "
                             f"{tuple(channels)}, {neighbours}")
        if pool not in POOLS:
            raise ValueError(f"unknown disc_pool {pool!r}; expected one of {POOLS}")
        net: dict[str, Any] = dict(depth=weightnet_depth, batchnorm=weightnet_batchnorm,
                                   final_activation=weightnet_final_activation)
        pts = grid_coords(size, size)                              # (N, 2)
        spacing = 2.0 / size
        convs, pools = [], []
        c_in = in_channels
        for c_out in channels:
            k = min(neighbours, len(pts))
            idx = nearest(pts, pts, k)
            convs.append(PointConv(c_in, c_out, mid, (pts[idx] - pts[:, None]) / spacing, idx, net))
            keep = farthest_points(pts, max(1, len(pts) // 4))
            new = pts[keep]
            pools.append(nearest(new, pts, min(neighbours, len(pts))))
            pts, c_in = new, c_out
            spacing *= 2
        centre = torch.zeros(1, 2)
        last = torch.arange(len(pts))[None]
        self.head = PointConv(c_in, 1, mid, (pts[None] - centre[:, None]) / spacing, last, net)
        self.convs = nn.ModuleList(convs)
        #: batch norms after the PointConvs (empty without ``batchnorm``: no state-dict entries)
        self.norms = nn.ModuleList(nn.BatchNorm1d(c) for c in channels) if batchnorm else nn.ModuleList()
        self.pool = pool
        for n, p in enumerate(pools):
            self.register_buffer(f"pool{n}", p, persistent=False)
        self.size, self.in_channels = size, in_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1:] != (self.in_channels, self.size, self.size):
            raise ValueError(f"the discriminator takes images of shape (B, {self.in_channels}, {self.size}, "
                             f"{self.size}), got {tuple(images.shape)}")
        x = images.flatten(2).transpose(1, 2)                      # (B, N, C): values at the grid points
        for n, conv in enumerate(self.convs):
            x = conv(x)
            if len(self.norms):
                x = self.norms[n](x.transpose(1, 2)).transpose(1, 2)   # over the batch and the points
            x = _leaky(x)[:, getattr(self, f"pool{n}")]                # (B, N_kept, k, C)
            x = x.amax(dim=2) if self.pool == "max" else x.mean(dim=2)   # farthest-point pooling
        return self.head(x)[:, 0, 0]


@register("gasp", task="gasp")
class GASP(nn.Module):
    """Generator (hypernetwork → function weights) and discriminator of GASP, in one module
    (one checkpoint holds both; :func:`funknn.tasks.gasp.train_gasp` trains them).

    Args:
        image_size: side of the training grid (the discriminator's point set).
        in_channels: image channels.
        latent_dim: size of the Gaussian latent z.
        frequencies, sigma, hidden: the function representation (:class:`FourierFunction`).
        hypernet: hidden widths of the hypernetwork.
        disc_channels, neighbours, weightnet: the discriminator (:class:`PointCloudDiscriminator`);
            ``weightnet`` is the weight networks' width M.
        seed: seed of the frequencies and of the hypernetwork's initial output bias.
        disc_batchnorm: batch normalisation in the discriminator (GASP: on).
        disc_pool: the discriminator's pooling, ``"max"`` or ``"mean"`` (GASP: mean).
        weightnet_depth: linear layers in each weight network (GASP: 4).
        weightnet_batchnorm: batch normalisation in the weight networks (GASP: on).
        weightnet_final_activation: a LeakyReLU (and batch norm) after the weight network's last
            layer too (GASP: on).
        generator_slope: LeakyReLU negative slope of the function's and the hypernetwork's hidden
            layers (GASP: 0.1; the discriminator's stays 0.2, as GASP's).

    The options after ``seed`` are off by default (this package's small GASP, the shipped
    checkpoint); GASP's published 64² structure turns them on (see the module's docstring).

    Example:
        >>> gasp = GASP(image_size=16, latent_dim=8, frequencies=8, hidden=(16,), hypernet=(32,),
        ...             disc_channels=(8, 16))
        >>> gasp.sample(2, size=40).shape
        torch.Size([2, 1, 40, 40])
    """

    def __init__(self, image_size: int = 64, in_channels: int = 1, latent_dim: int = 64,
                 frequencies: int = 64, sigma: float = 2.0, hidden: Sequence[int] = (64, 64),
                 hypernet: Sequence[int] = (128, 128),
                 disc_channels: Sequence[int] = (32, 64, 128, 256), neighbours: int = 9, weightnet: int = 8,
                 seed: int = 0, disc_batchnorm: bool = False, disc_pool: str = "max",
                 weightnet_depth: int = 2, weightnet_batchnorm: bool = False,
                 weightnet_final_activation: bool = False, generator_slope: float = SLOPE) -> None:
        super().__init__()
        if latent_dim < 1 or not hypernet or min(hypernet) < 1:
            raise ValueError("latent_dim and every hypernet width must be positive, "
                             f"got {latent_dim}, {hypernet}")
        self.config = dict(image_size=image_size, in_channels=in_channels, latent_dim=latent_dim,
                           frequencies=frequencies, sigma=sigma, hidden=list(hidden), hypernet=list(hypernet),
                           disc_channels=list(disc_channels), neighbours=neighbours, weightnet=weightnet,
                           seed=seed, disc_batchnorm=disc_batchnorm, disc_pool=disc_pool,
                           weightnet_depth=weightnet_depth, weightnet_batchnorm=weightnet_batchnorm,
                           weightnet_final_activation=weightnet_final_activation,
                           generator_slope=generator_slope)
        #: the function representation f_θ, a coordinate model given its weights θ
        self.function = FourierFunction(frequencies, sigma, hidden, in_channels, seed, generator_slope)
        layers: list[nn.Module] = []
        width = latent_dim
        for h in hypernet:
            layers += [nn.Linear(width, h), nn.LeakyReLU(generator_slope)]
            width = h
        out = nn.Linear(width, self.function.num_weights)
        with torch.no_grad():
            out.weight.mul_(0.1)
            out.bias.copy_(self.function.initial_weights(torch.Generator().manual_seed(seed)))
        self.hypernetwork = nn.Sequential(*layers, out)
        self.discriminator = PointCloudDiscriminator(
            image_size, in_channels, disc_channels, neighbours, weightnet, batchnorm=disc_batchnorm,
            pool=disc_pool, weightnet_depth=weightnet_depth, weightnet_batchnorm=weightnet_batchnorm,
            weightnet_final_activation=weightnet_final_activation)
        self.latent_dim, self.low_size = latent_dim, image_size

    def generator_parameters(self) -> list[nn.Parameter]:
        """The generator's trainable weights (the hypernetwork's)."""
        return list(self.hypernetwork.parameters())

    def noise(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
              ) -> torch.Tensor:
        """Latent z ~ N(0, temperature² I), (n, latent_dim)."""
        p = next(self.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=p.dtype)
        return (temperature * z).to(p.device)

    def low_resolution(self, noise: torch.Tensor) -> torch.Tensor:
        """The function weights θ = hypernetwork(z), as (B, P, 1, 1) (what :attr:`function` takes)."""
        if noise.dim() != 2 or noise.shape[1] != self.latent_dim:
            raise ValueError(f"noise must have shape (B, {self.latent_dim}), got {tuple(noise.shape)}")
        return self.hypernetwork(noise)[:, :, None, None]

    @property
    def coordinate_model(self) -> nn.Module:
        """The coordinate model that renders :meth:`low_resolution`'s output (the function)."""
        return self.function

    def regularised_image(self, low: torch.Tensor) -> torch.Tensor:
        """The function rendered on its training grid, (B, C, d, d): what a TV regulariser sees."""
        return self.render_weights(low, self.low_size)

    def fine_tuning(self) -> None:
        """Nothing: :func:`funknn.inverse.solve` searches GASP in its latent space only (the
        paper's comparison of the priors, Figure 7)."""
        return None

    def render_weights(self, weights: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
        """Functions θ rendered at the pixel centres of an H×W grid, with the autograd graph."""
        H, W = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        coords = grid_coords(H, W, device=weights.device, dtype=weights.dtype)
        values = self.function(coords.unsqueeze(0).expand(weights.shape[0], -1, -1), weights)
        return values.transpose(1, 2).reshape(weights.shape[0], -1, H, W)

    def forward(self, coords: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Intensities (B, N, C) of the functions of latents ``noise`` at coords (B, N, 2)."""
        return self.function(coords, self.low_resolution(noise))

    def generate(self, noise: torch.Tensor, size: int | Sequence[int] | None = None) -> torch.Tensor:
        """The functions of ``noise`` on a grid (default: the training grid), with gradients."""
        return self.render_weights(self.low_resolution(noise), size or self.low_size)

    @torch.no_grad()
    def sample(self, n: int, size: int | Sequence[int] | None = None,
               generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """``n`` random images rendered at ``size`` (default: the training resolution)."""
        return self.generate(self.noise(n, generator, temperature), size)

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        """Discriminator logits (B,) of images on the training grid."""
        check_image(images)
        return cast(torch.Tensor, self.discriminator(images))


def r1_penalty(discriminator: nn.Module | object, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): the mean over the batch of ‖∇ₓ D(x)‖² at real data, the
    gradient taken with respect to the values (the coordinates are fixed); differentiable, so
    that it can be minimised. Multiply by γ/2 in the loss."""
    x = real.detach().requires_grad_(True)
    logits = discriminator(x)  # type: ignore[operator]
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating GAN's discriminator loss: E softplus(−D(real)) + E softplus(D(fake))."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss: E softplus(−D(G(z)))."""
    return F.softplus(-fake_logits).mean()

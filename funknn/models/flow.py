"""RealNVP normalising flow on latent codes (Appendix A.1.2 of the paper; Dinh et al. 2017).

The flow maps standard-normal noise ``w`` to latent codes ``z = f(w)``. Its blocks are
activation normalisation followed by one masked affine coupling (the paper's five coupling blocks;
the mask alternates from block to block) or, with ``couplings=2``, two couplings with
complementary masks; the couplings' scale and shift networks are fully connected. Trained by
maximum likelihood:
``log p(z) = log N(f⁻¹(z); 0, I) + log |det ∂f⁻¹/∂z|``.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from .registry import register


class ActNorm(nn.Module):
    """Per-dimension affine map ``y = (x - loc) · exp(-log_scale)`` in the normalising
    direction (codes → noise), initialised from the first training batch so that its output
    has zero mean and unit variance (Kingma & Dhariwal 2018)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.initialised: torch.Tensor
        self.register_buffer("initialised", torch.tensor(False))

    def normalise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.initialised):
            if x.shape[0] < 2:
                raise ValueError("ActNorm initialises from the first training batch: "
                                 "it needs at least 2 codes")
            with torch.no_grad():
                self.loc.copy_(x.mean(0))
                self.log_scale.copy_(x.std(0).clamp_min(1e-6).log())
                self.initialised.fill_(True)
        y = (x - self.loc) * torch.exp(-self.log_scale)
        return y, (-self.log_scale.sum()).expand(x.shape[0])

    def generate(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(self.log_scale) + self.loc


class AffineCoupling(nn.Module):
    """Masked affine coupling: the masked half passes unchanged and conditions a scale ``s``
    and shift ``t`` of the other half, ``y = x_m + (1 - m)(x · exp(s) + t)`` in the normalising
    direction. ``s`` is bounded by a tanh with a learnable per-dimension range."""

    def __init__(self, mask: torch.Tensor, hidden: tuple[int, ...]) -> None:
        super().__init__()
        dim = mask.numel()
        self.mask: torch.Tensor
        self.register_buffer("mask", mask.float())
        layers: list[nn.Module] = []
        width = dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        last = nn.Linear(width, 2 * dim)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)                  # starts as the identity
        self.net = nn.Sequential(*layers, last)
        self.scale_range = nn.Parameter(torch.ones(dim))

    def _scale_shift(self, x_masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(x_masked).chunk(2, dim=1)
        free = 1 - self.mask
        return self.scale_range * torch.tanh(s) * free, t * free

    def normalise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self._scale_shift(x * self.mask)
        return x * torch.exp(s) + t, s.sum(1)

    def generate(self, y: torch.Tensor) -> torch.Tensor:
        s, t = self._scale_shift(y * self.mask)     # the masked half of y is the masked half of x
        return (y - t) * torch.exp(-s)


@register("realnvp", task="flow")
class RealNVP(nn.Module):
    """RealNVP flow on vectors of size ``dim``.

    Args:
        dim: size of the latent codes.
        blocks: number of blocks (the paper: 5).
        hidden: hidden widths of each coupling's scale/shift network (the paper: (1024, 512)).
        couplings: affine couplings per block after its ActNorm: 1 (the paper's coupling block;
            the mask alternates between blocks, so each dimension is transformed every second
            block; about 7.9M parameters for codes of 512 at the paper's widths) or 2 (two
            complementary masks: every dimension in every block, twice the parameters).

    Methods:
        ``inverse(z)`` → (noise, log|det ∂noise/∂z|); ``forward(noise)`` → codes;
        ``log_prob(z)`` → (B,); ``sample(n)`` → (n, dim); ``nll_bits_per_dim(z)``.

    Example:
        >>> flow = RealNVP(8, blocks=2, hidden=(16,))
        >>> flow.sample(3).shape
        torch.Size([3, 8])
    """

    def __init__(self, dim: int, blocks: int = 5, hidden: tuple[int, ...] | list[int] = (1024, 512),
                 couplings: int = 1) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"dim must be at least 2, got {dim}")
        if blocks < 1:
            raise ValueError(f"blocks must be positive, got {blocks}")
        if couplings not in (1, 2):
            raise ValueError(f"couplings must be 1 or 2 per block, got {couplings}")
        hidden = tuple(int(h) for h in hidden)
        self.config = dict(dim=int(dim), blocks=int(blocks), hidden=list(hidden), couplings=int(couplings))
        self.dim = dim
        layers: list[nn.Module] = []
        for b in range(blocks):
            mask = (torch.arange(dim) + b) % 2         # alternates from block to block
            layers += [ActNorm(dim), AffineCoupling(mask, hidden)]
            if couplings == 2:                         # and the complementary mask in the same block
                layers.append(AffineCoupling(1 - mask, hidden))
        self.layers = nn.ModuleList(layers)

    def check_codes(self, x: torch.Tensor, name: str = "codes") -> None:
        """Raise ``ValueError`` unless ``x`` is (B, dim)."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"{name} must have shape (B, {self.dim}), got {tuple(x.shape)}")

    def inverse(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes → noise and the log-determinant of that map, per code."""
        self.check_codes(codes, "codes")
        x, log_det = codes, torch.zeros(codes.shape[0], dtype=codes.dtype, device=codes.device)
        for layer in self.layers:
            x, ld = cast(ActNorm | AffineCoupling, layer).normalise(x)
            log_det = log_det + ld
        return x, log_det

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """Noise → codes (the generative direction)."""
        self.check_codes(noise, "noise")
        x = noise
        for layer in reversed(self.layers):
            x = cast(ActNorm | AffineCoupling, layer).generate(x)
        return x

    def log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        """Log-density of codes under the flow (nats), per code."""
        noise, log_det = self.inverse(codes)
        base = -0.5 * (noise ** 2).sum(1) - 0.5 * self.dim * math.log(2 * math.pi)
        return base + log_det

    def nll_bits_per_dim(self, codes: torch.Tensor, reduce: bool = True) -> torch.Tensor:
        """Negative log-likelihood in bits per dimension (a continuous density: can be < 0): the mean
        over ``codes``, or with ``reduce=False`` one value per code (N,)."""
        nll = -self.log_prob(codes) / (self.dim * math.log(2))
        return nll.mean() if reduce else nll

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
               ) -> torch.Tensor:
        """``n`` codes from noise ~ N(0, temperature² I)."""
        p = next(self.parameters())
        noise = torch.randn(n, self.dim, generator=generator, dtype=p.dtype).to(p.device)
        return self.forward(temperature * noise)


def gaussian_nll_per_code(train_codes: torch.Tensor, test_codes: torch.Tensor) -> torch.Tensor:
    """Baseline: NLL (bits per dimension) of each of ``test_codes`` (N,) under a diagonal Gaussian
    fitted (maximum likelihood) to ``train_codes``."""
    mean, var = train_codes.mean(0), train_codes.var(0, unbiased=False).clamp_min(1e-12)
    nll = 0.5 * (((test_codes - mean) ** 2) / var + var.log() + math.log(2 * math.pi)).sum(1)
    return nll / (train_codes.shape[1] * math.log(2))


def gaussian_nll_bits_per_dim(train_codes: torch.Tensor, test_codes: torch.Tensor) -> float:
    """The mean of :func:`gaussian_nll_per_code` over ``test_codes``."""
    return float(gaussian_nll_per_code(train_codes, test_codes).mean())

"""Baselines of Tables 1 and 2: LIIF (a :class:`~funknn.models.protocols.CellModel`) and a U-Net
for one fixed scale (a :class:`~funknn.models.protocols.FixedScaleModel`). Plain interpolation is
:class:`funknn.sampling.Interpolator`."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from ..sampling import Interpolator, check_coords, check_image
from .blocks import ResBlock
from .registry import register

# ----------------------------------------------------------------------------- LIIF

class EDSREncoder(nn.Module):
    """EDSR-baseline body without its up-sampler: a feature map at the input's resolution.

    Head convolution, ``blocks`` residual blocks, a body convolution and a skip from the head
    (Lim et al. 2017; ``width=64, blocks=16`` is the EDSR baseline that LIIF uses).
    """

    def __init__(self, in_channels: int = 3, width: int = 64, blocks: int = 16) -> None:
        super().__init__()
        self.head = nn.Conv2d(in_channels, width, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(width, final_relu=False) for _ in range(blocks)],
                                  nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        return h + self.body(h)


#: LIIF sizes used in the paper's tables (trainable parameters for 3 channels in brackets)
LIIF_PRESETS: dict[str, dict[str, Any]] = {
    "edsr": dict(width=64, blocks=16, hidden=(256, 256, 256, 256)),   # 1,567,299
    "140k": dict(width=32, blocks=4, hidden=(128, 128)),               # 138,531
}


@register("liif-140k", task="super-resolution", preset="140k")
@register("liif-edsr", task="super-resolution", preset="edsr")
@register("liif", task="super-resolution")
class LIIF(nn.Module):
    """Local implicit image function (Chen et al., CVPR 2021), written from the paper.

    An encoder turns the low-resolution image into a feature map of the same size. The value at
    a query x is decoded by an MLP from the *latent code* nearest to x and the offset of x from
    that code's position, with the paper's three refinements:

    - *feature unfolding*: each code is the concatenation of the 3×3 neighbourhood of features;
    - *local ensemble*: the four codes around x each give a prediction, weighted by the area of
      the rectangle between x and the diagonally opposite code (bilinear-like, continuous);
    - *cell decoding*: the size of the output pixel (in units of input pixels) is a further
      input, so the decoder knows the scale it renders at.

    Inputs are normalised to [-1, 1] as in the paper (``(x - 0.5) / 0.5``) and outputs mapped back.

    Args:
        in_channels: image channels.
        width, blocks: EDSR encoder width and number of residual blocks.
        hidden: widths of the MLP's hidden layers (ReLU).
        preset: ``"edsr"`` (EDSR-baseline + 4×256 MLP, ~1.5M parameters) or ``"140k"``
            (the pruned variant of the paper's tables); overrides width/blocks/hidden.

    Shapes:
        ``forward(coords (B, N, 2), image (B, C, h, w), cell (2,) or (B, N, 2))`` → (B, N, C);
        ``cell`` is the output pixel's (width, height) in coordinate units (2 / W, 2 / H of the
        output grid; :func:`funknn.render` passes it). Without it, ×2 is assumed.
    """

    def __init__(self, in_channels: int = 3, width: int = 64, blocks: int = 16,
                 hidden: tuple[int, ...] | list[int] = (256, 256, 256, 256),
                 preset: str | None = None) -> None:
        super().__init__()
        if preset is not None:
            if preset not in LIIF_PRESETS:
                raise ValueError(f"unknown LIIF preset {preset!r}; expected one of {sorted(LIIF_PRESETS)}")
            sizes = LIIF_PRESETS[preset]
            width, blocks, hidden = int(sizes["width"]), int(sizes["blocks"]), tuple(sizes["hidden"])
        if in_channels < 1 or width < 1 or blocks < 0 or not hidden or min(hidden) < 1:
            raise ValueError(f"invalid LIIF sizes: in_channels={in_channels}, width={width}, "
                             f"blocks={blocks}, hidden={hidden}")
        self.in_channels = int(in_channels)
        self.config = dict(in_channels=int(in_channels), width=int(width), blocks=int(blocks),
                           hidden=[int(h) for h in hidden], preset=None)   # the preset's sizes are kept
        self.encoder = EDSREncoder(in_channels, width, blocks)
        layers: list[nn.Module] = []
        n = 9 * width + 2 + 2                       # unfolded code, relative position, cell
        for h in hidden:
            layers += [nn.Linear(n, h), nn.ReLU()]
            n = h
        layers.append(nn.Linear(n, in_channels))
        self.decoder = nn.Sequential(*layers)

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """Unfolded feature map (B, 9·width, h, w) of an image (B, C, h, w) in [0, 1]."""
        check_image(image)
        if image.shape[1] != self.in_channels:
            raise ValueError(f"LIIF expects {self.in_channels} channels, got {image.shape[1]}")
        feat = self.encoder((image - 0.5) / 0.5)
        h, w = feat.shape[-2:]
        return F.unfold(feat, 3, padding=1).view(feat.shape[0], -1, h, w)

    def query(self, features: torch.Tensor, coords: torch.Tensor,
              cell: torch.Tensor | tuple[float, float] | None = None) -> torch.Tensor:
        """Decode values (B, N, C) at ``coords`` (B, N, 2) from :meth:`encode`'s features."""
        check_coords(coords, batch=features.shape[0])
        B, D, h, w = features.shape
        size = torch.tensor([w, h], dtype=coords.dtype, device=coords.device)
        if cell is None:
            cell = 1.0 / size                        # output pixel = half an input pixel (×2)
        cell = torch.as_tensor(cell, dtype=coords.dtype, device=coords.device)
        rel_cell = (cell * size).expand(B, coords.shape[1], 2)
        flat = features.reshape(B, D, h * w)
        preds, areas = [], []
        eps = 1e-6
        for vy in (-1, 1):
            for vx in (-1, 1):
                shift = torch.tensor([vx / w, vy / h], dtype=coords.dtype, device=coords.device)
                q = (coords + shift * (1 + eps)).clamp(-1 + eps, 1 - eps)
                j = ((q[..., 0] + 1) / 2 * w).floor().long().clamp(0, w - 1)
                i = ((q[..., 1] + 1) / 2 * h).floor().long().clamp(0, h - 1)
                code = torch.gather(flat, 2, (i * w + j).unsqueeze(1).expand(-1, D, -1)).transpose(1, 2)
                centre = torch.stack([(2 * j + 1).to(coords.dtype) / w - 1,
                                      (2 * i + 1).to(coords.dtype) / h - 1], dim=-1)
                rel = (coords - centre) * size       # offset in units of half an input pixel
                preds.append(self.decoder(torch.cat([code, rel, rel_cell], dim=-1)))
                areas.append((rel[..., 0] * rel[..., 1]).abs() + 1e-9)
        total = sum(areas)
        # each prediction is weighted by the area of the diagonally opposite code's rectangle
        out = sum(p * (a / total).unsqueeze(-1) for p, a in zip(preds, reversed(areas)))
        return out * 0.5 + 0.5

    def forward(self, coords: torch.Tensor, image: torch.Tensor,
                cell: torch.Tensor | tuple[float, float] | None = None) -> torch.Tensor:
        return self.query(self.encode(image), coords, cell)


# ----------------------------------------------------------------------------- U-Net

def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))


@register("unet", task="super-resolution")
class UNet(nn.Module):
    """U-Net (Ronneberger et al. 2015) for super-resolution by one fixed factor.

    The input is up-sampled by ``scale`` (bicubic) and fed to the U-Net: ``depth`` levels of two
    3×3 convolutions with ReLU, max-pooling down and transposed convolutions up, channels
    doubling from ``width`` per level, skip connections by concatenation, a 1×1 output
    convolution. With ``bicubic_skip=False`` (the paper's U-Net) the network's output is the
    image; with ``bicubic_skip=True`` (our variant) the network adds a correction to the
    up-sampled input (a global skip) and its output convolution starts at zero. It maps
    images of side h to side ``scale``·h only (``fixed_scale``); it is not a function of
    coordinates, so :func:`funknn.render` accepts it only for that output size.

    Args:
        in_channels: image channels.
        width: channels of the first level (64 with depth 5 is the original, ~31M parameters;
            the paper's U-Net has 8.8M, which width 34 with depth 5 matches: 8.76M).
        depth: number of levels.
        scale: the one super-resolution factor.
        bicubic_skip: add the network's output to the bicubic up-sampling (ours) instead of
            returning it (the paper, Ronneberger et al.).

    Shapes:
        ``forward(image (B, C, h, w))`` → (B, C, scale·h, scale·w); scale·h and scale·w must be
        divisible by 2^(depth-1).
    """

    def __init__(self, in_channels: int = 3, width: int = 32, depth: int = 4, scale: int = 2,
                 bicubic_skip: bool = True) -> None:
        super().__init__()
        if in_channels < 1 or width < 1 or depth < 1 or scale < 2:
            raise ValueError(f"invalid U-Net sizes: in_channels={in_channels}, width={width}, "
                             f"depth={depth}, scale={scale}")
        if not isinstance(bicubic_skip, bool):
            raise ValueError(f"bicubic_skip must be True or False, got {bicubic_skip!r}")
        self.config = dict(in_channels=int(in_channels), width=int(width), depth=int(depth), scale=int(scale),
                           bicubic_skip=bicubic_skip)
        self.bicubic_skip = bicubic_skip
        self.fixed_scale = int(scale)
        self.in_channels = int(in_channels)
        widths = [width * 2 ** k for k in range(depth)]
        self.down = nn.ModuleList()
        cin = in_channels
        for c in widths:
            self.down.append(_double_conv(cin, c))
            cin = c
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2)
                                for k in range(depth - 1))
        self.merge = nn.ModuleList(_double_conv(2 * widths[k], widths[k]) for k in range(depth - 1))
        self.out = nn.Conv2d(widths[0], in_channels, 1)
        if bicubic_skip:          # start as plain bicubic up-sampling
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(cast(torch.Tensor, self.out.bias))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        check_image(image)
        if image.shape[1] != self.in_channels:
            raise ValueError(f"U-Net expects {self.in_channels} channels, got {image.shape[1]}")
        H, W = (self.fixed_scale * s for s in image.shape[-2:])
        m = 2 ** (len(self.down) - 1)
        if H % m or W % m:
            raise ValueError(f"U-Net of depth {len(self.down)}: output size {(H, W)} must be "
                             f"divisible by {m}")
        x = F.interpolate(image, size=(H, W), mode="bicubic", align_corners=False)
        skips, h = [], x
        for k, block in enumerate(self.down):
            h = block(h if k == 0 else F.max_pool2d(h, 2))
            skips.append(h)
        for k in reversed(range(len(self.up))):
            h = self.merge[k](torch.cat([skips[k], self.up[k](h)], dim=1))
        return x + self.out(h) if self.bicubic_skip else self.out(h)


#: plain interpolation, the baseline without learning (defined beside the sampler)
register("interpolator", Interpolator)

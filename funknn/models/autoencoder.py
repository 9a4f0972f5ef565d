"""Convolutional autoencoder of the generative prior (Appendix A.1.1 of the paper) and the
losses it is trained with (MSE plus a loss that keeps high frequencies)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ResBlock
from .registry import register


@register("autoencoder", task="autoencoder")
class Autoencoder(nn.Module):
    """Encoder: a stem convolution, then per level a residual Conv+ReLU block and a stride-2
    convolution (down-sampling), down to a ``bottleneck × bottleneck`` map, then a linear layer to the
    latent code (or, with ``spatial=True``, a 1×1 convolution to a few channels whose flattened
    map is the code: local, and much faster to train).
    Decoder: the mirror image (linear layer, then per level a ×2 nearest up-sampling with a
    convolution and a residual block, then a convolution to the image channels).

    Args:
        in_channels: image channels C.
        image_size: side of the (square) images, a power of two ≥ 8.
        latent_dim: size L of the latent code.
        width: channels at full resolution; doubled per level up to ``max_width``.
        max_width: channel cap.
        bottleneck: side of the smallest feature map (a power of two).
        spatial: code = flattened ``latent_dim / bottleneck²``-channel map instead of a linear layer.

    Shapes:
        ``encode``: (B, C, S, S) → (B, L); ``decode``: (B, L) → (B, C, S, S);
        ``forward``: the reconstruction.

    Example:
        >>> ae = Autoencoder(1, image_size=32, latent_dim=16, width=8)
        >>> ae(torch.rand(2, 1, 32, 32)).shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(self, in_channels: int = 1, image_size: int = 64, latent_dim: int = 128,
                 width: int = 32, max_width: int = 128, bottleneck: int = 4, spatial: bool = False) -> None:
        super().__init__()
        if image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 8, got {image_size}")
        if latent_dim < 1 or width < 1 or in_channels < 1:
            raise ValueError("in_channels, latent_dim and width must be positive")
        if bottleneck < 1 or bottleneck & (bottleneck - 1) or bottleneck >= image_size:
            raise ValueError(f"bottleneck must be a power of two below image_size, got {bottleneck}")
        if spatial and latent_dim % (bottleneck * bottleneck):
            raise ValueError(f"a spatial code needs latent_dim divisible by bottleneck² = {bottleneck ** 2}")
        self.config = dict(in_channels=int(in_channels), image_size=int(image_size),
                           latent_dim=int(latent_dim), width=int(width), max_width=int(max_width),
                           bottleneck=int(bottleneck), spatial=bool(spatial))
        self.in_channels, self.image_size, self.latent_dim = in_channels, image_size, latent_dim
        self.bottleneck, self.spatial = bottleneck, spatial
        levels = (image_size // bottleneck).bit_length() - 1        # halvings down to the bottleneck
        widths = [min(width * 2 ** k, max_width) for k in range(levels + 1)]
        self.widths = widths
        enc: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 3, padding=1), nn.ReLU()]
        for k in range(levels):
            enc += [ResBlock(widths[k]), nn.Conv2d(widths[k], widths[k + 1], 4, stride=2, padding=1),
                    nn.ReLU()]
        enc += [ResBlock(widths[-1])]
        self.encoder = nn.Sequential(*enc)
        cells = bottleneck * bottleneck
        if spatial:   # the code is a small (latent_dim / cells)-channel map, flattened
            self.to_latent: nn.Module = nn.Conv2d(widths[-1], latent_dim // cells, 1)
            self.from_latent: nn.Module = nn.Conv2d(latent_dim // cells, widths[-1], 1)
        else:
            self.to_latent = nn.Linear(widths[-1] * cells, latent_dim)
            self.from_latent = nn.Linear(latent_dim, widths[-1] * cells)
        dec: list[nn.Module] = [ResBlock(widths[-1])]
        for k in reversed(range(levels)):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(widths[k + 1], widths[k], 3, padding=1), nn.ReLU(), ResBlock(widths[k])]
        dec += [nn.Conv2d(widths[0], in_channels, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    def check_images(self, images: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``images`` is (B, C, S, S) for this autoencoder."""
        if images.dim() != 4 or images.shape[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError(f"images must have shape (B, {self.in_channels}, {self.image_size}, "
                             f"{self.image_size}), got {tuple(images.shape)}")

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        self.check_images(images)
        h = self.encoder(images)
        return self.to_latent(h).flatten(1) if self.spatial else self.to_latent(h.flatten(1))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        if codes.dim() != 2 or codes.shape[1] != self.latent_dim:
            raise ValueError(f"codes must have shape (B, {self.latent_dim}), got {tuple(codes.shape)}")
        b = self.bottleneck
        if self.spatial:
            h = F.relu(self.from_latent(codes.reshape(-1, self.latent_dim // (b * b), b, b)))
        else:
            h = F.relu(self.from_latent(codes)).reshape(-1, self.widths[-1], b, b)
        return self.decoder(h)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))


# ----------------------------------------------------------------------------- losses

def _blur_down(x: torch.Tensor) -> torch.Tensor:
    """5-tap binomial blur (reflect padding), then keep every second pixel."""
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=x.dtype, device=x.device) / 16
    C = x.shape[1]
    k = (k1[:, None] * k1[None, :]).expand(C, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=C)[..., ::2, ::2]


def laplacian_pyramid(x: torch.Tensor, levels: int = 3) -> list[torch.Tensor]:
    """Band-pass images of a Laplacian pyramid, finest first, then the low-pass residual.

    Args:
        x: (B, C, H, W) with H, W divisible by 2**levels.
    """
    bands = []
    current = x
    for _ in range(levels):
        down = _blur_down(current)
        up = F.interpolate(down, size=current.shape[-2:], mode="bilinear", align_corners=False)
        bands.append(current - up)
        current = down
    bands.append(current)
    return bands


def laplacian_pyramid_loss(estimate: torch.Tensor, target: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """Mean L1 distance between the Laplacian pyramids of two image batches, summed over levels.

    Every band weighs alike, so edges (the finest band) count as much as the coarse layout,
    which MSE alone lets blur. The default perceptual-type loss of the autoencoder (a VGG loss
    needs pretrained weights; see :class:`VGGPerceptualLoss`)."""
    if estimate.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(estimate.shape)} vs {tuple(target.shape)}")
    losses = [F.l1_loss(a, b) for a, b in zip(laplacian_pyramid(estimate, levels),
                                              laplacian_pyramid(target, levels))]
    total = losses[0]
    for loss in losses[1:]:
        total = total + loss
    return total


#: VGG-16 feature layers up to relu3_3 (channels; "M" = max-pool), torchvision's numbering
_VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256)


class VGGPerceptualLoss(nn.Module):
    """MSE between VGG-16 features (up to relu3_3) of two image batches.

    The weights must come from a local file (nothing is downloaded): a state dict in
    torchvision's ``vgg16`` format (keys ``features.<i>.weight`` / ``.bias``), e.g. saved on a
    machine with internet access by
    ``torch.save(torchvision.models.vgg16(weights="IMAGENET1K_V1").state_dict(), "vgg16.pth")``.

    Args:
        weights: path of that file.
    """

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"VGG-16 weights {str(path)!r} not found; this package downloads nothing. Save "
                "torchvision's vgg16 state dict to a file on a machine with internet access and pass "
                "its path, or use the default Laplacian-pyramid loss (perceptual='laplacian')")
        layers: list[nn.Module] = []
        channels = 3
        for spec in _VGG16_LAYERS:
            if spec == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(channels, int(spec), 3, padding=1), nn.ReLU()]
                channels = int(spec)
        self.features = nn.Sequential(*layers)
        state = torch.load(path, map_location="cpu", weights_only=True)
        mine = {k: v for k, v in state.items() if k.startswith("features.")
                and int(k.split(".")[1]) < len(layers)}
        try:
            self.features.load_state_dict({k[len("features."):]: v for k, v in mine.items()})
        except RuntimeError as err:
            raise ValueError(f"{str(path)!r} is not a torchvision vgg16 state dict: {err}") from err
        self.requires_grad_(False)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        def feats(x: torch.Tensor) -> torch.Tensor:
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            return self.features((x - self.mean) / self.std)

        return F.mse_loss(feats(estimate), feats(target))

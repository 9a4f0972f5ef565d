"""FunkNN: a small network that regresses image intensity at a continuous coordinate from a
patch of the low-resolution image around it (Appendix A.2 of the paper)."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ..sampling import check_coords, check_image, check_kernel, cubic_conv_patches, sample
from .registry import register

NETWORKS = ("cnn", "mlp")
ACTIVATIONS = ("relu", "sine")


def _activation(name: str, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    return F.relu(x, inplace=inplace) if name == "relu" else torch.sin(x)


def _shrink(layer: nn.Linear, factor: float = 0.01) -> None:
    """Scale the output layer's initial weights down: an untrained FunkNN is then close to plain
    interpolation (the patch's centre value), while every layer still gets a gradient (a zero
    output layer would leave all earlier layers without one at the start)."""
    with torch.no_grad():
        layer.weight.mul_(factor)
        layer.bias.zero_()


class _SamePad2x2Conv(nn.Conv2d):
    """2×2 convolution that keeps the spatial size: output pixel (i, j) sees input pixels
    (i-1..i, j-1..j), with zeros above and left of the patch."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (1, 0, 1, 0)))


class PatchCNN(nn.Module):
    """The paper's patch network: eight 2×2 convolutions (64 channels) in groups of 3, 3, 2
    separated by 2×2 max-pools, residual skips between convolutions of equal width, then four
    fully connected layers (three hidden of width 64 with skips, one output).

    Input (M, C, p, p), output (M, C).
    """

    def __init__(self, channels: int, patch_size: int, width: int = 64, activation: str = "relu") -> None:
        super().__init__()
        self.activation = activation
        self.groups = nn.ModuleList([
            nn.ModuleList([_SamePad2x2Conv(channels if (g == 0 and i == 0) else width, width)
                           for i in range(n)])
            for g, n in enumerate((3, 3, 2))
        ])
        side = patch_size // 2 // 2
        if side < 1:
            raise ValueError(f"patch_size must be at least 4 for the cnn network, got {patch_size}")
        self.fc_in = nn.Linear(width * side * side, width)
        self.fc_hidden = nn.ModuleList([nn.Linear(width, width) for _ in range(2)])
        self.fc_out = nn.Linear(width, channels)
        _shrink(self.fc_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # without autograd, ReLU and the skip additions run in place (a third faster on CPU)
        inplace = not torch.is_grad_enabled() and self.activation == "relu"
        for g, group in enumerate(cast(list[nn.ModuleList], self.groups)):
            if g > 0:
                x = F.max_pool2d(x, 2)
            for conv in group:
                y = _activation(self.activation, conv(x), inplace)
                if y.shape == x.shape:
                    x = y.add_(x) if inplace else y + x
                else:
                    x = y
        # no ReLU on the first linear layer: a dead unit there would cut every gradient path,
        # while the residual blocks after it always pass the signal through their skips
        h = self.fc_in(x.flatten(1))
        for layer in self.fc_hidden:
            h = _activation(self.activation, layer(h)) + h
        return self.fc_out(h)


class PatchMLP(nn.Module):
    """Faster variant: an MLP on the flattened patch. Input (M, C, p, p), output (M, C)."""

    def __init__(self, channels: int, patch_size: int, width: int = 256, depth: int = 3,
                 activation: str = "relu") -> None:
        super().__init__()
        self.activation = activation
        self.fc_in = nn.Linear(channels * patch_size * patch_size, width)
        self.hidden = nn.ModuleList([nn.Linear(width, width) for _ in range(depth - 1)])
        self.fc_out = nn.Linear(width, channels)
        _shrink(self.fc_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc_in(x.flatten(1))
        for layer in self.hidden:
            h = _activation(self.activation, layer(h)) + h
        return self.fc_out(h)


def _check_arguments(in_channels: int, network: str, kernel: str, patch_size: int, activation: str,
                     boundary: str, output_init: float, centred_input: bool) -> None:
    if not isinstance(centred_input, bool):
        raise ValueError(f"centred_input must be True or False, got {centred_input!r}")
    if not output_init >= 0:
        raise ValueError(f"output_init must be non-negative, got {output_init}")
    check_kernel(kernel, boundary)
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; expected one of {NETWORKS}")
    if int(in_channels) < 1:
        raise ValueError(f"in_channels must be positive, got {in_channels}")
    if patch_size < 1 or patch_size % 2 == 0:
        raise ValueError(f"patch_size must be a positive odd number, got {patch_size}")


@register("funknn", task="super-resolution")
class FunkNN(nn.Module):
    r"""Functional neural network: :math:`u(\mathbf{x}) = \mathrm{CNN}(\mathrm{ST}(\mathbf{x}, I))`.

    For each query coordinate a ``patch_size``×``patch_size`` patch of the low-resolution image
    ``I`` is sampled on a grid centred at the query, with a spacing of ``scale`` low-resolution
    pixels per axis (two trainable numbers, starting at one pixel). The network maps the patch
    to the intensity; the patch's centre value (the plain interpolation at the query) is added
    to its output (Appendix A.2). Two choices of ours, both optional: the network sees the patch
    *minus* its centre value (``centred_input``; the paper feeds the raw patch), and its output
    layer starts small (``output_init=0.01``; the paper: PyTorch's default, 1), so that an
    untrained model is close to plain interpolation with its kernel and training learns a
    correction to it (``benchmarks/design_choices.py`` measures both against the paper's).

    Args:
        in_channels: image channels C.
        network: ``"cnn"`` (the paper's ~140K-parameter network) or ``"mlp"`` (faster).
        kernel: sampler of the spatial transformer (``"bilinear"``, ``"bicubic"``,
            ``"cubic_conv"``); only ``"cubic_conv"`` has usable second derivatives.
        patch_size: odd patch side p.
        width: channel / hidden width of the network.
        activation: ``"relu"`` (the paper) or ``"sine"`` (smooth, for second derivatives).
        boundary: how the sampler continues the image beyond its border: ``"reflection"``
            (default) or ``"extrapolate"`` (``cubic_conv`` only; Keys' quadratic boundary
            condition, for derivatives of smooth images; see :mod:`funknn.sampling`).
        output_init: scale of the output layer's initial weights (relative to PyTorch's
            default). 0.01 by default; 0 starts the model as exactly plain interpolation, which
            suits data where the kernel alone is already very accurate (smooth bumps); 1 is
            PyTorch's default initialisation (the paper).
        centred_input: feed the network the patch minus its centre value (True, ours) or the
            raw patch (False, the paper). The centre value is added to the output either way.

    Shapes:
        ``model(coords, image)``: coords (B, N, 2) in [-1, 1], image (B, C, H, W) → (B, N, C).

    Example:
        >>> model = FunkNN(in_channels=3)
        >>> model(torch.zeros(2, 5, 2), torch.rand(2, 3, 16, 12)).shape
        torch.Size([2, 5, 3])
    """

    def __init__(self, in_channels: int = 3, network: str = "cnn", kernel: str = "bicubic",
                 patch_size: int = 9, width: int = 64, activation: str = "relu",
                 boundary: str = "reflection", output_init: float = 0.01, centred_input: bool = True) -> None:
        super().__init__()
        _check_arguments(in_channels, network, kernel, patch_size, activation, boundary, output_init,
                         centred_input)
        self.config = dict(in_channels=int(in_channels), network=network, kernel=kernel,
                           patch_size=int(patch_size), width=int(width), activation=activation,
                           boundary=boundary, output_init=float(output_init), centred_input=centred_input)
        self.centred_input = centred_input
        self.boundary = boundary
        self.in_channels = int(in_channels)
        self.kernel = kernel
        #: queries per block of the network's forward pass on CPU when no graph is kept
        #: (benchmarks/render.py: 256 is fastest for the CNN on CPU with 1 and 2 threads, about
        #: twice the rate of 1024; the MLP prefers more). GPUs take a call in one pass.
        self.inference_block = 256 if network == "cnn" else 4096
        #: queries per block when a graph is kept on a CPU with one thread (``None``: one pass):
        #: each block's activations (64 × 81 floats per query and layer) then stay in cache
        #: through the forward and the backward pass, and a training step of the CNN runs at
        #: about 2.5 times the FLOP rate of one pass (benchmarks/train.py: 128–384 are alike).
        #: With several threads the small blocks' short parallel regions stalled on a shared
        #: machine (0.10 of the matmul rate against 0.40 for one pass, 2 threads), so several
        #: threads, and GPUs, take the batch in one pass; torchrun runs one thread per process.
        self.training_block: int | None = 256 if network == "cnn" else None
        self.patch_size = int(patch_size)
        self.centre = patch_size // 2
        # patch spacing in units of low-resolution pixels, (x, y)
        self.scale = nn.Parameter(torch.ones(2))
        if network == "cnn":
            self.net: nn.Module = PatchCNN(in_channels, patch_size, width, activation)
        else:
            self.net = PatchMLP(in_channels, patch_size, width=4 * width, activation=activation)
        if output_init != 0.01:
            with torch.no_grad():
                self.net.fc_out.weight.mul_(output_init / 0.01)
        offsets = torch.arange(patch_size, dtype=torch.float32) - self.centre
        oy, ox = torch.meshgrid(offsets, offsets, indexing="ij")
        self.offsets: torch.Tensor
        self.register_buffer("offsets", torch.stack([ox.reshape(-1), oy.reshape(-1)], -1),
                             persistent=False)                      # (p*p, 2), row-major

    def patches(self, coords: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """The spatial transformer: patches around each query.

        Args:
            coords: (B, N, 2); image: (B, C, H, W).

        Returns:
            (B, N, C, p, p) patches sampled with the model's kernel.
        """
        B, C, H, W = image.shape
        N = coords.shape[1]
        p = self.patch_size
        if self.kernel == "cubic_conv":     # separable: one block of pixels per query
            offsets = torch.arange(p, device=image.device, dtype=image.dtype) - self.centre
            return cubic_conv_patches(image, coords.to(image.dtype), offsets, self.scale.to(image.dtype),
                                      boundary=self.boundary)
        pixel = torch.tensor([2.0 / W, 2.0 / H], device=image.device, dtype=image.dtype)
        step = (self.offsets.to(image.dtype) * (self.scale.to(image.dtype) * pixel))  # (p*p, 2)
        where = coords.to(image.dtype).unsqueeze(2) + step                          # (B, N, p*p, 2)
        values = sample(image, where.reshape(B, N * p * p, 2), self.kernel, validate=False,
                        boundary=self.boundary)
        return values.reshape(B, N, p, p, C).permute(0, 1, 4, 2, 3)

    def _network(self, local: torch.Tensor) -> torch.Tensor:
        """The patch network on (M, C, p, p) patches, in blocks whose activations stay in cache
        (about twice the FLOP rate on CPU; each block's graph is its own, so gradients of any
        order are those of one pass)."""
        block: int | None = None                            # GPUs: one pass
        if local.device.type == "cpu":
            block = self.inference_block
            if torch.is_grad_enabled():       # blocks with one thread only (see training_block)
                block = self.training_block if torch.get_num_threads() == 1 else None
        if block is None or local.shape[0] <= block:
            return self.net(local)
        return torch.cat([self.net(part) for part in local.split(block)])

    def forward(self, coords: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        check_image(image)
        if image.shape[1] != self.in_channels:
            raise ValueError(f"image has {image.shape[1]} channels but the model expects "
                             f"in_channels={self.in_channels}")
        check_coords(coords, batch=image.shape[0])
        B, N = coords.shape[:2]
        patch = self.patches(coords, image)                                         # (B, N, C, p, p)
        flat = patch.reshape(B * N, self.in_channels, self.patch_size, self.patch_size)
        centre = flat[:, :, self.centre, self.centre]                               # (B*N, C)
        # the network predicts a correction to the centre value, from the patch relative to it
        # (ours) or from the raw patch (the paper)
        local = flat - centre[:, :, None, None] if self.centred_input else flat
        local = local.contiguous(memory_format=torch.channels_last)
        out = self._network(local) + centre
        return out.reshape(B, N, self.in_channels)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""Building blocks shared by several models."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResBlock(nn.Module):
    """Conv+ReLU, Conv, plus the block's input (a local skip connection), then ReLU unless
    ``final_relu=False`` (the EDSR block of LIIF's encoder). 3×3 convolutions, same size.

    Example:
        >>> ResBlock(4)(torch.rand(2, 4, 5, 5)).shape
        torch.Size([2, 4, 5, 5])
    """

    def __init__(self, channels: int, final_relu: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.final_relu = final_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + self.conv2(F.relu(self.conv1(x)))
        return F.relu(y) if self.final_relu else y

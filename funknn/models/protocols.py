"""What a model can do, named: the interfaces that rendering, training, evaluation and the
solvers are typed against (instead of probing attributes).

- :class:`CoordinateModel`: a continuous image model, ``model(coords, image) -> values``
  (FunkNN, :class:`~funknn.sampling.Interpolator`).
- :class:`CellModel`: a coordinate model that encodes an image once and is then queried with
  the output pixel's size, the *cell* (LIIF).
- :class:`FixedScaleModel`: maps an image to one fixed multiple of its size (the U-Net); not a
  function of coordinates.
- :class:`FineTuning`: what a latent prior lets the inverse-problem solver fine-tune.

:func:`kind` tells which one a model is. The protocols are ``runtime_checkable``: a model of
another library fits by having the same methods, no base class needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class CoordinateModel(Protocol):
    """``model(coords (B, N, 2), image (B, C, h, w)) -> (B, N, C)``: the image's continuous
    intensity at the coordinates (x along the width, y along the height, in [-1, 1])."""

    def __call__(self, coords: torch.Tensor, image: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class CellModel(Protocol):
    """A coordinate model that encodes the image once, then decodes any coordinates given the
    output pixel's size ``cell`` = (2 / W, 2 / H) of the output grid."""

    def encode(self, image: torch.Tensor) -> torch.Tensor: ...

    def query(self, features: torch.Tensor, coords: torch.Tensor,
              cell: torch.Tensor | tuple[float, float] | None = None) -> torch.Tensor: ...


@runtime_checkable
class FixedScaleModel(Protocol):
    """``model(image (B, C, h, w)) -> (B, C, s·h, s·w)`` for its one factor ``s = fixed_scale``."""

    fixed_scale: int

    def __call__(self, image: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Configured(Protocol):
    """A model that can be rebuilt from a file: ``config`` holds its complete constructor
    arguments (:func:`funknn.models.build` and :mod:`funknn.checkpoints`)."""

    config: dict[str, Any]


@dataclass(frozen=True)
class FineTuning:
    """What a latent prior fine-tunes after the latent search of :func:`funknn.inverse.solve`,
    with the latent noise ``w`` fixed: the parameters named ``trained`` (names in
    ``module.named_parameters()``) of ``module``, where ``module(inputs(w))`` is the prior's
    ``low_resolution(w)``. The other parameters and the buffers of ``module`` stay fixed; the
    solver trains copies, never ``module`` itself."""

    module: nn.Module
    trained: tuple[str, ...]
    inputs: Callable[[torch.Tensor], torch.Tensor]


#: any model that :func:`funknn.render` and :func:`funknn.evaluate` accept
SuperResolver = CoordinateModel | CellModel | FixedScaleModel

Kind = Literal["coordinate", "cell", "fixed_scale"]


def kind(model: object) -> Kind:
    """``"fixed_scale"``, ``"cell"`` or ``"coordinate"``: which interface ``model`` offers.

    Example:
        >>> from funknn.models import build
        >>> kind(build("unet", width=4, depth=2)), kind(build("liif-140k")), kind(build("funknn"))
        ('fixed_scale', 'cell', 'coordinate')
    """
    if isinstance(model, FixedScaleModel):
        return "fixed_scale"
    if isinstance(model, CellModel):
        return "cell"
    if callable(model):
        return "coordinate"
    raise TypeError(f"{type(model).__name__} is not a model: expected a coordinate model "
                    "model(coords, image), a cell model (encode/query) or a fixed-scale model")

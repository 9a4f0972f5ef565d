"""Inverse problems for :func:`funknn.inverse.solve`: a problem is a forward operator
(:mod:`funknn.physics`) + a data fidelity + the scales that make the regularisers' weights
relative.

:class:`OperatorProblem` is that composition; a kind of problem says only how a continuous image
``model(·, low)`` meets its operator (:meth:`OperatorProblem.predict`) and what the typical total
variation of its solution is: :class:`DerivativeProblem` (eqs. 3 and 4 of the paper) and
:class:`CTProblem` (eq. 6).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from ..models.protocols import CoordinateModel
from ..physics import DerivativeOperator, LimitedViewCT, LinearOperator
from ..rendering import render
from ..sampling import as_size
from .regularisers import mean_gradient_magnitude

__all__ = ["SCALES", "CTProblem", "DerivativeProblem", "Fidelity", "OperatorProblem", "Problem",
           "mean_squared_error"]

#: how the objective's terms are scaled (:class:`~funknn.inverse.SolverConfig` ``scale``)
SCALES = ("relative", "absolute")


class Fidelity(Protocol):
    """A data fidelity: ``fidelity(predicted, measured) -> (B,)``, one misfit per image (any
    function of two tensors, such as :func:`mean_squared_error`)."""

    def __call__(self, predicted: torch.Tensor, measured: torch.Tensor, /) -> torch.Tensor: ...


def mean_squared_error(predicted: torch.Tensor, measured: torch.Tensor) -> torch.Tensor:
    """The L2 data fidelity: the mean squared difference per image, (B,)."""
    return (predicted - measured).pow(2).flatten(1).mean(1)


class Problem(Protocol):
    """An inverse problem for :func:`~funknn.inverse.solve`, over ``batch`` images at once: the
    resolution ``size`` (H, W) of the reconstruction, the data misfit of each continuous image
    ``model(·, low)`` (``loss`` returns one value per image, (B,)), and the two scales (B,) that
    make the regulariser's weight relative (``SolverConfig(scale="relative")``): ``data_scale``,
    the misfit of the zero image (the mean squared measurement), and ``tv_scale``, the typical
    :func:`~funknn.inverse.mean_gradient_magnitude` of an image that fits the data."""

    size: tuple[int, int]
    batch: int
    data_scale: torch.Tensor
    tv_scale: torch.Tensor

    def loss(self, model: CoordinateModel, low: torch.Tensor, generator: torch.Generator) -> torch.Tensor: ...


class OperatorProblem:
    """A :class:`Problem` made of a forward operator, measurements, a data fidelity and scales.

    ``loss(model, low, generator) = fidelity(*predict(model, low, generator))``; ``data_scale`` is
    the fidelity of the zero image (the mean squared measurement for the L2 fidelity).

    Args:
        operator: the forward operator (a :class:`~funknn.physics.LinearOperator`).
        measurements: (B, …) the data, one row per image.
        size: resolution (H, W) at which the reconstructions are rendered.
        tv_scale: (B,) the typical mean gradient magnitude of a solution.
        fidelity: the data fidelity, default :func:`mean_squared_error`.
    """

    def __init__(self, operator: LinearOperator, measurements: torch.Tensor, size: int | Sequence[int],
                 tv_scale: torch.Tensor, fidelity: Fidelity = mean_squared_error) -> None:
        self.operator, self.measurements, self.fidelity = operator, measurements, fidelity
        self.size = as_size(size)
        self.batch = measurements.shape[0]
        with torch.no_grad():
            m = measurements.detach()
            self.data_scale = fidelity(torch.zeros_like(m), m).clamp_min(1e-30)
        self.tv_scale = tv_scale.clamp_min(1e-30)

    def predict(self, model: CoordinateModel, low: torch.Tensor, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """The operator applied to the continuous images ``model(·, low)``, and the measurements
        it is compared with (on ``low``'s device)."""
        raise NotImplementedError

    def loss(self, model: CoordinateModel, low: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The data misfit (B,) of each continuous image ``model(·, low)``."""
        return self.fidelity(*self.predict(model, low, generator))


class DerivativeProblem(OperatorProblem):
    """Measurements of the gradient of unknown continuous images at given locations
    (eq. 3 with every pixel centre of a grid; eq. 4 with the largest 20% only): the
    :class:`~funknn.physics.DerivativeOperator` at ``coords``.

    Args:
        coords: (B, N, 2) measurement locations (B images, the same number N each).
        gradients: (B, N, C, 2) measured gradients there.
        size: resolution (H, W) at which the reconstructions are rendered.
        batch_points: locations used per step, drawn at random (``None``: all).
        fidelity: the data fidelity, default :func:`mean_squared_error`.
    """

    operator: DerivativeOperator

    def __init__(self, coords: torch.Tensor, gradients: torch.Tensor, size: int | Sequence[int],
                 batch_points: int | None = None, fidelity: Fidelity = mean_squared_error) -> None:
        if coords.dim() != 3 or coords.shape[-1] != 2:
            raise ValueError(f"coords must have shape (B, N, 2), got {tuple(coords.shape)}")
        if gradients.dim() != 4 or gradients.shape[:2] != coords.shape[:2] or gradients.shape[-1] != 2:
            raise ValueError(f"gradients must have shape (B, N, C, 2) with (B, N) = "
                             f"{tuple(coords.shape[:2])}, got {tuple(gradients.shape)}")
        if batch_points is not None and batch_points < 1:
            raise ValueError(f"batch_points must be positive or None, got {batch_points}")
        self.coords, self.gradients, self.batch_points = coords, gradients, batch_points
        g = gradients.detach()
        # tv_scale: the mean measured |∇u| per image (data_scale: the mean squared measurement)
        tv_scale = g.pow(2).sum(dim=(-1, -2)).sqrt().mean(1)
        super().__init__(DerivativeOperator(coords, size, gradients.shape[2]), gradients, size, tv_scale,
                         fidelity)

    def predict(self, model: CoordinateModel, low: torch.Tensor, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """The gradients of ``model(·, low)`` at the locations (``batch_points`` of them drawn at
        random with ``generator``, when set) and the gradients measured there."""
        target, index = self.gradients.to(low.device), None
        if self.batch_points is not None and self.batch_points < self.coords.shape[1]:
            index = torch.randperm(self.coords.shape[1], generator=generator)[:self.batch_points]
            index = index.to(low.device)
            target = target[:, index]
        return self.operator.of(model, low, index), target


class CTProblem(OperatorProblem):
    """Limited-view CT (eq. 6): projections ``y`` of an unknown image through ``ct``.

    Args:
        ct: the :class:`~funknn.physics.LimitedViewCT` operator (its image size is the
            reconstruction's resolution).
        measurements: (B, 1, angles, detectors), one sinogram per image.
        fidelity: the data fidelity, default :func:`mean_squared_error`.
    """

    operator: LimitedViewCT

    def __init__(self, ct: LimitedViewCT, measurements: torch.Tensor, fidelity: Fidelity = mean_squared_error
                 ) -> None:
        ct.check(measurements, ct.data_shape, "measurements")
        self.ct = ct
        # tv_scale: the mean |∇u| of the filtered back-projection (data_scale: the mean squared measurement)
        with torch.no_grad():
            fbp = ct.fbp(measurements)
        super().__init__(ct, measurements, ct.image_size, mean_gradient_magnitude(fbp), fidelity)

    def predict(self, model: CoordinateModel, low: torch.Tensor, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """The projections of ``model(·, low)`` rendered at the CT's image size, and the measured ones."""
        u = render(model, low, self.size, chunk=1 << 16, grad=True)
        return self.operator(u), self.measurements.to(u.device)

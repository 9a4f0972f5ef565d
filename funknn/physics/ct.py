"""Limited-view parallel-beam CT (Section 4.3 of the paper) through ODL's ray transform, with
ASTRA (on GPU or CPU) or scikit-image as the backend: :class:`LimitedViewCT`, a
:class:`~funknn.physics.LinearOperator`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..sampling import as_size

__all__ = ["IMPLS", "LimitedViewCT", "available_impls"]

#: the ray-transform backends, in the order of preference of ``impl=None``
IMPLS = ("astra_cuda", "astra_cpu", "skimage")


def available_impls() -> list[str]:
    """The backends of ``IMPLS`` that are installed here (ODL's detection), in that order."""
    from odl.applications.tomo.backends import ASTRA_AVAILABLE, ASTRA_CUDA_AVAILABLE, SKIMAGE_AVAILABLE

    impls = []
    if ASTRA_CUDA_AVAILABLE:
        impls.append("astra_cuda")
    if ASTRA_AVAILABLE:
        impls.append("astra_cpu")
    if SKIMAGE_AVAILABLE:
        impls.append("skimage")
    return impls


class LimitedViewCT:
    r"""Parallel-beam ray transform over a limited range of angles, as PyTorch operations.

    The image lives on [-1, 1]² (H×W pixels; ODL's first axis is the array's first axis, the
    rows); the detector covers [-√2, √2] so that every ray through the image is seen.

    Args:
        image_size: side of the image, or (H, W).
        num_angles: number of projection angles, uniform in ``angle_range`` (cell midpoints).
        angle_range: (min, max) in degrees; the paper: (−70, 70).
        impl: ``"astra_cuda"``, ``"astra_cpu"`` or ``"skimage"``; ``None`` picks the first
            available in that order.
        detector_pixels: detector cells (default ⌈√2 · max(H, W)⌉).

    ``A(x)`` (or ``ct(x)``): (B, 1, H, W) → (B, 1, angles, detectors), differentiable;
    ``A_adjoint(y)`` (or ``ct.adjoint(y)``): the adjoint for the plain dot product of tensors,
    ⟨A x, y⟩ = ⟨x, A_adjoint y⟩ (ODL's own ``adjoint`` is taken in inner products weighted by the
    cell sizes, which differs by the ratio ``weight_ratio`` of the cell volumes); autograd's
    gradient through ``A`` equals ``A_adjoint``. The adjoint is exact to float32 rounding with
    ASTRA, and to ~0.3% with scikit-image, whose back-projection interpolates differently from
    its projection (:func:`~funknn.physics.adjoint_error`). ``fbp(y)``: filtered back-projection (Hann
    filter). ``measure(x, snr_db)``: noisy data. As a :class:`~funknn.physics.LinearOperator`:
    ``domain_shape`` = (1, H, W), ``range_shape`` = (1, angles, detectors), any batch size.
    """

    #: applies to batches of any size
    batch: int | None = None

    def __init__(self, image_size: int | Sequence[int], num_angles: int = 90,
                 angle_range: tuple[float, float] = (-70.0, 70.0), impl: str | None = None,
                 detector_pixels: int | None = None, fbp_filter: str = "Hann",
                 fbp_frequency_scaling: float = 1.0) -> None:
        import odl
        from odl.applications import tomo
        from odl.contrib.torch import OperatorModule

        H, W = as_size(image_size, "image_size")
        if min(H, W) < 2:
            raise ValueError(f"image_size must be at least 2 pixels, got {image_size}")
        if int(num_angles) < 1:
            raise ValueError(f"num_angles must be positive, got {num_angles}")
        lo, hi = (float(a) for a in angle_range)
        if not -180 <= lo < hi <= 180:
            raise ValueError(f"angle_range must satisfy -180 <= min < max <= 180 degrees, got {angle_range}")
        impls = available_impls()
        if impl is None:
            if not impls:
                raise RuntimeError("no ray-transform backend: install astra-toolbox or scikit-image")
            impl = impls[0]
        elif impl not in IMPLS:
            raise ValueError(f"unknown impl {impl!r}; expected 'astra_cuda', 'astra_cpu' or 'skimage'")
        elif impl not in impls:
            raise RuntimeError(f"impl {impl!r} is not available here; available: {impls}")
        self.image_size, self.num_angles = (H, W), int(num_angles)
        self.angle_range, self.impl = (lo, hi), impl
        n_det = int(detector_pixels or math.ceil(math.sqrt(2) * max(H, W)))
        self.detector_pixels = n_det
        self.space = odl.uniform_discr([-1.0, -1.0], [1.0, 1.0], (H, W), dtype="float32")
        angles = odl.uniform_partition(math.radians(lo), math.radians(hi), self.num_angles)
        detector = odl.uniform_partition(-math.sqrt(2), math.sqrt(2), n_det)
        self.geometry = tomo.Parallel2dGeometry(angles, detector)
        self.ray = tomo.RayTransform(self.space, self.geometry, impl=impl)
        self.fbp_operator = tomo.fbp_op(self.ray, filter_type=fbp_filter,
                                        frequency_scaling=fbp_frequency_scaling)
        #: angles in degrees (cell midpoints)
        self.angles = np.degrees(self.geometry.angles)
        cell_image = (2.0 / H) * (2.0 / W)
        cell_data = float(self.ray.range.cell_volume)
        #: ODL's adjoint times this ratio is the plain-dot-product adjoint
        self.weight_ratio = cell_image / cell_data
        self._A = OperatorModule(self.ray)
        self._AT = OperatorModule(self.ray.adjoint)
        self._fbp = OperatorModule(self.fbp_operator)

    @property
    def data_shape(self) -> tuple[int, int]:
        """The shape of one sinogram, (angles, detectors)."""
        return (self.num_angles, self.detector_pixels)

    @property
    def domain_shape(self) -> tuple[int, ...]:
        """The shape of one image, (1, H, W)."""
        return (1, *self.image_size)

    @property
    def range_shape(self) -> tuple[int, ...]:
        """The shape of one sinogram with its channel, (1, angles, detectors)."""
        return (1, *self.data_shape)

    def check(self, x: torch.Tensor, shape: tuple[int, int], name: str) -> None:
        """Raise ``ValueError`` unless ``x`` is ``(B, 1, *shape)`` (``image_size`` or ``data_shape``)."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 1 or tuple(x.shape[-2:]) != shape:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must have shape (B, 1, {shape[0]}, {shape[1]}), got {got}")

    def A(self, x: torch.Tensor) -> torch.Tensor:
        """Projections (B, 1, angles, detectors) of images (B, 1, H, W)."""
        self.check(x, self.image_size, "x")
        # OperatorModule's backward already returns the plain-dot-product adjoint (tested)
        return self._A(x.float()).to(x.dtype)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Back-projection (B, 1, H, W): the adjoint of ``A`` for the plain dot product."""
        self.check(y, self.data_shape, "y")
        return (self.weight_ratio * self._AT(y.float())).to(y.dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``A(x)``: the forward map of the :class:`~funknn.physics.LinearOperator` interface."""
        return self.A(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``A_adjoint(y)``: the adjoint of the :class:`~funknn.physics.LinearOperator` interface."""
        return self.A_adjoint(y)

    def fbp(self, y: torch.Tensor) -> torch.Tensor:
        """Filtered back-projection (B, 1, H, W) of projections (B, 1, angles, detectors)."""
        self.check(y, self.data_shape, "y")
        return self._fbp(y.float()).to(y.dtype)

    def measure(self, x: torch.Tensor, snr_db: float = 30.0, generator: torch.Generator | None = None
                ) -> torch.Tensor:
        """Noisy projections: A x plus white Gaussian noise whose power is ``snr_db`` below
        each projection's (each angle's) mean power."""
        with torch.no_grad():
            y = self.A(x)
            power = y.pow(2).mean(dim=-1, keepdim=True)                      # per projection
            sigma = (power / 10 ** (snr_db / 10)).sqrt()
            noise = torch.randn(y.shape, generator=generator, dtype=y.dtype).to(y.device)
            return y + sigma * noise

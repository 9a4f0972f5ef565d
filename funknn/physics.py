"""Forward operators of the inverse problems (Section 4 of the paper): derivatives of a
continuous image at given coordinates (dense or the largest ones only), and limited-view
parallel-beam CT through ODL and ASTRA.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .sampling import as_size, grid_coords

# ----------------------------------------------------------------------------- derivatives


def measure_gradients(image: torch.Tensor, coords: torch.Tensor | None = None, chunk: int = 4096
                      ) -> torch.Tensor:
    """The paper's derivative measurements of a discrete image: the exact gradient (B, N, C, 2)
    of its cubic-convolution interpolant (Keys, a = −0.5, reflection at the border), by autograd.

    The ground truth is the image itself, not a model's output: use it for the measurements of
    an n×n test image, so that the prior under test never made the data (no inverse crime).

    Args:
        image: (B, C, H, W) the ground truth at the reconstruction's resolution.
        coords: (B, N, 2) measurement locations; default every pixel centre of the image.

    Example:
        >>> grid = grid_locations(8, 1)[0]
        >>> ramp = (0.5 * grid[:, 0]).reshape(1, 1, 8, 8)
        >>> measure_gradients(ramp)[0, 27, 0]         # an inner pixel: ∂u/∂x = 0.5, ∂u/∂y = 0
        tensor([0.5000, 0.0000])
    """
    from .derivatives import gradient
    from .sampling import Interpolator

    if coords is None:
        coords = grid_locations(image.shape[-2:], image.shape[0]).to(image.device, image.dtype)
    return gradient(Interpolator("cubic_conv"), image, coords, chunk=chunk)


def grid_locations(size: int | Sequence[int], batch: int) -> torch.Tensor:
    """Pixel-centre coordinates of an H×W grid, (B, H·W, 2): the dense measurement locations.

    The derivative operator of eq. 3 itself is :func:`funknn.derivatives.gradient`."""
    H, W = as_size(size)
    return grid_coords(H, W).unsqueeze(0).expand(batch, -1, -1).contiguous()


def largest_gradients(grad: torch.Tensor, fraction: float = 0.2) -> torch.Tensor:
    """Indices of the locations with the largest gradient magnitude (the sparse measurements
    of eq. 4).

    Args:
        grad: (B, N, C, 2) gradients at N locations.
        fraction: share of the locations kept (the paper: 20%).

    Returns:
        (B, k) indices, k = round(fraction · N), largest first.
    """
    if grad.dim() != 4 or grad.shape[-1] != 2:
        raise ValueError(f"grad must have shape (B, N, C, 2), got {tuple(grad.shape)}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    k = max(1, int(round(fraction * grad.shape[1])))
    magnitude = grad.detach().pow(2).sum(dim=(-1, -2))                    # (B, N)
    return magnitude.topk(k, dim=1).indices


def take_locations(index: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The entries at ``index`` (B, k) along dimension 1 of each (B, N, …) tensor: e.g. the
    coordinates and gradients of the locations :func:`largest_gradients` keeps.

    Example:
        >>> coords, grads = grid_locations(4, 2), torch.arange(32.).reshape(2, 16, 1, 1).expand(-1, -1, 1, 2)
        >>> c, g = take_locations(torch.tensor([[15, 0], [3, 4]]), coords, grads)
        >>> c.shape, g[1, :, 0, 0].tolist()
        (torch.Size([2, 2, 2]), [19.0, 20.0])
    """
    if index.dim() != 2:
        raise ValueError(f"index must have shape (B, k), got {tuple(index.shape)}")
    out = []
    for t in tensors:
        if t.dim() < 2 or t.shape[0] != index.shape[0]:
            raise ValueError(f"a tensor of shape {tuple(t.shape)} has no (B = {index.shape[0]}, N) "
                             "dimensions")
        idx = index.to(t.device).reshape(*index.shape, *([1] * (t.dim() - 2)))
        out.append(t.gather(1, idx.expand(-1, -1, *t.shape[2:])))
    return tuple(out)


def location_mask(index: torch.Tensor, count: int) -> torch.Tensor:
    """(B, count) boolean mask that is True at the locations ``index`` (B, k)."""
    return torch.zeros(index.shape[0], count, dtype=torch.bool, device=index.device).scatter_(1, index, True)


# ----------------------------------------------------------------------------- CT

def _available_impls() -> list[str]:
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

    ``A(x)``: (B, 1, H, W) → (B, 1, angles, detectors), differentiable; ``A_adjoint(y)``: the
    adjoint for the plain dot product of tensors, ⟨A x, y⟩ = ⟨x, A_adjoint y⟩ (ODL's own
    ``adjoint`` is taken in inner products weighted by the cell sizes, which differs by the ratio
    ``weight_ratio`` of the cell volumes); autograd's gradient through ``A`` equals
    ``A_adjoint``. ``fbp(y)``: filtered back-projection (Hann filter). ``measure(x, snr_db)``:
    noisy data.
    """

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
        impls = _available_impls()
        if impl is None:
            if not impls:
                raise RuntimeError("no ray-transform backend: install astra-toolbox or scikit-image")
            impl = impls[0]
        elif impl not in ("astra_cuda", "astra_cpu", "skimage"):
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
        return (self.num_angles, self.detector_pixels)

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

"""funknn.physics.ct: the limited-view CT operator (ODL's ray transform, ASTRA or scikit-image)."""

import numpy as np
import pytest
import torch

from funknn.physics import IMPLS, LimitedViewCT, LinearOperator, available_impls


@pytest.fixture(scope="module")
def ct():
    return LimitedViewCT(32, num_angles=30)


def test_ct_shapes_backend_and_defaults(ct):
    assert ct.impl in ("astra_cuda", "astra_cpu", "skimage")
    assert ct.data_shape == (30, 46) and ct.angle_range == (-70.0, 70.0)
    assert ct.angles.min() > -70 and ct.angles.max() < 70 and len(ct.angles) == 30
    x = torch.rand(3, 1, 32, 32)
    assert ct.A(x).shape == (3, 1, 30, 46) and ct.fbp(ct.A(x)).shape == x.shape
    with pytest.raises(ValueError, match="x must have shape"):
        ct.A(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="angle_range"):
        LimitedViewCT(16, 10, angle_range=(10, -10))
    with pytest.raises(ValueError, match="unknown impl"):
        LimitedViewCT(16, 10, impl="gpu")


def test_ct_adjoint_is_the_plain_dot_product_adjoint_and_autograd_agrees(ct):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 32, 32, generator=g, dtype=torch.float64)
    y = torch.rand(2, 1, *ct.data_shape, generator=g, dtype=torch.float64)
    lhs, rhs = (ct.A(x) * y).sum(), (x * ct.A_adjoint(y)).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-4)
    # ODL's own adjoint differs by the ratio of the cell volumes
    assert abs(ct.weight_ratio - 1) > 0.05
    xr = x.clone().requires_grad_(True)
    (ct.A(xr) * y).sum().backward()
    assert torch.allclose(xr.grad, ct.A_adjoint(y), rtol=1e-4, atol=1e-5)
    yr = y.clone().requires_grad_(True)
    (ct.A_adjoint(yr) * x).sum().backward()
    assert torch.allclose(yr.grad, ct.A(x), rtol=1e-4, atol=1e-5)


def test_ct_matches_skimage_radon_on_a_phantom():
    from skimage.transform import radon

    from funknn.data import ellipse_phantoms

    x = ellipse_phantoms("test", 1, 64)
    ct = LimitedViewCT(64, 8, angle_range=(-90, 90))
    y = ct.A(x)[0, 0].numpy()
    # ODL's first axis is the array's first axis: skimage sees the transposed image, angles negated;
    # skimage sums pixel values (unit length), ODL integrates over [-1, 1] (pixel length 2/64)
    r = radon(x[0, 0].numpy().T, theta=-ct.angles, circle=False)
    sk_pos = np.arange(r.shape[0]) - r.shape[0] // 2 + 0.5
    odl_pos = ((np.arange(ct.detector_pixels) + 0.5) / ct.detector_pixels * 2 - 1) * np.sqrt(2) * 32
    resampled = np.stack([np.interp(odl_pos, sk_pos, r[:, k]) for k in range(len(ct.angles))]) * (2 / 64)
    assert np.linalg.norm(resampled - y) / np.linalg.norm(y) < 0.08


def test_ct_noise_level_and_fbp_quality():
    from funknn.data import ellipse_phantoms
    from funknn.metrics import snr

    x = ellipse_phantoms("test", 2, 32)
    full = LimitedViewCT(32, 90, angle_range=(-90, 90))
    limited = LimitedViewCT(32, 90)
    y = full.A(x)
    noisy = full.measure(x, snr_db=30, generator=torch.Generator().manual_seed(0))
    measured = 10 * torch.log10(y.pow(2).sum() / (noisy - y).pow(2).sum())
    assert abs(float(measured) - 30) < 0.5
    assert snr(full.fbp(y), x).mean() > snr(limited.fbp(limited.A(x)), x).mean()


def test_ct_is_a_linear_operator_with_its_backends():
    ct = LimitedViewCT(16, 10)
    assert isinstance(ct, LinearOperator) and ct.batch is None
    assert ct.domain_shape == (1, 16, 16) and ct.range_shape == (1, 10, 23)
    x, y = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 10, 23)
    assert torch.equal(ct(x), ct.A(x)) and torch.equal(ct.adjoint(y), ct.A_adjoint(y))
    impls = available_impls()
    assert impls and set(impls) <= set(IMPLS) and ct.impl == impls[0]
    with pytest.raises(ValueError, match="y must have shape"):
        ct.adjoint(x)

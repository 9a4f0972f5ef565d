import pytest
import torch

from funknn import FunkNN
from funknn.derivatives import derivatives, gradient, laplacian
from funknn.sampling import Interpolator, grid_coords

D = torch.float64


def smooth_image(H, W):
    c = grid_coords(H, W, dtype=D)
    x, y = c[:, 0], c[:, 1]
    return torch.exp(-((x - 0.1) ** 2 + (y + 0.2) ** 2) / (2 * 0.3 ** 2)).reshape(1, 1, H, W)


def analytic(coords):
    x, y = coords[..., 0], coords[..., 1]
    s2 = 0.3 ** 2
    g = torch.exp(-((x - 0.1) ** 2 + (y + 0.2) ** 2) / (2 * s2))
    gx, gy = -(x - 0.1) / s2 * g, -(y + 0.2) / s2 * g
    lap = g * (((x - 0.1) ** 2 + (y + 0.2) ** 2) / s2 ** 2 - 2 / s2)
    return g, torch.stack([gx, gy], -1), lap


def test_cubic_conv_derivatives_match_analytic_bump():
    img = smooth_image(128, 128)
    coords = (torch.rand(1, 400, 2, dtype=D) * 1.6 - 0.8)
    u, g, lap = derivatives(Interpolator("cubic_conv"), img, coords)
    g_true, grad_true, lap_true = analytic(coords[0])
    rel = lambda a, b: ((a - b).norm() / b.norm()).item()  # noqa: E731
    assert rel(u[0, :, 0], g_true) < 1e-4
    assert rel(g[0, :, 0], grad_true) < 1e-3
    assert rel(lap[0, :, 0], lap_true) < 5e-2
    # torch's bicubic (a = -0.75) gets the curvature badly wrong: the reason for cubic_conv
    lap_bicubic = laplacian(Interpolator("bicubic"), img, coords)
    assert rel(lap_bicubic[0, :, 0], lap_true) > 10 * rel(lap[0, :, 0], lap_true)


@pytest.mark.parametrize("kernel", ["bilinear", "bicubic", "cubic_conv"])
def test_chunked_equals_unchunked(kernel):
    # FunkNN for cubic_conv; grid_sample's double backward is slow in float64, so the two
    # torch kernels are checked through the plain interpolator
    model = FunkNN(2, kernel=kernel).double().eval() if kernel == "cubic_conv" else Interpolator(kernel)
    img = torch.rand(2, 2, 11, 9, dtype=D)
    coords = torch.rand(2, 13, 2, dtype=D) * 1.8 - 0.9
    full = derivatives(model, img, coords, chunk=1000)
    parts = derivatives(model, img, coords, chunk=5)
    for a, b in zip(full, parts):
        assert torch.allclose(a, b, atol=1e-10)
    assert full[1].shape == (2, 13, 2, 2) and full[2].shape == (2, 13, 2)
    assert not full[1].requires_grad


def test_gradients_flow_through_derivatives_into_image_and_weights():
    model = FunkNN(1, kernel="cubic_conv").double()
    img = torch.rand(1, 1, 10, 10, dtype=D, requires_grad=True)
    coords = torch.rand(1, 8, 2, dtype=D) * 1.6 - 0.8
    _, g, lap = derivatives(model, img, coords, create_graph=True, chunk=5)
    loss = g.pow(2).sum() + lap.pow(2).sum()
    loss.backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    # every weight matrix shapes the derivatives (a final bias only shifts the values)
    assert all(p.grad is not None for n, p in model.net.named_parameters() if n.endswith("weight"))
    assert model.net.groups[0][0].weight.grad.abs().sum() > 0


def test_gradient_and_laplacian_helpers_and_errors():
    img = smooth_image(16, 16)
    coords = torch.zeros(1, 3, 2, dtype=D)
    assert gradient(Interpolator("cubic_conv"), img, coords).shape == (1, 3, 1, 2)
    assert laplacian(Interpolator("cubic_conv"), img, coords).shape == (1, 3, 1)
    with pytest.raises(ValueError, match="order"):
        derivatives(Interpolator("cubic_conv"), img, coords, order=3)
    with pytest.raises(ValueError, match="chunk"):
        derivatives(Interpolator("cubic_conv"), img, coords, chunk=0)
    with pytest.raises(ValueError, match=r"\(B, N, 2\)"):
        derivatives(Interpolator("cubic_conv"), img, coords[0])


def test_derivative_snr_and_render_derivatives():
    from funknn.data import GaussianBumps
    from funknn.derivatives import derivative_snr, render_derivatives
    from funknn.sampling import Interpolator

    bumps = GaussianBumps.random(2, torch.Generator().manual_seed(0))
    ext = derivative_snr(Interpolator("cubic_conv", boundary="extrapolate"), bumps, 32, 64)
    assert set(ext) == {"image", "gradient", "gradient_norm", "laplacian"} and ext["image"].shape == (2,)
    ref = derivative_snr(Interpolator("cubic_conv"), bumps, 32, 64)
    lin = derivative_snr(Interpolator("bilinear", pure=True), bumps, 32, 64)
    # Keys' extrapolation beats reflection; bilinear has no curvature at all (0 dB)
    assert (ext["gradient"] > ref["gradient"]).all() and ext["image"].mean() > 50
    assert torch.allclose(lin["laplacian"], torch.zeros(2, dtype=torch.float64))
    maps = render_derivatives(Interpolator("cubic_conv"), bumps.images(8), (6, 5))
    assert maps["image"].shape == (2, 1, 6, 5) and maps["gradient"].shape == (2, 1, 2, 6, 5)
    assert maps["laplacian"].shape == (2, 1, 6, 5)

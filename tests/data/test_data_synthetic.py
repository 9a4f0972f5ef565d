import pytest
import torch
import torch.nn.functional as F


def test_gaussian_bumps_analytic_derivatives_match_autograd():
    from funknn.data import GaussianBumps

    bumps = GaussianBumps.random(3, torch.Generator().manual_seed(0))
    assert bumps.params[:, 2].min() >= 0.1 and bumps.params[:, 2].max() <= 0.4
    assert bumps.params[:, :2].abs().max() <= 1
    coords = (torch.rand(3, 20, 2, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    v = bumps.values(coords)
    (g,) = torch.autograd.grad(v.sum(), coords, create_graph=True)
    assert torch.allclose(bumps.gradient(coords)[:, :, 0], g)
    lap = sum(torch.autograd.grad(g[..., k].sum(), coords, retain_graph=True)[0][..., k] for k in range(2))
    assert torch.allclose(bumps.laplacian(coords)[..., 0], lap)
    img = bumps.images((6, 5))
    assert img.shape == (3, 1, 6, 5)
    from funknn.sampling import grid_coords

    centres = grid_coords(6, 5, dtype=torch.float64)[None].expand(3, -1, -1)
    assert torch.allclose(img[1, 0, 2, 3].double(), bumps.values(centres)[1, 2 * 5 + 3, 0])
    with pytest.raises(ValueError, match="sigma_range"):
        GaussianBumps.random(2, sigma_range=(0.0, 0.4))
    with pytest.raises(ValueError, match="shape"):
        GaussianBumps(torch.zeros(3, 2))


def test_ellipse_phantoms_reproducible_and_resolution_consistent():
    from funknn.data import Ellipses, ellipse_phantoms, ellipse_set

    a = ellipse_phantoms("train", 6, 16)
    assert a.shape == (6, 1, 16, 16) and a.min() >= 0 and a.max() <= 1 and a.max() > 0.1
    assert torch.equal(a[:3], ellipse_phantoms("train", 3, 16))          # prefix independent of count
    assert not torch.equal(a[:3], ellipse_phantoms("test", 3, 16))       # splits are other draws
    fine = ellipse_set("train", 6).images(32)
    coarse = F.avg_pool2d(fine, 2)
    assert (coarse - a).abs().mean() < 0.02                              # same phantoms at 2× resolution
    corners = torch.tensor([[[0.99, 0.99], [-0.99, 0.99]]], dtype=torch.float64).expand(6, -1, -1)
    assert (ellipse_set("train", 6).values(corners) == 0).all()          # zero outside the unit disc
    one = Ellipses([torch.tensor([[0.5, 0.4, 0.2, 0.0, 0.0, 0.0]])])
    inside = one.values(torch.tensor([[[0.35, 0.0], [0.0, 0.19], [0.0, 0.25]]]))[0, :, 0]
    assert inside.tolist() == [0.5, 0.5, 0.0]
    with pytest.raises(ValueError, match="shape"):
        Ellipses([torch.zeros(2, 5)])
    with pytest.raises(ValueError, match="split"):
        ellipse_phantoms("extra", 2, 8)
    assert not torch.equal(ellipse_phantoms("validation", 3, 16), a[:3])     # its own draw


def test_ellipse_raster_by_bounding_boxes_equals_the_exact_values():
    from funknn.data import ellipse_set
    from funknn.sampling import grid_coords

    phantoms = ellipse_set("test", 12)
    fast = phantoms.images((20, 24), supersample=3)
    points = grid_coords(60, 72, dtype=torch.float64).unsqueeze(0).expand(12, -1, -1)
    exact = F.avg_pool2d(phantoms.values(points)[..., 0].reshape(12, 1, 60, 72), 3).float()
    assert torch.allclose(fast, exact, atol=1e-6) and fast.abs().sum() > 0

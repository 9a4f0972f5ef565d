"""funknn.inverse.baselines: the classical baselines (TV least squares for CT, Poisson + TV for
derivatives) and the pixel gradient."""

import pytest
import torch

from funknn.inverse import pixel_gradient, poisson_tv, total_variation
from funknn.metrics import si_snr
from funknn.physics import grid_locations


def test_total_variation_and_pixel_gradient():
    flat = torch.ones(2, 1, 8, 8)
    assert torch.allclose(total_variation(flat), torch.full((2,), 1e-4))
    coords = grid_locations(8, 1)
    ramp = (0.3 * coords[0, :, 0] - 0.2 * coords[0, :, 1]).reshape(1, 1, 8, 8)
    g = pixel_gradient(ramp)
    assert g.shape == (1, 64, 1, 2)
    assert torch.allclose(g[..., 0], torch.full((1, 64, 1), 0.3), atol=1e-5)
    assert torch.allclose(g[..., 1], torch.full((1, 64, 1), -0.2), atol=1e-5)


def test_poisson_integration_recovers_up_to_a_constant():
    coords = grid_locations(16, 1)
    x, yy = coords[0, :, 0], coords[0, :, 1]
    image = torch.exp(-(x ** 2 + yy ** 2) / 0.2).reshape(1, 1, 16, 16)
    g = pixel_gradient(image)
    rec = poisson_tv(g, None, 16, steps=1500, lr=5e-2)
    assert si_snr(rec, image) > 25
    mask = torch.zeros(1, 256, dtype=torch.bool)
    mask[:, ::2] = True
    assert si_snr(poisson_tv(g, mask, 16, tv_weight=1e-3, steps=800, lr=5e-2), image) > 10
    with pytest.raises(ValueError, match="locations"):
        poisson_tv(g[:, :100], None, 16)
    # a batch: each image as alone (relative scales are per image), though their gradients differ 10×
    pair, masks = torch.cat([g, 10 * g.roll(7, 1)]), torch.cat([mask, mask.roll(3, 1)])
    both = poisson_tv(pair, masks, 16, tv_weight=0.05, steps=30, lr=5e-2)
    for i in range(2):
        alone = poisson_tv(pair[i:i + 1], masks[i:i + 1], 16, tv_weight=0.05, steps=30, lr=5e-2)
        assert torch.allclose(both[i:i + 1], alone, atol=1e-5)

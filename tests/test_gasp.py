"""GASP, the continuous GAN baseline (funknn.models.gasp); its training: tests/tasks/test_gasp.py."""

import pytest
import torch

import funknn
from funknn.derivatives import derivatives, gradient
from funknn.inverse import DerivativeProblem, SolverConfig, solve
from funknn.metrics import si_snr
from funknn.models import GASP, build
from funknn.models.gasp import (
    discriminator_loss,
    farthest_points,
    generator_loss,
    r1_penalty,
)
from funknn.physics import grid_locations
from funknn.sampling import grid_coords

SMALL = dict(image_size=16, latent_dim=8, frequencies=8, hidden=(16, 16), hypernet=(32,),
             disc_channels=(8, 16))


def _gasp(**kw):
    torch.manual_seed(0)
    return GASP(**{**SMALL, **kw}).eval()


def test_shapes_and_any_resolution_rendering():
    g = _gasp()
    z = g.noise(3, torch.Generator().manual_seed(0))
    weights = g.low_resolution(z)
    assert weights.shape == (3, g.function.num_weights, 1, 1)
    assert g.function.num_weights == 16 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    for size in (16, 40, (24, 10)):
        image = g.generate(z, size).detach()
        expected = (size, size) if isinstance(size, int) else size
        assert image.shape == (3, 1, *expected)
        assert float(image.min()) > 0 and float(image.max()) < 1            # the Tanh mapped to (0, 1)
        # the library's renderer takes the function and its weights as it takes FunkNN and an image
        assert torch.allclose(funknn.render(g.coordinate_model, weights, size), image, atol=1e-6)
    # a pixel of the 2× grid is the function at that pixel's centre
    coords = grid_coords(32, 32)[None, [0, 100, 1023]].expand(3, -1, -1)
    fine = g.generate(z, 32).flatten(2).transpose(1, 2)[:, [0, 100, 1023]]
    assert torch.allclose(g(coords, z), fine, atol=1e-6)
    assert g.discriminate(g.generate(z)).shape == (3,)
    assert g.sample(2, 8).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="noise"):
        g.low_resolution(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="weights"):
        g.function(coords, weights[:, :-1])
    with pytest.raises(ValueError, match="discriminator"):
        g.discriminate(torch.rand(2, 1, 8, 8))


def test_untrained_generator_draws_different_well_scaled_functions():
    g = _gasp()
    x = g.sample(8, generator=torch.Generator().manual_seed(1))
    assert float(x.std(0).mean()) > 1e-3                                  # samples differ
    assert 0.2 < float(x.mean()) < 0.8


def test_derivatives_by_autograd_match_finite_differences():
    g = GASP(**SMALL).double().eval()
    weights = g.low_resolution(torch.randn(2, 8, dtype=torch.float64))
    coords = (torch.rand(2, 50, 2, dtype=torch.float64) * 1.8 - 0.9)
    grad = gradient(g.function, weights, coords)                       # (2, 50, 1, 2)
    h = 1e-6
    for axis in range(2):
        step = torch.zeros(2, dtype=torch.float64)
        step[axis] = h
        fd = (g.function(coords + step, weights) - g.function(coords - step, weights)) / (2 * h)
        assert torch.allclose(grad[..., axis], fd, atol=1e-6, rtol=1e-5)
    # the Laplacian exists and comes only through the Fourier features (LeakyReLU is piecewise linear)
    _, _, lap = derivatives(g.function, weights, coords, order=2)
    assert lap is not None and lap.shape == (2, 50, 1) and torch.isfinite(lap).all()


def test_r1_penalty_against_hand_computed_cases():
    a = torch.randn(1, 1, 4, 4)
    real = torch.rand(3, 1, 4, 4)

    def linear(x):
        return (a * x).flatten(1).sum(1)

    def quadratic(x):
        return x.pow(2).flatten(1).sum(1)

    assert torch.allclose(r1_penalty(linear, real), a.pow(2).sum())            # ∇D = a
    expected = (2 * real).pow(2).flatten(1).sum(1).mean()                      # ∇D = 2x
    assert torch.allclose(r1_penalty(quadratic, real), expected)
    # the GAN losses at known logits
    zero = torch.zeros(4)
    assert torch.isclose(discriminator_loss(zero, zero), torch.tensor(2 * 0.6931472), atol=1e-6)
    assert torch.isclose(generator_loss(zero), torch.tensor(0.6931472), atol=1e-6)


def test_nearest_neighbours_in_chunks_equal_all_at_once():
    from funknn.models.gasp import nearest

    pts = grid_coords(12, 12)
    dist = torch.cdist(pts, pts)
    smallest = dist.topk(5, dim=1, largest=False).values                  # ties may pick other points
    assert torch.allclose(dist.gather(1, nearest(pts, pts, 5, chunk=7)).sort(1).values, smallest, atol=1e-6)
    assert torch.equal(nearest(pts, pts, 1)[:, 0], torch.arange(len(pts)))     # each point is its own nearest


def test_farthest_point_sampling_spreads_points():
    pts = grid_coords(8, 8)
    idx = farthest_points(pts, 4)
    assert len(set(idx.tolist())) == 4
    chosen = pts[idx]
    assert float(torch.cdist(chosen, chosen).add(torch.eye(4) * 9).min()) > 1.0   # far apart
    with pytest.raises(ValueError, match="choose"):
        farthest_points(pts, 65)


def test_latent_solver_accepts_the_gan_prior():
    g = _gasp()
    z = 0.8 * torch.randn(2, 8, generator=torch.Generator().manual_seed(3))
    coords = grid_locations(16, 2)
    with torch.no_grad():
        truth = g.generate(z)
    grads = gradient(g.function, g.low_resolution(z), coords)
    problem = DerivativeProblem(coords, grads, 16, batch_points=128)
    before = [p.clone() for p in g.parameters()]
    out = solve(g, problem, SolverConfig(steps=80, lr=5e-2, record_every=40, tv_weight=0.01), truth=truth,
                metric=si_snr, progress=False)
    h = out["history"]
    assert out["image"].shape == (2, 1, 16, 16) and h["loss"][-1] < h["loss"][0]
    assert all(torch.equal(a, b) for a, b in zip(before, g.parameters()))
    with pytest.raises(ValueError, match="latent space only"):
        solve(g, problem, SolverConfig(steps=1, finetune_steps=1), progress=False)


def test_registry_and_config_round_trip():
    g = build("gasp", **SMALL)
    assert isinstance(g, GASP) and g.config["disc_channels"] == [8, 16]
    again = GASP(**g.config)
    assert again.function.num_weights == g.function.num_weights

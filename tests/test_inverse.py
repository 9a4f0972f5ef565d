import pytest
import torch

from funknn.derivatives import gradient
from funknn.generative import ContinuousGenerator
from funknn.inverse import (
    CTProblem,
    DerivativeProblem,
    SolverConfig,
    pixel_gradient,
    poisson_tv,
    solve,
    total_variation,
    tv_least_squares,
)
from funknn.metrics import si_snr, snr
from funknn.models import Autoencoder, FunkNN, RealNVP
from funknn.physics import LimitedViewCT, grid_locations


def _generator():
    torch.manual_seed(0)
    ae = Autoencoder(1, image_size=16, latent_dim=8, width=4, max_width=8).eval()
    flow = RealNVP(8, blocks=1, hidden=(16,)).eval()
    return ContinuousGenerator(ae, flow, FunkNN(1, network="mlp", kernel="cubic_conv").eval())


def _measured(G, count, n, seed):
    """Latent noise of ``count`` images of the generator, their renderings at n×n and the exact
    gradients of the generator's continuous images at the n×n pixel centres."""
    ws = 0.8 * torch.randn(count, 8, generator=torch.Generator().manual_seed(seed))
    coords = grid_locations(n, count)
    with torch.no_grad():
        truth = G.render(ws, n)
    return ws, coords, truth, gradient(G.funknn, G.low_resolution(ws), coords)


def test_total_variation_and_pixel_gradient():
    flat = torch.ones(2, 1, 8, 8)
    assert torch.allclose(total_variation(flat), torch.full((2,), 1e-4))
    coords = grid_locations(8, 1)
    ramp = (0.3 * coords[0, :, 0] - 0.2 * coords[0, :, 1]).reshape(1, 1, 8, 8)
    g = pixel_gradient(ramp)
    assert g.shape == (1, 64, 1, 2)
    assert torch.allclose(g[..., 0], torch.full((1, 64, 1), 0.3), atol=1e-5)
    assert torch.allclose(g[..., 1], torch.full((1, 64, 1), -0.2), atol=1e-5)


def test_solver_recovers_a_generated_image_from_its_derivatives():
    G = _generator()
    _, coords, truth, grads = _measured(G, 1, 24, seed=3)
    problem = DerivativeProblem(coords, grads, 24, batch_points=256)
    before = [p.clone() for p in G.parameters()]
    out = solve(G, problem, SolverConfig(steps=150, lr=5e-2, record_every=50, finetune_steps=10),
                truth=truth, metric=si_snr, progress=False)
    h = out["history"]
    assert out["image"].shape == (1, 1, 24, 24) and out["noise"].shape == (1, 8)
    assert h["snr"][-1] > h["snr"][0] + 3 and h["phase"][-1] == "decoder" and len(h["loss"]) == 160
    assert all(torch.equal(a, b) for a, b in zip(before, G.parameters()))      # the prior is unchanged
    assert out["latent_image"].shape == out["image"].shape and h["snr_per_image"][-1] == [h["snr"][-1]]
    with pytest.raises(ValueError, match="init"):
        solve(G, problem, SolverConfig(steps=1), init=torch.zeros(2, 8), progress=False)
    with pytest.raises(ValueError, match="gradients"):
        DerivativeProblem(coords, grads[:, :10], 24)
    with pytest.raises(ValueError, match="batch_points"):
        DerivativeProblem(coords, grads, 24, batch_points=0)


def test_ct_solver_and_classical_baselines():
    G = _generator()
    ct = LimitedViewCT(16, 30)
    target_w = 0.8 * torch.randn(1, 8, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        truth = G.render(target_w, 16)
    y = ct.A(truth)
    out = solve(G, CTProblem(ct, y), SolverConfig(steps=120, lr=5e-2, record_every=40, tv_weight=1e-4),
                truth=truth, progress=False)
    assert out["history"]["snr"][-1] > out["history"]["snr"][0] + 3
    tv = tv_least_squares(ct, y, tv_weight=1e-4, steps=150, nonnegative=False)   # this truth is signed
    assert tv.shape == truth.shape
    assert snr(tv, truth) > snr(ct.fbp(y), truth)
    assert tv_least_squares(ct, y, steps=5).min() >= 0
    with pytest.raises(ValueError, match="measurements"):
        CTProblem(ct, y[..., :-1])


def test_a_batch_of_images_is_solved_as_each_would_be_alone():
    """Latent phase and decoder fine-tuning: B images at once equal B separate solves (up to a
    constant: derivatives do not see the decoder's output bias, whose gradient is rounding noise
    that Adam's normalisation turns into steps of any sign)."""
    G = _generator()
    _, coords, truth, grads = _measured(G, 3, 12, seed=5)
    config = SolverConfig(steps=6, lr=5e-2, finetune_steps=4, finetune_lr=1e-3, tv_weight=0.1, record_every=5)
    together = solve(G, DerivativeProblem(coords, grads, 12), config, truth=truth, metric=si_snr,
                     progress=False)
    for i in range(3):
        alone = solve(G, DerivativeProblem(coords[i:i + 1], grads[i:i + 1], 12), config, truth=truth[i:i + 1],
                      metric=si_snr, progress=False)
        for key in ("image", "latent_image", "noise", "low"):
            a, b = together[key][i:i + 1], alone[key]
            if key in ("image", "low"):
                a, b = a - a.mean(), b - b.mean()
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-3), key
        per_image = [v[i] for v in together["history"]["snr_per_image"]]
        assert per_image == pytest.approx(alone["history"]["snr"], abs=1e-2)
    assert not torch.allclose(together["image"], together["latent_image"])     # fine-tuning did something


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


def test_solve_leaves_the_prior_untouched_weights_flags_and_grads():
    G = _generator()
    G.funknn.net.fc_in.weight.requires_grad_(False)    # a caller's own choice of frozen weights
    flags = [p.requires_grad for p in G.parameters()]
    before = [p.clone() for p in G.parameters()]
    coords = grid_locations(12, 1)
    with torch.no_grad():
        grads = gradient(G.funknn, G.low_resolution(torch.randn(1, 8)), coords)
    solve(G, DerivativeProblem(coords, grads, 12), SolverConfig(steps=3, finetune_steps=3), progress=False)
    assert [p.requires_grad for p in G.parameters()] == flags
    assert all(torch.equal(a, b) for a, b in zip(before, G.parameters()))
    assert all(p.grad is None for p in G.parameters())


def test_relative_regularisation_scales_are_unit_free():
    from funknn.inverse import mean_gradient_magnitude

    coords = grid_locations(32, 1)
    for n in (16, 48):                    # a ramp's mean |∇u| in coordinates, at any resolution
        grid = grid_locations(n, 1)[0]
        ramp = (0.3 * grid[:, 0] - 0.4 * grid[:, 1]).reshape(1, 1, n, n)
        assert torch.allclose(mean_gradient_magnitude(ramp), torch.tensor([0.5]), atol=1e-4)
    g = torch.randn(1, coords.shape[1], 1, 2)
    p, p10 = DerivativeProblem(coords, g, 32), DerivativeProblem(coords, 10 * g, 32)
    assert abs(float(p10.data_scale / p.data_scale) - 100) < 1e-3
    assert abs(float(p10.tv_scale / p.tv_scale) - 10) < 1e-4
    assert abs(float(p.tv_scale) - float(g.norm(dim=-1).mean())) < 1e-5
    with pytest.raises(ValueError, match="scale"):
        SolverConfig(scale="log")
    with pytest.raises(ValueError, match="scale"):
        poisson_tv(g.expand(1, -1, -1, -1), None, 32, scale="log")

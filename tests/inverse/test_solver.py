"""funknn.inverse.solver: the latent-space solver with a continuous generative prior, and what the
prior lets it fine-tune."""

import pytest
import torch

from funknn.derivatives import gradient
from funknn.generative import ContinuousGenerator
from funknn.inverse import (
    CTProblem,
    DerivativeProblem,
    FineTuning,
    SolverConfig,
    solve,
    tv_least_squares,
)
from funknn.metrics import si_snr, snr
from funknn.models import GASP, Autoencoder, FunkNN, RealNVP
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


def test_the_solver_fine_tunes_what_the_prior_names():
    G = _generator()
    tuning = G.fine_tuning()
    assert isinstance(tuning, FineTuning)
    named = dict(tuning.module.named_parameters())
    parts = (G.autoencoder.from_latent, G.autoencoder.decoder)
    decoder = {id(p) for part in parts for p in part.parameters()}
    assert {id(named[k]) for k in tuning.trained} == decoder and len(tuning.trained) == len(decoder)
    w = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.allclose(tuning.module(tuning.inputs(w)), G.low_resolution(w))
    gasp = GASP(image_size=16, latent_dim=8, frequencies=8, hidden=(16,), hypernet=(32,),
                disc_channels=(8, 16))
    assert gasp.fine_tuning() is None

    class LastLayerOnly(ContinuousGenerator):          # a prior that fine-tunes its last layer only
        def fine_tuning(self):
            full = super().fine_tuning()
            return FineTuning(full.module, full.trained[-2:], full.inputs)

    last = LastLayerOnly(G.autoencoder, G.flow, G.funknn)
    _, coords, truth, grads = _measured(G, 1, 12, seed=2)
    problem = DerivativeProblem(coords, grads, 12)
    config = SolverConfig(steps=3, finetune_steps=3, finetune_lr=1e-2)
    out, full = (solve(prior, problem, config, progress=False) for prior in (last, G))
    assert torch.equal(out["latent_image"], full["latent_image"])         # the same latent phase
    assert not torch.allclose(out["image"], out["latent_image"])
    assert not torch.allclose(out["image"], full["image"])

    class Unknown(ContinuousGenerator):
        def fine_tuning(self):
            return FineTuning(super().fine_tuning().module, ("no.such.weight",), self.flow)

    with pytest.raises(ValueError, match="fine_tuning: trained must name parameters"):
        solve(Unknown(G.autoencoder, G.flow, G.funknn), problem, config, progress=False)

"""GASP, the continuous GAN baseline (funknn.models.gasp); its training: tests/tasks/test_gasp.py."""

import pytest
import torch

import funknn
from funknn.derivatives import derivatives, gradient
from funknn.inverse import DerivativeProblem, SolverConfig, solve
from funknn.metrics import si_snr
from funknn.models import GASP, build
from funknn.models.gasp import (
    PositionNorm,
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


#: every opt-in option of GASP's published structure, on
PUBLISHED = dict(disc_batchnorm=True, disc_pool="mean", weightnet_depth=4, weightnet_batchnorm=True,
                 weightnet_final_activation=True, generator_slope=0.1)


def test_default_structure_keeps_the_shipped_state_dict_keys():
    g = _gasp()
    disc = {k for k in g.state_dict() if k.startswith("discriminator.")}
    # the weight networks are Linear, LeakyReLU, Linear: indices 0 and 2, as the shipped checkpoint's
    assert {k.split("weightnet.")[1] for k in disc if "weightnet" in k} == {"0.weight", "0.bias", "2.weight",
                                                                            "2.bias"}
    assert not any("norm" in k for k in g.state_dict())
    assert g.discriminator.pool == "max" and g.function.slope == 0.2
    # the options at their defaults build the same model, weight for weight
    torch.manual_seed(0)
    same = GASP(**SMALL, disc_batchnorm=False, disc_pool="max", weightnet_depth=2, weightnet_batchnorm=False,
                weightnet_final_activation=False, generator_slope=0.2).eval()
    assert g.state_dict().keys() == same.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), same.state_dict().values()))


def test_published_options_change_the_structure():
    g = _gasp(weightnet=4, **PUBLISHED)
    net = g.discriminator.head.weightnet
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4 and all(m.out_features == 4 for m in linears)
    assert isinstance(net[-1], torch.nn.LeakyReLU)                           # activated last layer too
    assert sum(isinstance(m, PositionNorm) for m in net.modules()) == 4
    norms = g.discriminator.norms
    assert [n.num_features for n in norms] == list(SMALL["disc_channels"])  # none after the last PointConv
    assert g.hypernetwork[1].negative_slope == 0.1 and g.function.slope == 0.1
    assert GASP(**g.config).state_dict().keys() == g.state_dict().keys()   # the config rebuilds it
    x = torch.rand(3, 1, 16, 16)
    assert g.discriminate(x).shape == (3,)
    # the weight networks' norm sees only the fixed positions: train and eval mode agree
    rel = g.discriminator.convs[0].rel
    w_eval = g.discriminator.convs[0].weightnet.eval()(rel)
    w_train = g.discriminator.convs[0].weightnet.train()(rel)
    assert torch.allclose(w_eval, w_train)
    # the discriminator's norm uses batch statistics in train mode: R1 is differentiable through them
    g.train()
    r1 = r1_penalty(g.discriminator, x)
    assert r1.requires_grad and torch.isfinite(r1)
    r1.backward()
    assert all(p.grad is not None for p in g.discriminator.norms.parameters())


def test_mean_pooling_and_the_slope_change_the_outputs():
    base, mean = _gasp(), _gasp(disc_pool="mean")
    assert mean.state_dict().keys() == base.state_dict().keys()
    x = torch.rand(2, 1, 16, 16)
    assert not torch.allclose(base.discriminate(x), mean.discriminate(x))
    z = torch.randn(2, 8)
    assert not torch.allclose(base.generate(z), _gasp(generator_slope=0.1).generate(z))


@pytest.mark.parametrize("option, value", [("disc_pool", "median"), ("weightnet_depth", 0), ("weightnet", 0),
                                           ("generator_slope", 1.5), ("generator_slope", -0.1),
                                           ("disc_channels", (8, 0)), ("neighbours", 0)])
def test_bad_structure_options_raise_naming_the_option(option, value):
    with pytest.raises(ValueError, match=option):
        GASP(**{**SMALL, option: value})


def test_the_published_structure_changes_the_shipped_recipe():
    from funknn.config import RunSpec, recipe
    from funknn.models.gasp import PUBLISHED_64

    assert {k: PUBLISHED_64[k] for k in PUBLISHED} == PUBLISHED
    spec = recipe("ellipses64_gasp").changed(PUBLISHED_64)
    args = spec.model.complete()
    assert (args["frequencies"], list(args["hidden"]), list(args["hypernet"]), args["weightnet"]) == (
        128, [128] * 3, [256, 512], 16)
    assert list(args["disc_channels"]) == [64, 128, 256, 512]
    small = GASP(image_size=16, **{**PUBLISHED_64, "hypernet": (16,), "disc_channels": (8, 8, 8, 8)})
    assert small.function.num_weights == 2 * 128 * 128 + 128 + 2 * (128 * 128 + 128) + 128 + 1
    with pytest.raises(ValueError, match="disc_pool"):
        RunSpec.from_dict({"task": "gasp", "model": {"name": "gasp", "disc_pool": "median"}})


def test_position_norm_is_batch_norm_with_exact_statistics():
    x = torch.randn(5, 3, 4)
    norm = PositionNorm(4)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2)
        norm.bias.uniform_(-1, 1)
    reference = torch.nn.BatchNorm1d(4).train()
    reference.load_state_dict({"weight": norm.weight.data, "bias": norm.bias.data}, strict=False)
    expected = reference(x.reshape(-1, 4)).view_as(x)
    assert torch.allclose(norm(x), expected, atol=1e-5)
    assert torch.allclose(norm.eval()(x), expected, atol=1e-5)             # no running statistics
    assert torch.allclose(norm(x[:1, :1]), norm.bias.expand(1, 1, 4))       # one position: β
    # the published structure on a grid so small that the last PointConv sees a single point
    g = _gasp(image_size=16, disc_channels=(4, 4, 4, 4), weightnet=4, **PUBLISHED).train()
    assert g.discriminate(torch.rand(2, 1, 16, 16)).shape == (2,)

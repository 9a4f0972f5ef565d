import math

import pytest
import torch

import funknn
from funknn.generative import (
    ContinuousGenerator,
    FitConfig,
)
from funknn.models import Autoencoder, FunkNN, RealNVP
from funknn.models.autoencoder import VGGPerceptualLoss, laplacian_pyramid, laplacian_pyramid_loss


def test_autoencoder_shapes_and_errors():
    ae = Autoencoder(1, image_size=32, latent_dim=10, width=4, max_width=8)
    x = torch.rand(3, 1, 32, 32)
    assert ae.encode(x).shape == (3, 10) and ae(x).shape == x.shape
    with pytest.raises(ValueError, match="images must have shape"):
        ae.encode(torch.rand(3, 1, 16, 16))
    with pytest.raises(ValueError, match="codes must have shape"):
        ae.decode(torch.rand(3, 9))
    with pytest.raises(ValueError, match="power of two"):
        Autoencoder(1, image_size=48)


def test_laplacian_pyramid_bands_sum_back_and_loss_sees_edges():
    x = torch.rand(2, 1, 32, 32)
    bands = laplacian_pyramid(x, levels=3)
    assert [b.shape[-1] for b in bands] == [32, 16, 8, 4, 4][:4]
    # rebuilding: up-sample the residual and add the bands back
    import torch.nn.functional as F

    current = bands[-1]
    for band in reversed(bands[:-1]):
        current = F.interpolate(current, size=band.shape[-2:], mode="bilinear", align_corners=False) + band
    assert torch.allclose(current, x, atol=1e-5)
    assert laplacian_pyramid_loss(x, x) == 0
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    shifted = x + (blurred - x).mean()           # the same mean error, no loss of detail
    assert laplacian_pyramid_loss(blurred, x) > 2 * laplacian_pyramid_loss(shifted, x)


def test_vgg_loss_needs_a_local_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="downloads nothing"):
        VGGPerceptualLoss(tmp_path / "vgg16.pth")
    with pytest.raises(ValueError, match="vgg_weights"):
        FitConfig(perceptual="vgg")
    # a file in torchvision's format (random weights) loads and gives a differentiable loss
    shapes = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256),
              14: (256, 256)}
    state = {}
    for i, (o, c) in shapes.items():
        state[f"features.{i}.weight"] = torch.randn(o, c, 3, 3) * 0.05
        state[f"features.{i}.bias"] = torch.zeros(o)
    state["classifier.0.weight"] = torch.zeros(2, 2)
    torch.save(state, tmp_path / "vgg16.pth")
    vgg = VGGPerceptualLoss(tmp_path / "vgg16.pth")
    a = torch.rand(1, 1, 16, 16, requires_grad=True)
    loss = vgg(a, torch.rand(1, 1, 16, 16))
    loss.backward()
    assert loss > 0 and a.grad.abs().sum() > 0
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="vgg16"):
        VGGPerceptualLoss(tmp_path / "bad.pth")


def _trained_flow(dim=6):
    flow = RealNVP(dim, blocks=2, hidden=(16, 16))
    flow.train()
    flow.inverse(torch.randn(64, dim) * 3 + 1)         # initialises ActNorm from data
    for p in flow.parameters():                        # perturb so that every coupling is non-trivial
        p.data.add_(0.1 * torch.randn_like(p))
    return flow.eval()


def test_flow_is_invertible_and_log_det_matches_autograd():
    flow = _trained_flow().double()
    z = torch.randn(5, 6, dtype=torch.float64)
    noise, log_det = flow.inverse(z)
    assert torch.allclose(flow(noise), z, atol=1e-10)
    for i in range(5):
        jac = torch.autograd.functional.jacobian(lambda v: flow.inverse(v[None])[0][0], z[i])
        assert torch.allclose(torch.logdet(jac), log_det[i], atol=1e-8)
    with pytest.raises(ValueError, match="codes must have shape"):
        flow.inverse(torch.zeros(2, 5, dtype=torch.float64))


def test_untrained_flow_is_a_standard_normal():
    flow = RealNVP(4, blocks=1, hidden=(8,)).eval()
    z = torch.randn(7, 4)
    expected = -0.5 * (z ** 2).sum(1) - 2 * math.log(2 * math.pi)
    assert torch.allclose(flow.log_prob(z), expected, atol=1e-5)


def test_continuous_generator_samples_any_size_with_derivatives():
    ae = Autoencoder(1, image_size=16, latent_dim=6, width=4, max_width=8).eval()
    flow = RealNVP(6, blocks=1, hidden=(8,)).eval()
    G = ContinuousGenerator(ae, flow, FunkNN(1, network="mlp", kernel="cubic_conv").eval())
    g = torch.Generator().manual_seed(0)
    assert G.sample(2, size=40, generator=g).shape == (2, 1, 40, 40)
    assert G.sample(2).shape == (2, 1, 16, 16)
    noise = G.noise(2, torch.Generator().manual_seed(0)).requires_grad_(True)
    coords = torch.rand(2, 9, 2) * 2 - 1
    u, grad, lap = G.derivatives(noise, coords, order=2, create_graph=True)
    assert u.shape == (2, 9, 1) and grad.shape == (2, 9, 1, 2) and lap.shape == (2, 9, 1)
    (grad.square().sum() + lap.square().sum()).backward()
    assert noise.grad is not None and noise.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="latent_dim"):
        ContinuousGenerator(ae, RealNVP(5, blocks=1, hidden=(8,)), FunkNN(1))
    with pytest.raises(ValueError, match="channels"):
        ContinuousGenerator(ae, flow, FunkNN(3))


def test_spatial_code_autoencoder():
    ae = Autoencoder(1, image_size=32, latent_dim=64, width=4, max_width=8, bottleneck=8, spatial=True)
    x = torch.rand(2, 1, 32, 32)
    assert ae.encode(x).shape == (2, 64) and ae(x).shape == x.shape
    assert ae.config["spatial"] is True and Autoencoder(1, 32, 8).config["spatial"] is False
    with pytest.raises(ValueError, match="divisible"):
        Autoencoder(1, image_size=32, latent_dim=60, bottleneck=8, spatial=True)
    with pytest.raises(ValueError, match="bottleneck"):
        Autoencoder(1, image_size=32, bottleneck=3)


def test_load_prior_from_a_folder_and_errors(tmp_path):
    from funknn.generative import load_prior

    ae = Autoencoder(1, image_size=16, latent_dim=6, width=4, max_width=8)
    funknn.save(ae, tmp_path / "autoencoder.pt")
    funknn.save(RealNVP(6, blocks=1, hidden=(8,)), tmp_path / "flow.pt")
    with pytest.raises(FileNotFoundError, match="funknn.pt"):
        load_prior(tmp_path)
    funknn.save(FunkNN(1, network="mlp"), tmp_path / "funknn.pt")
    G = load_prior(tmp_path)
    assert G.low_size == 16 and not G.training


def test_flow_coupling_blocks_the_papers_and_ours():
    paper, ours = RealNVP(16, blocks=5, hidden=(32,)), RealNVP(16, blocks=5, hidden=(32,), couplings=2)
    assert len(paper.layers) == 10 and len(ours.layers) == 15
    assert funknn.count_parameters(ours) > 1.8 * funknn.count_parameters(paper)
    z = torch.randn(6, 16)
    for flow in (paper, ours):
        for p in flow.parameters():       # leave the identity start: an invertibility check
            torch.nn.init.normal_(p, std=0.05)
        noise, _ = flow.inverse(z)
        assert torch.allclose(flow(noise), z, atol=1e-5)
    with pytest.raises(ValueError, match="couplings"):
        RealNVP(16, couplings=3)

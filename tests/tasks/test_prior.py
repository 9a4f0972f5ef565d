"""Training the generative prior's autoencoder and flow on the engine (funknn.tasks.prior)."""

import pytest
import torch

import funknn
from funknn.generative import encode
from funknn.models import Autoencoder, RealNVP
from funknn.models.flow import gaussian_nll_bits_per_dim
from funknn.tasks.prior import FitConfig, autoencoder_loss, train_autoencoder, train_flow


def test_flow_training_beats_a_diagonal_gaussian_on_correlated_data(tmp_path):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2000, 2, generator=g)
    data = torch.stack([w[:, 0], w[:, 0] ** 2 + 0.1 * w[:, 1]], dim=1)   # a banana: not Gaussian
    flow = RealNVP(2, blocks=4, hidden=(32, 32))
    config = FitConfig(steps=300, batch=256, lr=3e-3, checkpoint_every=100, perceptual="none")
    train_flow(flow, data[:1500], config, checkpoint=tmp_path / "f.pt", progress=False)
    with torch.no_grad():
        nll = float(flow.nll_bits_per_dim(data[1500:]))
    gauss = gaussian_nll_bits_per_dim(data[:1500], data[1500:])
    assert nll < gauss - 0.2
    loaded = funknn.load(tmp_path / "f.pt")
    assert torch.allclose(loaded.log_prob(data[:4]), flow.log_prob(data[:4]))
    assert loaded.sample(3, torch.Generator().manual_seed(1)).shape == (3, 2)



def test_autoencoder_training_resumes_exactly(tmp_path):
    images = funknn.data.ellipse_phantoms("train", 16, 16)
    config = FitConfig(steps=4, batch=4, lr=1e-3, checkpoint_every=2)
    torch.manual_seed(0)
    a = Autoencoder(1, 16, 8, width=4, max_width=8)
    full = train_autoencoder(a, images, config, checkpoint=tmp_path / "a.pt", progress=False)
    torch.manual_seed(0)
    b = Autoencoder(1, 16, 8, width=4, max_width=8)
    train_autoencoder(b, images, FitConfig(steps=2, batch=4, lr=1e-3, checkpoint_every=2),
                      checkpoint=tmp_path / "b.pt", progress=False)
    torch.manual_seed(1)
    c = Autoencoder(1, 16, 8, width=4, max_width=8)
    resumed = train_autoencoder(c, images, config, checkpoint=tmp_path / "b.pt", progress=False)
    assert resumed["loss"] == full["loss"]
    for p, q in zip(a.parameters(), c.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="differ"):
        train_autoencoder(c, images, FitConfig(steps=6, batch=2, checkpoint_every=2),
                          checkpoint=tmp_path / "b.pt", progress=False)
    assert encode(c, images).shape == (16, 8)
    assert autoencoder_loss(c, images[:2], FitConfig(perceptual="none")) > 0



def test_learning_rate_drop_is_followed_and_resumes_exactly(tmp_path):
    from funknn.engine.records import learning_rate

    images = torch.rand(8, 1, 16, 16)
    config = FitConfig(steps=4, batch=4, lr=1e-2, lr_drop_at=2, lr_drop=0.1, checkpoint_every=1,
                       perceptual="none")
    assert [learning_rate(config, s) for s in range(4)] == [1e-2, 1e-2, 1e-2 * 0.1, 1e-2 * 0.1]
    torch.manual_seed(0)
    straight = Autoencoder(1, image_size=16, latent_dim=4, width=4, max_width=8)
    init = {k: v.clone() for k, v in straight.state_dict().items()}
    train_autoencoder(straight, images, config, checkpoint=tmp_path / "a.pt", progress=False)
    record = funknn.checkpoints.read(tmp_path / "a.pt")
    assert record["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3)
    halves = Autoencoder(1, image_size=16, latent_dim=4, width=4, max_width=8)
    halves.load_state_dict(init)
    three = FitConfig(**{**config.__dict__, "steps": 3})
    train_autoencoder(halves, images, three, checkpoint=tmp_path / "b.pt", progress=False)
    train_autoencoder(halves, images, config, checkpoint=tmp_path / "b.pt", progress=False)   # resumes at 3
    pairs = zip(straight.state_dict().values(), halves.state_dict().values())
    assert all(torch.equal(a, b) for a, b in pairs)
    with pytest.raises(ValueError, match="lr_drop"):
        FitConfig(lr_drop=0)

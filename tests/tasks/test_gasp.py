"""Training GASP on the engine (funknn.tasks.gasp): both optimisers in the shared loop, resuming."""

import pytest
import torch

import funknn
from funknn.checkpoints import read
from funknn.models import GASP
from funknn.models.gasp import discriminator_loss
from funknn.tasks.gasp import GASPConfig, train_gasp

SMALL = dict(image_size=16, latent_dim=8, frequencies=8, hidden=(16, 16), hypernet=(32,),
             disc_channels=(8, 16))


def _gasp(**kw):
    torch.manual_seed(0)
    return GASP(**{**SMALL, **kw}).eval()


def _real(n=32):
    """Bright squares of random sizes on a dark background, 16²."""
    g = torch.Generator().manual_seed(0)
    images = torch.full((n, 1, 16, 16), 0.1)
    for i in range(n):
        s, x, y = (int(v) for v in torch.randint(3, 8, (3,), generator=g))
        images[i, 0, y:y + s, x:x + s] = 0.9
    return images



def test_a_short_run_teaches_the_discriminator():
    g = _gasp()
    real = _real()
    fixed_fake = g.sample(16, generator=torch.Generator().manual_seed(5))

    def d_loss():
        with torch.no_grad():
            return float(discriminator_loss(g.discriminate(real[:16]), g.discriminate(fixed_fake)))

    before = d_loss()
    history = train_gasp(g, real, GASPConfig(steps=25, batch=8, lr=1e-9, lr_disc=2e-3), progress=False)
    assert len(history["d_loss"]) == 25 and len(history["g_loss"]) == 25
    assert d_loss() < before - 0.1                  # D now tells these real images from the functions
    with pytest.raises(ValueError, match="images"):
        train_gasp(g, torch.rand(4, 1, 8, 8), GASPConfig(steps=1), progress=False)
    with pytest.raises(ValueError, match="r1_every"):
        GASPConfig(r1_every=0)



def test_resume_equals_an_uninterrupted_run(tmp_path):
    real = _real(12)
    config = dict(batch=4, r1_every=2, checkpoint_every=2)
    whole = _gasp()
    h_whole = train_gasp(whole, real, GASPConfig(steps=6, **config), checkpoint=tmp_path / "a.pt",
                         progress=False)
    part = _gasp()
    train_gasp(part, real, GASPConfig(steps=3, **config), checkpoint=tmp_path / "b.pt", progress=False)
    resumed = _gasp()
    h_resumed = train_gasp(resumed, real, GASPConfig(steps=6, **config), checkpoint=tmp_path / "b.pt",
                           progress=False)
    assert h_resumed["step"] == list(range(1, 7))
    assert h_resumed["d_loss"] == pytest.approx(h_whole["d_loss"], rel=1e-5)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    assert read(tmp_path / "b.pt")["step"] == 6
    loaded = funknn.load(tmp_path / "b.pt")
    assert isinstance(loaded, GASP) and torch.equal(loaded.function.freqs, whole.function.freqs)
    with pytest.raises(ValueError, match="settings"):
        train_gasp(_gasp(), real, GASPConfig(steps=8, **{**config, "batch": 3}), checkpoint=tmp_path / "b.pt",
                   progress=False)
    with pytest.raises(ValueError, match="config"):
        train_gasp(_gasp(latent_dim=4), real, GASPConfig(steps=8, **config), checkpoint=tmp_path / "b.pt",
                   progress=False)


def test_both_optimisers_run_through_the_shared_loop_and_resume_exactly(tmp_path, monkeypatch):
    """N steps equal k steps + a resume to N, bit for bit: weights, both optimisers' states and the
    history; the loop that runs them is the engine's (one Loop over a bundle of two optimisers)."""
    from funknn.engine import Loop
    from funknn.tasks import gasp as task

    loops = []

    class Recorded(Loop):
        def run(self, *args, **kwargs):
            loops.append(self)
            return super().run(*args, **kwargs)

    monkeypatch.setattr(task, "Loop", Recorded)
    real = _real(12)
    config = dict(batch=4, r1_every=2, checkpoint_every=1, r1_weight=1.0)
    whole = _gasp()
    h_whole = train_gasp(whole, real, GASPConfig(steps=5, **config), checkpoint=tmp_path / "a.pt",
                         progress=False, accumulate=2)
    part = _gasp()
    train_gasp(part, real, GASPConfig(steps=2, **config), checkpoint=tmp_path / "b.pt", progress=False,
               accumulate=2)
    resumed = _gasp()
    h_resumed = train_gasp(resumed, real, GASPConfig(steps=5, **config), checkpoint=tmp_path / "b.pt",
                           progress=False, accumulate=2)
    assert len(loops) == 3 and sorted(loops[0].bundle.optimisers) == ["discriminator", "generator"]
    assert h_resumed["step"] == h_whole["step"] == [1, 2, 3, 4, 5]
    assert h_resumed["d_loss"] == h_whole["d_loss"] and h_resumed["g_loss"] == h_whole["g_loss"]
    r1 = [torch.tensor(h["r1"]).nan_to_num(-1.0) for h in (h_resumed, h_whole)]      # NaN: skipped
    assert torch.equal(*r1) and (r1[0] == -1).sum() == 2
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    a, b = read(tmp_path / "a.pt"), read(tmp_path / "b.pt")
    for name in ("generator", "discriminator"):
        for s, t in zip(a["optimizer"][name]["state"].values(), b["optimizer"][name]["state"].values()):
            assert all(torch.equal(s[k], t[k]) for k in s)
    assert a["meta"]["parts"] == 2 and len(a["generators"]) == 2
    assert all(torch.equal(s, t) for s, t in zip(a["generators"], b["generators"]))


def test_gasp_trains_on_every_device_and_precision(tmp_path, device, amp):
    from funknn.models import build

    torch.manual_seed(0)
    g = build("gasp", image_size=8, latent_dim=4, frequencies=8, hidden=[8], hypernet=[16],
              disc_channels=[8, 16], neighbours=4, weightnet=4).to(device)
    images = funknn.data.ellipse_phantoms("train", 8, 8)
    history = train_gasp(g, images, GASPConfig(steps=2, batch=4), checkpoint=tmp_path / "g.pt",
                         progress=False, amp=amp)
    assert all(torch.isfinite(torch.tensor(history["d_loss"] + history["g_loss"] + history["r1"])))
    assert read(tmp_path / "g.pt")["meta"]["amp"] == amp

"""Super-resolution training on the engine (funknn.tasks.super_resolution): pairs, pixel batches,
losses, ``train``, its checkpoints and resuming."""

import pytest
import torch

import funknn
from funknn.checkpoints import read
from funknn.data import embedded_photos
from funknn.tasks.super_resolution import TrainConfig, make_pair, pixel_batch, train


@pytest.fixture(scope="module")
def photos():
    return embedded_photos("train", short_side=48)


def small_config(**kw):
    base = dict(mode="factor", size=32, steps=4, batch_images=4, batch_pixels=64, lr=1e-3,
                checkpoint_every=2, seed=3)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("mode,expect", [("single", (16, 32)), ("continuous", None), ("factor", None)])
def test_make_pair_sizes(mode, expect):
    high = torch.rand(2, 3, 32, 32)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        low, target = make_pair(high, mode, g)
        d, t = low.shape[-1], target.shape[-1]
        if mode == "single":
            assert (d, t) == expect
        elif mode == "continuous":
            assert 8 <= d < 16 and t == 32
        else:
            assert 4 <= d < 16 and t == 2 * d



def test_pixel_batch_values_match_coords():
    target = torch.rand(2, 3, 6, 5)
    coords, values = pixel_batch(target, 10, torch.Generator().manual_seed(0))
    assert coords.shape == (2, 10, 2) and values.shape == (2, 10, 3)
    again = funknn.sample(target, coords, "bilinear")      # pixel centres are exact
    assert torch.allclose(values, again, atol=1e-6)



def test_training_lowers_the_loss(photos):
    from funknn.tasks.super_resolution import image_loss

    torch.manual_seed(0)
    model = funknn.FunkNN(3, network="mlp")
    config = small_config(mode="single", size=32, steps=80, batch_images=8, batch_pixels=256,
                          lr=1e-3, loss="l2")

    def held_out_loss():  # the same fixed batches before and after training
        g = torch.Generator().manual_seed(1234)
        with torch.no_grad():
            return sum(float(image_loss(model, photos, config, g, torch.device("cpu"))) for _ in range(4))

    before = held_out_loss()
    train(model, photos, config, progress=False)
    after = held_out_loss()
    assert after < 0.9 * before, (before, after)



def test_checkpoint_round_trip_and_resume(tmp_path, photos):
    ckpt = tmp_path / "run.pt"
    torch.manual_seed(0)
    straight = funknn.FunkNN(3)
    init = {k: v.clone() for k, v in straight.state_dict().items()}
    train(straight, photos, small_config(steps=4), checkpoint=tmp_path / "straight.pt", progress=False)

    interrupted = funknn.FunkNN(3)
    interrupted.load_state_dict(init)
    train(interrupted, photos, small_config(steps=2), checkpoint=ckpt, progress=False)
    assert read(ckpt)["step"] == 2
    resumed = funknn.FunkNN(3)
    resumed.load_state_dict(init)
    hist = train(resumed, photos, small_config(steps=4), checkpoint=ckpt, progress=False)
    assert hist["step"] == [1, 2, 3, 4]
    for k, v in straight.state_dict().items():
        assert torch.allclose(v, resumed.state_dict()[k], atol=1e-6), k

    loaded = funknn.load(ckpt)
    assert loaded.meta["step"] == 4 and loaded.meta["train_config"]["mode"] == "factor"
    for k, v in resumed.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    assert not loaded.training



def test_resume_refuses_other_settings(tmp_path, photos):
    ckpt = tmp_path / "run.pt"
    train(funknn.FunkNN(3), photos, small_config(steps=2), checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="differ"):
        train(funknn.FunkNN(3), photos, small_config(steps=4, lr=5e-4), checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="config"):
        train(funknn.FunkNN(3, network="mlp"), photos, small_config(steps=4), checkpoint=ckpt,
              progress=False)



def test_bad_config():
    with pytest.raises(ValueError, match="unknown training mode"):
        TrainConfig(mode="random")
    with pytest.raises(ValueError, match="unknown loss"):
        TrainConfig(loss="huber")
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1.0)



def test_training_on_bumps_with_gradient_loss(tmp_path):
    from funknn.data import RandomBumps

    model = funknn.FunkNN(1, kernel="cubic_conv", activation="sine", network="mlp")
    config = small_config(mode="single", size=16, steps=3, batch_images=2, batch_pixels=16,
                          gradient_weight=0.1)
    hist = train(model, RandomBumps(), config, checkpoint=tmp_path / "b.pt", progress=False)
    assert len(hist["loss"]) == 3 and all(torch.isfinite(torch.tensor(hist["loss"])))
    assert funknn.load(tmp_path / "b.pt").config["activation"] == "sine"
    with pytest.raises(ValueError, match="exact derivatives"):
        train(funknn.FunkNN(3), embedded_photos("train", short_side=48), small_config(gradient_weight=1.0),
              progress=False)



def test_laplacian_loss_with_log_l2_and_extrapolation_trains(tmp_path):
    from funknn.data import RandomBumps

    model = funknn.FunkNN(1, kernel="cubic_conv", activation="sine", network="mlp", boundary="extrapolate",
                          output_init=0.0)
    config = small_config(mode="single", size=16, steps=4, batch_images=2, batch_pixels=32, lr=1e-3,
                          loss="log_l2", gradient_weight=1.0, laplacian_weight=1.0)
    hist = train(model, RandomBumps(), config, checkpoint=tmp_path / "l.pt", progress=False)
    assert all(torch.isfinite(torch.tensor(hist["loss"])))
    assert hist["loss"][0] < 0                      # log of small MSEs
    loaded = funknn.load(tmp_path / "l.pt")
    assert loaded.config["boundary"] == "extrapolate" and loaded.config["output_init"] == 0.0
    assert not torch.equal(loaded.net.fc_out.weight, torch.zeros_like(loaded.net.fc_out.weight))
    with pytest.raises(ValueError, match="laplacian_weight"):
        small_config(laplacian_weight=-1.0)



@pytest.mark.parametrize("kind", ["liif", "unet"])
def test_baselines_train_save_and_resume(tmp_path, photos, kind):
    from funknn.models import LIIF, UNet

    def build():
        torch.manual_seed(0)
        return (LIIF(width=8, blocks=1, hidden=(16,)) if kind == "liif" else UNet(width=4, depth=2))

    mode = "continuous" if kind == "liif" else "single"
    config = small_config(mode=mode, steps=4, checkpoint_every=2, lr=1e-2)
    model = build()
    history = train(model, photos, config, checkpoint=tmp_path / "a.pt", progress=False)
    assert len(history["loss"]) == 4
    loaded = funknn.load(tmp_path / "a.pt")
    assert type(loaded) is type(model)
    for a, b in zip(loaded.parameters(), model.parameters()):
        assert torch.equal(a, b)
    # interrupted after 2 steps, then resumed: the same weights as the uninterrupted run
    half = build()
    train(half, photos, small_config(mode=mode, steps=2, checkpoint_every=2, lr=1e-2),
          checkpoint=tmp_path / "b.pt", progress=False)
    resumed = build()
    train(resumed, photos, config, checkpoint=tmp_path / "b.pt", progress=False)
    for a, b in zip(resumed.parameters(), model.parameters()):
        assert torch.equal(a, b)



def test_fixed_scale_model_refuses_other_modes(photos):
    from funknn.models import UNet

    with pytest.raises(ValueError, match="single"):
        train(UNet(width=4, depth=2), photos, small_config(mode="factor"), progress=False)



def test_release_keeps_the_model_and_refuses_resume(tmp_path, photos):
    from funknn.checkpoints import release

    model = funknn.FunkNN(3, network="mlp")
    config = small_config(steps=2)
    train(model, photos, config, checkpoint=tmp_path / "full.pt", progress=False)
    out = release(tmp_path / "full.pt", tmp_path / "small.pt")
    assert out.stat().st_size < (tmp_path / "full.pt").stat().st_size / 2
    loaded = funknn.load(out)
    for a, b in zip(loaded.parameters(), model.parameters()):
        assert torch.equal(a, b)
    assert loaded.meta["steps"] == 2 and "released" in loaded.meta
    assert read(out)["history"]["loss"] == read(tmp_path / "full.pt")["history"]["loss"]
    with pytest.raises(ValueError, match="weights only"):
        train(funknn.FunkNN(3, network="mlp"), photos, small_config(steps=4), checkpoint=out, progress=False)


def test_the_old_homes_reexport_the_moved_names():
    import funknn.engine as engine
    import funknn.generative as generative
    import funknn.training as training
    from funknn import checks
    from funknn.tasks import gasp, prior, super_resolution

    for name in ("TrainConfig", "MODES", "LOSSES", "FunctionSource", "train", "make_pair", "pixel_batch",
                 "draw_low_size", "low_resolution_sizes", "loss_value", "function_loss", "image_loss",
                 "crop_each"):
        assert getattr(training, name) is getattr(super_resolution, name), name
    for name in ("step_cost", "step_seconds", "optimise", "AMP", "autocast", "run_adam", "StepConfig",
                 "check_resume", "run_record", "restore_generators", "learning_rate", "LazyStream"):
        assert getattr(training, name) is getattr(engine, name), name
    assert training.check_lr_drop is checks.lr_drop
    for name in ("PERCEPTUAL", "FitConfig", "FlowConfig", "autoencoder_loss", "first", "train_autoencoder",
                 "train_flow"):
        assert getattr(generative, name) is getattr(prior, name), name
    for name in ("GASPConfig", "gasp_step", "train_gasp"):
        assert getattr(generative, name) is getattr(gasp, name), name
    assert funknn.TrainConfig is TrainConfig and funknn.train is train

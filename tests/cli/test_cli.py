import json

import numpy as np
import pytest
from PIL import Image

import funknn
from funknn.__main__ import main


def test_help(capsys):
    for cmd in ("train", "evaluate", "render", "release"):
        with pytest.raises(SystemExit) as exit_info:
            main([cmd, "--help"])
        assert exit_info.value.code == 0
        assert cmd in capsys.readouterr().out


def test_train_evaluate_render(tmp_path, capsys):
    ckpt = tmp_path / "m.pt"
    assert main(["train", "--network", "mlp", "--steps", "2", "--size", "16", "--short-side", "32",
                 "--batch-images", "2", "--batch-pixels", "16", "--out", str(ckpt), "--no-progress"]) == 0
    meta = funknn.load(ckpt).meta
    assert meta["command"].startswith("python -m funknn train") and meta["steps"] == 2
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(ckpt), "--short-side", "32", "--tile", "16",
                 "--low-size", "8", "--scales", "2", "--limit", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 2 and "snr" in report["results"]["x2"]
    src = tmp_path / "low.png"
    Image.fromarray(np.zeros((6, 5, 3), dtype=np.uint8)).save(src)
    out = tmp_path / "high.png"
    assert main(["render", "--checkpoint", str(ckpt), "--input", str(src), "--output", str(out),
                 "--size", "12", "10"]) == 0
    assert Image.open(out).size == (10, 12)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "does not exist" in _error_line(capsys)
    funknn.save(funknn.FunkNN(3, network="mlp"), tmp_path / "m.pt")
    assert main(["render", "--checkpoint", str(tmp_path / "m.pt"), "--input", str(tmp_path / "x.png"),
                 "--output", str(tmp_path / "y.png"), "--size", "4", "4"]) == 2
    assert "input image" in _error_line(capsys)
    assert main(["train", "--data", str(tmp_path / "celeba"), "--out", str(tmp_path / "c.pt")]) == 2
    assert "data/README.md" in _error_line(capsys)
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    assert main(["release", str(tmp_path / "corrupt.pt")]) == 2
    assert "corrupt" in _error_line(capsys)
    assert main(["train", "--steps", "0", "--out", str(tmp_path / "z.pt")]) == 2
    assert "steps must be positive" in _error_line(capsys)
    with pytest.raises(SystemExit) as exit_info:           # argparse's own errors: status 2 too
        main(["train", "--mode", "magic", "--out", "x.pt"])
    assert exit_info.value.code == 2


def test_cli_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        main(["--debug", "evaluate", "--checkpoint", str(tmp_path / "none.pt")])


def test_cli_defaults_are_the_librarys():
    from funknn.__main__ import build_parser
    from funknn.generative import FitConfig, FlowConfig
    from funknn.models import Autoencoder, FunkNN, RealNVP, UNet
    from funknn.training import TrainConfig

    parser = build_parser()
    train = vars(parser.parse_args(["train", "--out", "x"]))
    config, model = TrainConfig(), FunkNN()
    for field in ("mode", "size", "steps", "batch_images", "batch_pixels", "lr", "loss", "seed",
                  "checkpoint_every", "gradient_weight", "laplacian_weight", "lr_drop_at", "lr_drop"):
        assert train[field] == getattr(config, field), field
    for field in ("network", "kernel", "patch_size", "activation", "boundary", "output_init",
                  "centred_input"):
        assert train[field] == model.config[field], field
    assert train["channels"] == model.config["in_channels"]
    unet = UNet()
    assert (train["unet_width"], train["unet_depth"], train["unet_bicubic_skip"]) == (
        unet.config["width"], unet.config["depth"], unet.config["bicubic_skip"])
    ae_args = vars(parser.parse_args(["train-autoencoder", "--out", "x"]))
    ae, fit = Autoencoder(), FitConfig()
    assert (ae_args["size"], ae_args["latent_dim"], ae_args["width"], ae_args["max_width"],
            ae_args["bottleneck"], ae_args["spatial"]) == tuple(
        ae.config[k] for k in ("image_size", "latent_dim", "width", "max_width", "bottleneck", "spatial"))
    for field in ("steps", "batch", "lr", "seed", "checkpoint_every", "perceptual", "perceptual_weight",
                  "lr_drop_at", "lr_drop"):
        assert ae_args[field] == getattr(fit, field), field
    flow_args = vars(parser.parse_args(["train-flow", "--autoencoder", "a", "--out", "x"]))
    flow, flow_fit = RealNVP(4), FlowConfig()
    assert (flow_args["blocks"], flow_args["hidden"], flow_args["couplings"]) == (
        flow.config["blocks"], flow.config["hidden"], flow.config["couplings"])
    for field in ("steps", "batch", "lr", "seed", "checkpoint_every"):
        assert flow_args[field] == getattr(flow_fit, field), field


def test_train_autoencoder_and_flow(tmp_path, capsys):
    ae = tmp_path / "ae.pt"
    assert main(["train-autoencoder", "--count", "8", "--size", "16", "--latent-dim", "6", "--width", "4",
                 "--max-width", "8", "--steps", "2", "--batch", "4", "--out", str(ae), "--no-progress"]) == 0
    model = funknn.load(ae)
    assert model.latent_dim == 6 and model.meta["command"].startswith("python -m funknn train-autoencoder")
    assert "ellipse" in model.meta["data"]
    fl = tmp_path / "flow.pt"
    assert main(["train-flow", "--autoencoder", str(ae), "--count", "8", "--blocks", "1", "--hidden", "8",
                 "--steps", "2", "--batch", "4", "--out", str(fl), "--no-progress"]) == 0
    flow = funknn.load(fl)
    assert flow.dim == 6 and flow.meta["autoencoder"] == str(ae)
    assert "bits/dim" in capsys.readouterr().out
    ck = tmp_path / "e.pt"
    assert main(["train", "--data", "ellipses", "--channels", "1", "--count", "4", "--short-side", "32",
                 "--network", "mlp", "--kernel", "cubic_conv", "--size", "16", "--steps", "1",
                 "--batch-images", "2", "--batch-pixels", "8", "--out", str(ck), "--no-progress"]) == 0
    assert "ellipse" in funknn.load(ck).meta["data"]


@pytest.mark.parametrize("model,mode,cls", [("liif-140k", "continuous", "LIIF"), ("unet", "single", "UNet")])
def test_train_baselines(tmp_path, capsys, model, mode, cls):
    ckpt = tmp_path / "b.pt"
    assert main(["train", "--model", model, "--mode", mode, "--steps", "1", "--size", "16",
                 "--short-side", "32", "--batch-images", "2", "--batch-pixels", "16", "--unet-depth", "2",
                 "--out", str(ckpt), "--no-progress"]) == 0
    loaded = funknn.load(ckpt)
    assert type(loaded).__name__ == cls and loaded.meta["parameters"] == funknn.count_parameters(loaded)
    assert f"--model {model}" in loaded.meta["command"]
    assert main(["release", str(ckpt), "--out", str(tmp_path / "r.pt")]) == 0
    assert "released" in funknn.load(tmp_path / "r.pt").meta


def test_train_gasp(tmp_path, capsys):
    from funknn.__main__ import build_parser
    from funknn.generative import GASPConfig
    from funknn.models import GASP

    args = vars(build_parser().parse_args(["train-gasp", "--out", "x"]))
    model, config = GASP(), GASPConfig()
    for field in ("latent_dim", "frequencies", "sigma", "hidden", "hypernet", "disc_channels", "neighbours",
                  "weightnet"):
        assert args[field] == model.config[field], field
    assert args["size"] == model.config["image_size"]
    for field in ("steps", "batch", "lr", "lr_disc", "r1_weight", "r1_every", "seed", "checkpoint_every"):
        assert args[field] == getattr(config, field), field
    assert tuple(args["betas"]) == config.betas
    out = tmp_path / "gasp.pt"
    command = ["train-gasp", "--count", "6", "--size", "16", "--latent-dim", "4", "--frequencies", "4",
               "--hidden", "8", "--hypernet", "8", "--disc-channels", "4", "4", "--steps", "2",
               "--batch", "3", "--out", str(out), "--no-progress"]
    assert main(command) == 0
    gasp = funknn.load(out)
    assert isinstance(gasp, GASP) and gasp.meta["command"].startswith("python -m funknn train-gasp")
    assert "ellipse" in gasp.meta["data"] and gasp.meta["steps"] == 2
    assert "discriminator loss" in capsys.readouterr().out
    command[command.index("--steps") + 1] = "3"
    assert main(command) == 0                                                     # resumed
    assert funknn.load(out).meta["steps"] == 3


def test_trainers_stream_a_folder_with_a_cache_and_accumulate(tmp_path, capsys):
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (20 + i, 18, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    cache = tmp_path / "cache"
    out = tmp_path / "m.pt"
    common = ["--data", str(folder), "--stream", "--cache", str(cache), "--workers", "0", "--accumulate", "2",
              "--no-progress"]
    assert main(["train", "--network", "mlp", "--short-side", "16", "--size", "16", "--steps", "2",
                 "--batch-images", "4", "--batch-pixels", "8", "--amp", "bf16", "--out", str(out),
                 *common]) == 0
    meta = funknn.load(out).meta
    assert (meta["world_size"], meta["accumulate"], meta["global_batch"], meta["amp"]) == (1, 2, 4, "bf16")
    assert len(list(cache.glob("*.u8"))) == 1                                   # the resized images, uint8
    ae = tmp_path / "ae.pt"
    assert main(["train-autoencoder", "--size", "16", "--latent-dim", "4", "--width", "4", "--max-width", "4",
                 "--steps", "2", "--batch", "2", "--out", str(ae), *common]) == 0
    assert main(["train-flow", "--autoencoder", str(ae), "--blocks", "1", "--hidden", "8", "--steps", "1",
                 "--batch", "2", "--out", str(tmp_path / "f.pt"), *common]) == 0
    assert main(["train-gasp", "--size", "8", "--latent-dim", "4", "--frequencies", "4", "--hidden", "8",
                 "--hypernet", "8", "--disc-channels", "4", "4", "--steps", "1", "--batch", "2",
                 "--out", str(tmp_path / "g.pt"), *common]) == 0
    capsys.readouterr()
    assert main(["train", "--network", "mlp", "--steps", "3", "--out", str(out), "--short-side", "16",
                 "--size", "16", "--batch-images", "4", "--batch-pixels", "8", "--data", str(folder),
                 "--stream", "--no-progress"]) == 2                            # 1 part now, 2 before
    assert "--accumulate 2" in capsys.readouterr().err
    assert main(["train", "--data", "photos", "--stream", "--out", str(out)]) == 2

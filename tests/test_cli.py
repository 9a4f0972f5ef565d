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


def test_cli_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        main(["evaluate", "--checkpoint", str(tmp_path / "none.pt")])
    funknn.save(funknn.FunkNN(3, network="mlp"), tmp_path / "m.pt")
    with pytest.raises(FileNotFoundError, match="input image"):
        main(["render", "--checkpoint", str(tmp_path / "m.pt"), "--input", str(tmp_path / "x.png"),
              "--output", str(tmp_path / "y.png"), "--size", "4", "4"])
    with pytest.raises(FileNotFoundError, match="data/README.md"):
        main(["train", "--data", str(tmp_path / "celeba"), "--out", str(tmp_path / "c.pt")])
    with pytest.raises(SystemExit):
        main(["train", "--mode", "magic", "--out", "x.pt"])


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

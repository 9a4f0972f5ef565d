"""The committed scripts that choose weights run as committed (tiny settings)."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_derivative_weights_script(capsys, tmp_path):
    from funknn.checkpoints import save
    from funknn.models import GASP

    save(GASP(image_size=16, latent_dim=4, frequencies=4, hidden=(8,), hypernet=(8,), disc_channels=(4,)),
         tmp_path / "gasp.pt")
    args = ["--images", "2", "--n", "16", "--steps", "1", "--baseline-steps", "1", "--weights", "0", "0.01",
            "--batch-points", "64", "--finetune-steps", "1", "--gasp", str(tmp_path / "gasp.pt")]
    out = _load("derivative_weights").main(args)
    assert set(out["best"]) == {("sparse", "FunkNN prior"), ("sparse", "FunkNN prior, latent only"),
                                ("sparse", "Poisson + TV"), ("sparse", "GASP prior")}
    only = _load("derivative_weights").main(args + ["--methods", "gasp"])
    assert set(only["best"]) == {("sparse", "GASP prior")}
    assert len(out["scores"]["sparse", "Poisson + TV", 0.01]) == 2
    assert "validation phantoms" in capsys.readouterr().out


def test_tv_weight_script(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["tv_weight.py", "--size", "16", "--angles", "8", "--steps", "1",
                                      "--images", "1", "--weights", "1e-3"])
    _load("tv_weight").main()
    assert "TV weight 0.001" in capsys.readouterr().out


def test_prior_quality_script(capsys):
    _load("prior_quality").main(["--images", "8", "--train", "16"])
    out = capsys.readouterr().out
    assert "autoencoder SNR, test (8)" in out and "precision / recall" in out and "x2 (64² -> 128²)" in out


def test_patches_script(capsys):
    ratios = _load("patches").main(["--repeats", "1", "--size", "8"])
    assert len(ratios) == 2 and all(r > 0 for r in ratios.values())
    assert "faster" in capsys.readouterr().out


def test_design_choices_script(capsys, tmp_path):
    out = _load("design_choices").main(["--steps", "2", "--size", "16", "--batch-images", "2",
                                         "--batch-pixels", "16", "--tiles", "2", "--tile", "64",
                                         "--seeds", "0", "1",
                                         "--low-size", "16", "--out", str(tmp_path),
                                         "--plot", str(tmp_path / "curves.png")])
    assert len(out["variants"]) == 4 and (tmp_path / "results.json").is_file()
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert all(len(v["loss"]) == 2 and np.isfinite(v["snr"]["x4"]) for v in out["variants"].values())
    assert out["seeds"] == [0, 1] and (tmp_path / "variant3_seed1.pt").is_file()
    both = out["variants"]["both (ours)"]
    assert len(both["snr_per_seed"]["x2"]) == 2 and both["minus_paper"]["x2"]["seeds"] == [2, 2]
    assert both["verdict"] in ("held", "not held", "inconclusive")
    printed = capsys.readouterr().out
    assert "paper (raw patch, default init)" in printed and "paired 95% bootstrap interval" in printed


def test_prior_range_script(capsys, tmp_path):
    from funknn.checkpoints import save
    from funknn.models import GASP

    save(GASP(image_size=64, latent_dim=4, frequencies=4, hidden=(8,), hypernet=(8,), disc_channels=(4,)),
         tmp_path / "gasp.pt")
    out = _load("prior_range").main(["--images", "2", "--steps", "2", "--samples", "3",
                                     "--gasp", str(tmp_path / "gasp.pt")])
    assert len(out) == 2 and all(set(r) == {"latent fit", "nearest sample"} for r in out.values())
    assert "validation phantoms" in capsys.readouterr().out


def test_train_script(capsys):
    fractions = _load("train").main(["--quick", "--scaling"])
    assert list(fractions) == ["2 × 16 px", "against_two_threads", "against_ideal"]
    assert all(f > 0 for f in fractions.values())
    out = capsys.readouterr().out
    assert "of matmul" in out and "2 processes × 1 thread (torchrun, Gloo)" in out


def test_onnx_speed_script(capsys):
    results = _load("onnx_speed").main(["--quick", "--threads", "1"])
    assert set(results) == {1} and results[1]["ratio"] > 0 and results[1]["max_abs_difference"] <= 1e-5
    assert "onnxruntime points/s" in capsys.readouterr().out


@pytest.mark.slow
def test_gpu_check_dry_run(capsys, tmp_path):
    figures = _load("gpu_check").main(["--dry-run", "--out", str(tmp_path / "gpu_check.json")])
    assert json.loads((tmp_path / "gpu_check.json").read_text())["dry_run"] is True
    assert figures["notebooks"]["06_limited_view_ct"]["profile"] == "paper"
    assert set(figures["speed"]["seconds"]) >= {"FunkNN", "LIIF-EDSR", "LIIF-EDSR (140K)"}
    assert set(figures["train"]) == {"plain", "amp bf16", "compile"}
    assert all(r["seconds_per_step"] > 0 for r in figures["train"].values())
    assert "torchrun --nproc-per-node=1 -m funknn train" in capsys.readouterr().out


def test_threads_script(capsys):
    results = _load("threads").main(["--quick"])
    assert {"FunkNN @ 1 of matmul", "FunkNN @ 2 of matmul", "FunkNN, one pass @ 2 of matmul",
            "authors @ 2 vs authors", "FunkNN @ 2 vs authors"} <= set(results)
    assert all(v > 0 for v in results.values())
    out = capsys.readouterr().out
    assert "of matmul" in out and "targets (issue 25)" in out

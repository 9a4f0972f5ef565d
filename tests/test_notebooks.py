"""The paper profile must not rot: run each notebook with profile="paper" on tiny fabricated
data for a couple of training steps (on the CPU)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fabricated():
    """benchmarks/fabricated.py: the one maker of fabricated data (benchmarks/gpu_check.py uses it too)."""
    spec = importlib.util.spec_from_file_location("fabricated", ROOT / "benchmarks" / "fabricated.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fabricated = _fabricated()


@pytest.fixture(scope="module")
def fake_celeba(tmp_path_factory):
    # the paper's split keeps the last 100 for testing
    return fabricated.celeba_folder(tmp_path_factory.mktemp("celeba_hq"), count=102, size=24)


def run_paper_profile(name, tmp_path, **parameters):
    """Execute notebook ``name`` with profile="paper" and the given overrides; return its results file."""
    papermill = pytest.importorskip("papermill")
    import json

    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"), str(tmp_path / "out.ipynb"),
        cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False,
        parameters=dict(profile="paper", results_dir=str(tmp_path), **parameters))
    return json.loads((tmp_path / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def fake_lsun(tmp_path_factory):
    return fabricated.lsun_folder(tmp_path_factory.mktemp("lsun_bedroom"), count=3, size=(30, 40))


@pytest.fixture(scope="module")
def paper_super_resolution(tmp_path_factory, fake_celeba, fake_lsun):
    """Chapter 1 in the paper profile: trains all six models for 2 steps (tiny batches)."""
    tmp_path = tmp_path_factory.mktemp("sr")
    summary = run_paper_profile("01_super_resolution", tmp_path, train=True, data_dir=str(fake_celeba),
                                ood_dir=str(fake_lsun), steps=2, n_test=1, scales=[2], batch_images=2,
                                checkpoint_dir=str(tmp_path / "ck"))
    return summary, tmp_path / "ck"


@pytest.mark.slow
@pytest.mark.xdist_group("super_resolution")    # with chapter 2: they share the trained models
def test_01_super_resolution_paper_profile(paper_super_resolution):
    summary, ck = paper_super_resolution
    assert summary["profile"] == "paper" and summary["low_size"] == 128 and summary["scales"] == [2]
    assert set(summary["checkpoint_steps"].values()) == {2} and len(summary["checkpoint_steps"]) == 7
    assert summary["parameters"]["U-Net (paper)"] == summary["parameters"]["U-Net + bicubic skip"] > 8_500_000
    # the paper-sized U-Nets (paper: 8.8M)
    assert summary["parameters"]["LIIF-EDSR"] > 1_400_000
    assert summary["test_images"] == 1 and summary["ood_images"] == 1
    assert sorted(p.name for p in ck.glob("*.pt")) == sorted(
        f"paper_{n}.pt" for n in ("unet_paper", "unet", "liif_edsr", "liif_140k", "single", "continuous",
                                  "factor"))


@pytest.mark.slow
@pytest.mark.xdist_group("super_resolution")
def test_02_out_of_distribution_paper_profile(tmp_path, paper_super_resolution, fake_celeba, fake_lsun):
    _, ck = paper_super_resolution
    summary = run_paper_profile("02_out_of_distribution", tmp_path, data_dir=str(fake_celeba),
                                ood_dir=str(fake_lsun), checkpoint_dir=str(ck), n_test=2, scales=[2])
    assert summary["profile"] == "paper" and summary["ood_images"] == 2 and summary["low_size"] == 128
    assert set(summary["ood_snr"]) == {
        "Bilinear", "Bicubic", "U-Net (paper)", "U-Net + bicubic skip", "LIIF-EDSR", "LIIF-EDSR (140K)",
        "FunkNN (single)", "FunkNN (continuous)", "FunkNN (factor)"}
    assert list(summary["figure4_snr"]) == ["x2"]


@pytest.mark.slow
def test_03_derivatives_paper_profile(tmp_path):
    summary = run_paper_profile("03_derivatives", tmp_path, train=True, steps=2, n_test=1,
                                n_dist=2, scales=[1], batch_images=1, figure_size=32,
                                checkpoint_dir=str(tmp_path / "ck"))
    assert summary["profile"] == "paper" and summary["training_resolution"] == 128
    assert summary["checkpoint_steps"] == {"FunkNN (paper's procedure)": 2, "FunkNN (ours)": 2}
    assert list(summary["snr_db"]["FunkNN (ours)"]) == ["64", "128"]
    assert min(summary["parameters"].values()) > 100_000
    assert sorted(p.name for p in (tmp_path / "ck").glob("*.pt")) == [
        "paper_bumps_ours.pt", "paper_bumps_paper.pt"]


@pytest.mark.slow
def test_04_generative_prior_paper_profile(tmp_path):
    folder = fabricated.lodopab_folder(tmp_path / "lodopab", {"train": 6, "test": 2}, size=40)
    summary = run_paper_profile("04_generative_prior", tmp_path, train=True, data_dir=str(folder), steps=2,
                                batch=2, checkpoint_dir=str(tmp_path / "ck"))
    assert summary["profile"] == "paper" and summary["data"] == "LoDoPaB-CT" and summary["size"] == 128
    assert summary["steps"] == {"autoencoder": 2, "flow": 2, "funknn": 2, "gasp": 2}
    assert summary["test_images"] == 2
    assert (tmp_path / "ck" / "gasp.pt").is_file() and summary["parameters"]["GASP discriminator"] > 1_000_000


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory):
    """A tiny untrained prior (autoencoder, flow, FunkNN, GASP) and a fabricated LoDoPaB-CT folder."""
    root = fabricated.prior_folder(tmp_path_factory.mktemp("prior"))
    return fabricated.lodopab_folder(root, {"test": 2}, size=40)


@pytest.mark.slow
@pytest.mark.xdist_group("inverse")             # they share the tiny prior
@pytest.mark.parametrize("name, extra", [
    ("05_inverse_derivatives", dict(finetune_steps=1, baseline_steps=2)),
    ("06_limited_view_ct", dict(finetune_steps=1, tv_steps=2, num_angles=20)),
])
def test_inverse_notebooks_paper_profile(tmp_path, tiny_prior, name, extra):
    summary = run_paper_profile(name, tmp_path, checkpoint_dir=str(tiny_prior), data_dir=str(tiny_prior),
                                steps=2, n_test=1, **extra)
    assert summary["profile"] == "paper" and summary["reconstruction_resolution"] == 256
    assert summary["steps"] == 2 and summary["test_images"] == 1


@pytest.mark.slow
def test_07_paper_scale_paper_profile(tmp_path, fake_celeba):
    summary = run_paper_profile("07_paper_scale", tmp_path, data_dir=str(fake_celeba), batch_images=1)
    assert summary["profile"] == "paper"
    funknn_step = summary["step"]["FunkNN (CNN)"]
    assert funknn_step["measured batch"] == "512 queries" and funknn_step["paper batch"] == "32,768 queries"
    assert funknn_step["GFLOP per paper step"] > 100 and funknn_step["activation GB per paper step"] > 1
    assert set(summary["loading_ms_per_image"]) == {
        "decode + resize (no cache)", "first epoch with the cache (decode, resize, store)",
        "later epochs (read the uint8 cache)"}

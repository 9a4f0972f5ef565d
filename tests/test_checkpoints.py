"""Checkpoint files (save, load and their errors), the shipped checkpoints and their commands, and
evaluation against an interpolator."""

import pytest
import torch

import funknn
from funknn.data import embedded_photos
from funknn.evaluation import evaluate


def test_save_load_and_errors(tmp_path):
    model = funknn.FunkNN(1, kernel="cubic_conv", network="mlp")
    path = tmp_path / "m.pt"
    funknn.save(model, path, command="test", data="none")
    loaded = funknn.load(path)
    assert loaded.config == model.config and loaded.meta["command"] == "test"
    x, c = torch.rand(1, 1, 8, 8), torch.rand(1, 5, 2) * 2 - 1
    assert torch.equal(model.eval()(c, x), loaded(c, x))
    assert not list(tmp_path.glob(".*.tmp")), "atomic write left a temporary file"

    with pytest.raises(FileNotFoundError, match="does not exist"):
        funknn.load(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt"):
        funknn.load(tmp_path / "corrupt.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a funknn checkpoint"):
        funknn.load(tmp_path / "other.pt")
    record = torch.load(path, weights_only=True)
    record["state_dict"].pop("scale")
    torch.save(record, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="does not match"):
        funknn.load(tmp_path / "mismatch.pt")
    with pytest.raises(TypeError, match="cannot save"):
        funknn.save(torch.nn.Linear(2, 2), tmp_path / "lin.pt")


def test_evaluate_interpolator():
    from funknn.sampling import Interpolator

    high = embedded_photos("test", short_side=64).tiles(32)
    res = evaluate(Interpolator("bicubic"), high, 8, scales=(2, 4))
    assert set(res) == {2, 4}
    assert res[2]["snr"].shape == (len(high),)
    assert res[2]["snr"].mean() > res[4]["snr"].mean()


def test_pretrained_listing_and_errors():
    names = funknn.available_pretrained()
    assert "photos_factor" in names
    with pytest.raises(ValueError, match="unknown pretrained"):
        funknn.pretrained("nope")


def test_shipped_checkpoint_loads_with_its_command():
    model = funknn.pretrained("photos_factor")
    assert model.meta["command"].startswith("python -m funknn train --mode factor")
    assert model.meta["steps"] == model.meta["train_config"]["steps"]
    assert funknn.count_parameters(model) == 140_933
    low = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        assert funknn.render(model, low, (48, 40), hierarchical=True).shape == (1, 3, 48, 40)


@pytest.mark.parametrize("name", ["photos_single", "photos_continuous", "photos_unet", "photos_liif_140k",
                                  "photos_liif_edsr"])
def test_table1_checkpoints_ship_with_their_commands(name):
    model = funknn.pretrained(name)
    assert model.meta["command"].startswith("python -m funknn train")
    assert model.meta["steps"] == model.meta["train_config"]["steps"]
    assert funknn.count_parameters(model) == model.meta["parameters"]

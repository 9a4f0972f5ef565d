"""Shipped checkpoints by name and training seed (funknn.pretrained_path / pretrained_seeds)."""

import pytest

import funknn


def test_seeds_are_found_in_the_seeds_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNKNN_CHECKPOINTS", str(tmp_path))
    (tmp_path / "seeds").mkdir()
    for name in ("photos_single.pt", "seeds/photos_single_seed2.pt", "seeds/photos_single_seed1.pt",
                 "seeds/photos_single_seedx.pt", "seeds/photos_continuous_seed1.pt"):
        (tmp_path / name).write_bytes(b"")
    assert funknn.pretrained_seeds("photos_single") == [0, 1, 2]
    assert funknn.pretrained_seeds("photos_factor") == []
    assert funknn.pretrained_path("photos_single", 2) == tmp_path / "seeds" / "photos_single_seed2.pt"
    assert funknn.pretrained_path("photos_single") == tmp_path / "photos_single.pt"
    with pytest.raises(FileNotFoundError, match="photos_single_seed3"):
        funknn.pretrained_path("photos_single", 3)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        funknn.pretrained_path("photos_single", -1)
    with pytest.raises(ValueError, match="unknown pretrained model"):
        funknn.pretrained_seeds("nope")


def test_shipped_seeds_load_with_the_recipe_of_seed_0():
    for name in funknn.available_pretrained():
        seeds = funknn.pretrained_seeds(name)
        assert seeds and seeds[0] == 0, name
        for seed in seeds[1:]:
            extra, main = funknn.pretrained(name, seed=seed), funknn.pretrained(name)
            assert funknn.count_parameters(extra) == funknn.count_parameters(main), (name, seed)
            assert extra.meta["train_config"]["seed"] == seed, (name, seed)

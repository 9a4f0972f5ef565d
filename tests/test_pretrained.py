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


def test_shipped_budget_twins_are_their_seed_0_trained_on():
    """data/checkpoints/budget/<name>_steps<N>.pt (make budget): seed 0 of <name> resumed to N steps by
    the same recipe; chapter 1 finds them with funknn_book's budget_path."""
    from funknn.checkpoints import read
    from funknn.pretrained import checkpoint_dir
    from funknn_book.checkpoints import budget_path

    twins = sorted((checkpoint_dir() / "budget").glob("*_steps*.pt"))
    for path in twins:
        name, steps = path.stem.rsplit("_steps", 1)
        assert budget_path(name, int(steps)) == path
        twin_file, main_file = read(path), read(funknn.pretrained_path(name))
        twin, main = twin_file["meta"], main_file["meta"]
        assert twin["steps"] == twin["train_config"]["steps"] == int(steps) > main["steps"], path.name
        # the recipe's settings (those the older seed-0 file records) but the steps are the same
        assert {k: twin["train_config"][k] for k in main["train_config"] if k != "steps"} == {
            k: v for k, v in main["train_config"].items() if k != "steps"}, path.name
        assert twin["parameters"] == main["parameters"]
        # resumed, not retrained: the first steps' losses are seed 0's own
        first = len(main_file["history"]["loss"])
        assert twin_file["history"]["loss"][:first] == main_file["history"]["loss"], path.name


def test_budget_path_is_none_without_a_twin(tmp_path, monkeypatch):
    from funknn_book.checkpoints import budget_path

    monkeypatch.setenv("FUNKNN_CHECKPOINTS", str(tmp_path))
    assert budget_path("photos_single", 1500) is None
    (tmp_path / "budget").mkdir()
    (tmp_path / "budget" / "photos_single_steps1500.pt").write_bytes(b"")
    assert budget_path("photos_single", 1500) == tmp_path / "budget" / "photos_single_steps1500.pt"

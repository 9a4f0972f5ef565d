import numpy as np
import pytest
import torch


def test_lodopab_loader(tmp_path):
    import h5py

    from funknn.data import lodopab_ct

    rng = np.random.default_rng(0)
    for k in range(2):
        with h5py.File(tmp_path / f"ground_truth_train_00{k}.hdf5", "w") as h:
            h["data"] = rng.random((3, 20, 20)).astype(np.float32) * (k + 1)
    out = lodopab_ct(tmp_path, "train", size=8, limit=5)
    assert out.shape == (5, 1, 8, 8) and out.min() >= 0 and out.max() <= 1
    # one fixed scale: a slice reads the same whatever else is read with it
    assert torch.equal(lodopab_ct(tmp_path, "train", size=8, limit=1)[0], out[0])
    assert torch.allclose(lodopab_ct(tmp_path, "train", size=8, limit=1, scale=2.0)[0], out[0] / 2, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="ground_truth_test"):
        lodopab_ct(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        lodopab_ct(tmp_path / "missing")
    with h5py.File(tmp_path / "ground_truth_validation_000.hdf5", "w") as h:
        h["other"] = np.zeros((1, 4, 4))
    with pytest.raises(ValueError, match="'data'"):
        lodopab_ct(tmp_path, "validation")


def test_lodopab_dataset_yields_the_in_memory_slices(tmp_path, lodopab_folder):
    import pickle

    from funknn.data import LoDoPaBDataset, lodopab_ct

    folder = lodopab_folder(tmp_path)
    for kwargs in ({}, {"limit": 4, "scale": 2.0}, {"limit": 2}):
        ds = LoDoPaBDataset(folder, "train", size=8, **kwargs)
        ref = lodopab_ct(folder, "train", size=8, **kwargs)
        assert len(ds) == len(ref) and all(torch.equal(ds[i], ref[i]) for i in range(len(ds)))
    assert len(ds.files) == 1                                  # limit 2: the second file is not indexed
    opened = LoDoPaBDataset(folder, "train", size=8)
    opened[4]                                                  # handles open in this process
    again = pickle.loads(pickle.dumps(opened))                 # ... and are not pickled
    assert torch.equal(again[3], opened[3])


def test_lodopab_cache(tmp_path, monkeypatch, lodopab_folder):
    from funknn.data import LoDoPaBDataset, lodopab_ct

    folder = lodopab_folder(tmp_path / "ct")
    ds = LoDoPaBDataset(folder, size=8, scale=2.0, cache=tmp_path / "cache")
    ds.fill_cache()
    monkeypatch.setattr(LoDoPaBDataset, "_decode", lambda self, i: pytest.fail("decoded again"))
    cached = torch.stack([LoDoPaBDataset(folder, size=8, scale=2.0, cache=tmp_path / "cache")[i]
                          for i in range(5)])
    assert (cached - lodopab_ct(folder, size=8, scale=2.0)).abs().max() <= 0.5 / 255 + 1e-6
    for other in ({"scale": 1.0}, {"scale": 2.0, "limit": 4}, {"scale": 2.0, "size": 6}):
        config = {"size": 8, **other}
        assert LoDoPaBDataset(folder, cache=tmp_path / "cache", **config).cache.path != ds.cache.path

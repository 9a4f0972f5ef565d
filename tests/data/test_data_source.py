import numpy as np
import pytest


def test_streaming_dataset_errors(tmp_path):
    import h5py

    from funknn.data import ImageFolderDataset, LoDoPaBDataset, celeba_hq_dataset

    with pytest.raises(FileNotFoundError, match="does not exist.*data/README.md"):
        ImageFolderDataset(tmp_path / "celeba_hq", 8)
    with pytest.raises(FileNotFoundError, match="no image files"):
        ImageFolderDataset(tmp_path, 8)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    ds = ImageFolderDataset(tmp_path, 8)                       # listing only: the error comes on reading
    with pytest.raises(ValueError, match="cannot read image file.*broken.png"):
        ds[0]
    for bad in (0, -3, 2.5, None):
        with pytest.raises(ValueError, match="size must be a positive integer"):
            ImageFolderDataset(tmp_path, bad)
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        ImageFolderDataset(tmp_path, 8, channels=2)
    with pytest.raises(ValueError, match="limit must be a positive"):
        ImageFolderDataset(tmp_path, 8, limit=0)
    with pytest.raises(ValueError, match="selection"):
        ImageFolderDataset(tmp_path, 8, select=slice(5, None))
    with pytest.raises(ValueError, match="unknown split"):
        celeba_hq_dataset(tmp_path, "val")
    with pytest.raises(ValueError, match="no cache"):
        ds.fill_cache()
    with pytest.raises(FileNotFoundError, match="does not exist.*ground_truth"):
        LoDoPaBDataset(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="ground_truth_test"):
        LoDoPaBDataset(tmp_path, "test")
    with pytest.raises(ValueError, match="unknown split"):
        LoDoPaBDataset(tmp_path, "val")
    with pytest.raises(ValueError, match="scale must be positive"):
        LoDoPaBDataset(tmp_path, scale=0)
    with h5py.File(tmp_path / "ground_truth_validation_000.hdf5", "w") as h:
        h["other"] = np.zeros((1, 4, 4))
    with pytest.raises(ValueError, match="ground_truth_validation_000.hdf5.*'data'"):
        LoDoPaBDataset(tmp_path, "validation")
    with h5py.File(tmp_path / "ground_truth_test_000.hdf5", "w") as h:
        h["data"] = np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"must be \(k, H, W\)"):
        LoDoPaBDataset(tmp_path, "test")


def test_default_workers(monkeypatch):
    import os

    from funknn.data import default_workers

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_workers(1) == max(0, min(8, cpus - 1))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(cpus))
    assert default_workers() == 0                              # one CPU per rank: load in the rank
    with pytest.raises(ValueError, match="local_ranks"):
        default_workers(0)

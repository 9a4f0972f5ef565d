import numpy as np
import pytest
import torch


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


SOURCES = {                                          # registry name → arguments (``root``: a test folder)
    "photos": {"split": "test", "short_side": 24},
    "ellipses": {"split": "validation", "count": 4, "size": 12, "supersample": 2},
    "folder": {"size": 10, "channels": 1, "select": slice(1, None)},
    "celeba-hq": {"split": "train", "size": 8, "test_count": 1},
    "lsun-bedroom": {"size": 8, "limit": 3},
    "lodopab": {"size": 8, "limit": 4, "scale": 2.0},
}


def _build(name, tmp_path, photo_folder, lodopab_folder, **extra):
    from funknn.data import make

    kwargs = {**SOURCES[name], **extra}
    if name == "lodopab":
        kwargs["root"] = lodopab_folder(tmp_path / "ct")
    elif name == "folder":
        kwargs["path"] = photo_folder(tmp_path / "photos", 5)
    elif name in ("celeba-hq", "lsun-bedroom"):
        kwargs["root"] = photo_folder(tmp_path / "photos", 5)
    return make(name, **kwargs)


@pytest.mark.parametrize("name", list(SOURCES))
def test_one_class_per_source_in_memory_and_streamed(name, tmp_path, photo_folder, lodopab_folder):
    from torch.utils.data import DataLoader, Dataset

    from funknn.data import ImageCollection, Source

    source = _build(name, tmp_path, photo_folder, lodopab_folder)
    assert isinstance(source, Source) and isinstance(source, Dataset)
    memory = source.collection()
    assert isinstance(memory, ImageCollection) and len(memory) == len(source) >= 3
    streamed = [source[i] for i in range(len(source))]
    assert all(torch.equal(a, b) for a, b in zip(memory.images, streamed))
    if name != "photos":                                   # one size: stacked, and through workers
        stacked = source.tensor()
        assert stacked.shape[0] == len(source) and torch.equal(stacked, torch.stack(streamed))
        loaded = torch.cat(list(DataLoader(source, batch_size=2, num_workers=1)))
        assert torch.equal(loaded, stacked)
    if source.names is not None:
        assert memory.names == source.names


@pytest.mark.parametrize("name", ["folder", "celeba-hq", "lsun-bedroom", "lodopab"])
def test_cached_sources_serve_the_cached_images_in_memory_too(name, tmp_path, photo_folder, lodopab_folder):
    plain = _build(name, tmp_path, photo_folder, lodopab_folder)
    cached = _build(name, tmp_path, photo_folder, lodopab_folder, cache=tmp_path / "cache")
    memory = cached.tensor()
    assert cached.cache.filled().all()
    assert torch.equal(memory, torch.stack([cached[i] for i in range(len(cached))]))
    assert torch.equal(torch.stack(cached.collection().images), memory)
    assert (memory - plain.tensor()).abs().max() <= 0.5 / 255 + 1e-6


def test_image_folder_native_sizes_and_cache_needs_a_size(tmp_path, photo_folder):
    from funknn.data import ImageFolder, image_folder

    folder = photo_folder(tmp_path / "photos", 3)
    native = ImageFolder(folder)
    assert [tuple(native[i].shape) for i in range(3)] == [(3, 40, 30), (3, 25, 50), (3, 33, 33)]
    assert all(torch.equal(native[i], image_folder(folder)[i]) for i in range(3))
    with pytest.raises(ValueError, match="cache needs a size"):
        ImageFolder(folder, cache=tmp_path / "cache")

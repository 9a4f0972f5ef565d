import numpy as np
import pytest
import torch
from PIL import Image

from funknn.data import image_folder


def test_image_cache_is_read_back_and_keyed_by_configuration(tmp_path, monkeypatch, photo_folder):
    from funknn.data import ImageFolderDataset, photos

    folder = photo_folder(tmp_path / "photos", 3)
    cache = tmp_path / "cache"
    decoded = []
    load = photos._load_image
    monkeypatch.setattr(photos, "_load_image", lambda f, *a: decoded.append(f.name) or load(f, *a))
    ds = ImageFolderDataset(folder, 10, cache=cache)
    assert not cache.exists()                                  # nothing done on construction
    first = [ds[i] for i in range(3)]
    second = [ImageFolderDataset(folder, 10, cache=cache)[i] for i in range(3)]   # a new reader
    assert len(decoded) == 3                                   # the second pass came from the cache
    ref = image_folder(folder, 10)
    for a, b, r in zip(first, second, ref.images):
        assert torch.equal(a, b) and (a - r).abs().max() <= 0.5 / 255 + 1e-6
        assert torch.equal(torch.round(a * 255), a * 255)    # quantised to uint8 levels
    other_size = ImageFolderDataset(folder, 12, cache=cache)
    grey = ImageFolderDataset(folder, 10, channels=1, cache=cache)
    fewer = ImageFolderDataset(folder, 10, limit=2, cache=cache)
    paths = {ds.cache.path, other_size.cache.path, grey.cache.path, fewer.cache.path}
    assert len(paths) == 4
    Image.fromarray(np.zeros((20, 20, 3), dtype=np.uint8)).save(folder / "00000.png")   # a changed file
    changed = ImageFolderDataset(folder, 10, cache=cache)
    assert changed.cache.path != ds.cache.path and float(changed[0].max()) == 0.0      # stale cache unused


def test_half_filled_and_foreign_cache_files_are_not_trusted(tmp_path, photo_folder):
    from funknn.data import ImageFolderDataset

    folder = photo_folder(tmp_path / "photos", 3)
    ds = ImageFolderDataset(folder, 8, cache=tmp_path / "cache")
    assert ds.fill_cache() == 3 and ds.fill_cache() == 0
    good = ds[1].clone()
    c = ds.cache
    raw = np.memmap(c.path, dtype=np.uint8, mode="r+")
    second = c.data_offset + c.item_bytes
    raw[second:second + c.item_bytes] = 7                  # a writer died after writing its pixels ...
    raw[c.flags_offset + 1] = 0                            # ... before setting the flag
    raw.flush()
    del raw
    fresh = ImageFolderDataset(folder, 8, cache=tmp_path / "cache")
    assert fresh.cache.filled().tolist() == [True, False, True]
    assert torch.equal(fresh[1], good) and fresh.cache.filled().all()        # decoded again, and stored
    c.path.write_bytes(b"FUNKNNC1" + bytes(5000))                           # foreign / corrupt file
    replaced = ImageFolderDataset(folder, 8, cache=tmp_path / "cache")
    assert not replaced.cache.filled().any() and torch.equal(replaced[1], good)
    assert c.path.stat().st_size == c.nbytes
    assert sorted(p.name for p in c.path.parent.iterdir()) == [c.path.name]   # no temporary files left


def test_datasets_through_dataloader_workers(tmp_path, photo_folder, lodopab_folder):
    from torch.utils.data import DataLoader

    from funknn.data import ImageFolderDataset, LoDoPaBDataset, lodopab_ct

    folder = photo_folder(tmp_path / "photos", 4)
    photos = ImageFolderDataset(folder, 8, cache=tmp_path / "cache")
    ref = image_folder(folder, 8)
    batches = list(DataLoader(photos, batch_size=2, num_workers=2))   # workers fill the cache
    assert torch.cat(batches).shape == (4, 3, 8, 8)
    assert (torch.cat(batches) - torch.stack(ref.images)).abs().max() <= 0.5 / 255 + 1e-6
    assert photos.cache.filled().all()
    ct = LoDoPaBDataset(lodopab_folder(tmp_path / "ct"), size=8)
    ct[0]                                                     # the parent holds an open HDF5 handle
    slices = torch.cat(list(DataLoader(ct, batch_size=3, num_workers=2)))
    assert torch.equal(slices, lodopab_ct(tmp_path / "ct", size=8))


@pytest.mark.slow
def test_datasets_in_a_spawned_worker(tmp_path, photo_folder, lodopab_folder):
    """The spawn start method pickles the datasets (about 3 s: the worker imports torch)."""
    from torch.utils.data import ConcatDataset, DataLoader

    from funknn.data import ImageFolderDataset, LoDoPaBDataset, lodopab_ct

    folder = photo_folder(tmp_path / "photos", 2)
    ct = LoDoPaBDataset(lodopab_folder(tmp_path / "ct"), size=8, cache=tmp_path / "cache")
    ct[0]                                                     # open HDF5 handle and cache map in the parent
    both = ConcatDataset([ImageFolderDataset(folder, 8, channels=1), ct])
    out = torch.cat(list(DataLoader(both, batch_size=7, num_workers=1, multiprocessing_context="spawn")))
    assert torch.equal(out[:2], torch.stack(image_folder(folder, 8, channels=1).images))
    assert (out[2:] - lodopab_ct(tmp_path / "ct", size=8)).abs().max() <= 0.5 / 255 + 1e-6
    assert ct.cache.filled().all()                            # the worker's writes reach the parent

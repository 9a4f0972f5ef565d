import numpy as np
import pytest
import torch
from PIL import Image

from funknn.data import EMBEDDED_SPLITS, celeba_hq, embedded_photos, image_folder, lsun_bedroom


def test_embedded_splits_are_disjoint_by_source():
    names = [set(v) for v in EMBEDDED_SPLITS.values()]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])


@pytest.mark.parametrize("split", ["train", "test", "ood"])
def test_embedded_photos_load(split):
    c = embedded_photos(split, short_side=64)
    assert c.channels == 3 and len(c) >= 3
    assert all(min(im.shape[-2:]) == 64 for im in c.images)
    assert all(0 <= float(im.min()) and float(im.max()) <= 1 for im in c.images)


def test_embedded_grey():
    assert embedded_photos("test", short_side=32, channels=1).channels == 1


def test_embedded_photos_native_resolution():
    native = embedded_photos("test", short_side=None)
    assert [tuple(im.shape[-2:]) for im in native.images] == [(300, 451), (400, 600), (512, 512)]


def test_bad_split():
    with pytest.raises(ValueError, match="unknown split"):
        embedded_photos("validation")


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    c = image_folder(tmp_path, size=16)
    assert len(c) == 3 and c[0].shape == (3, 16, 16)
    assert image_folder(tmp_path, channels=1, limit=2)[0].shape == (1, 40, 30)


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*data/README.md"):
        image_folder(tmp_path / "celeba_hq")
    with pytest.raises(FileNotFoundError, match="no image files"):
        image_folder(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read image file"):
        image_folder(tmp_path)


def test_celeba_hq_split(tmp_path):
    for i in range(5):
        Image.fromarray(np.full((20, 24, 3), 40 * i, dtype=np.uint8)).save(tmp_path / f"{i:05d}.jpg")
    train = celeba_hq(tmp_path, "train", size=8, test_count=2)
    test = celeba_hq(tmp_path, "test", size=16, test_count=2)
    assert len(train) == 3 and len(test) == 2
    assert test.names == ["00003.jpg", "00004.jpg"] and test[0].shape == (3, 16, 16)
    with pytest.raises(ValueError, match="unknown split"):
        celeba_hq(tmp_path, "val")


def test_lsun_bedroom_centre_crops_and_limits(tmp_path):
    for i in range(3):
        array = np.zeros((20, 30, 3), dtype=np.uint8)
        array[:, 5:25] = 200                                   # the centre square is bright
        Image.fromarray(array).save(tmp_path / f"bedroom_{i}.png")
    ood = lsun_bedroom(tmp_path, size=16, limit=2)
    assert len(ood) == 2 and ood[0].shape == (3, 16, 16)
    assert float(ood[0].min()) > 0.7                           # the dark side bands were cropped away
    with pytest.raises(FileNotFoundError, match="LSUN"):
        lsun_bedroom(tmp_path / "missing")


def test_image_folder_dataset_yields_the_in_memory_images(tmp_path, photo_folder):
    import pickle

    from funknn.data import ImageFolderDataset, celeba_hq_dataset

    folder = photo_folder(tmp_path / "photos", 5)
    for kwargs in ({}, {"channels": 1}, {"select": slice(1, None), "limit": 3}):
        ds = ImageFolderDataset(folder, 12, **kwargs)
        ref = image_folder(folder, 12, **kwargs)
        assert len(ds) == len(ref) and ds.names == ref.names
        assert all(torch.equal(ds[i], ref[i]) for i in range(len(ds)))
        assert ds[0].dtype == torch.float32 and ds[-1].shape == ref[-1].shape
    again = pickle.loads(pickle.dumps(ds))
    assert torch.equal(again[2], ds[2])
    for split in ("train", "test"):
        lazy = celeba_hq_dataset(folder, split, 8, test_count=2)
        eager = celeba_hq(folder, split, 8, test_count=2)
        assert lazy.names == eager.names and all(torch.equal(lazy[i], eager[i]) for i in range(len(lazy)))
    with pytest.raises(IndexError):
        ds[len(ds)]

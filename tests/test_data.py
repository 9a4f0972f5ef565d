import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from funknn.data import (
    EMBEDDED_SPLITS,
    ImageCollection,
    celeba_hq,
    embedded_photos,
    image_folder,
    lsun_bedroom,
    resize,
)


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


def test_random_crops_and_tiles():
    c = ImageCollection([torch.rand(3, 40, 50), torch.rand(3, 33, 33)], ["a", "b"])
    g = torch.Generator().manual_seed(1)
    crops = c.random_crops(5, 16, g)
    assert crops.shape == (5, 3, 16, 16)
    again = c.random_crops(5, 16, torch.Generator().manual_seed(1))
    assert torch.equal(crops, again)
    tiles = c.tiles(16)
    assert tiles.shape == (2 * 3 + 2 * 2, 3, 16, 16)
    assert torch.equal(tiles[0], c[0][:, :16, :16])
    few = c.tiles(16, per_image=2)                  # the first two of each image, in order
    assert few.shape == (4, 3, 16, 16)
    assert torch.equal(few[1], c[0][:, :16, 16:32]) and torch.equal(few[2], c[1][:, :16, :16])
    with pytest.raises(ValueError, match="per_image"):
        c.tiles(16, per_image=0)
    with pytest.raises(ValueError, match="larger than"):
        c.random_crops(1, 34)


def test_embedded_photos_native_resolution():
    native = embedded_photos("test", short_side=None)
    assert [tuple(im.shape[-2:]) for im in native.images] == [(300, 451), (400, 600), (512, 512)]


def test_resize_antialiased():
    x = torch.rand(2, 3, 32, 32)
    assert resize(x, 8).shape == (2, 3, 8, 8)
    assert resize(x, (16, 8)).shape == (2, 3, 16, 8)
    const = torch.full((1, 1, 32, 32), 0.5)
    assert torch.allclose(resize(const, 7), torch.full((1, 1, 7, 7), 0.5), atol=1e-6)
    with pytest.raises(ValueError, match="size"):
        resize(x, 0)


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


def test_bad_split():
    with pytest.raises(ValueError, match="unknown split"):
        embedded_photos("validation")


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


def test_gaussian_bumps_analytic_derivatives_match_autograd():
    from funknn.data import GaussianBumps

    bumps = GaussianBumps.random(3, torch.Generator().manual_seed(0))
    assert bumps.params[:, 2].min() >= 0.1 and bumps.params[:, 2].max() <= 0.4
    assert bumps.params[:, :2].abs().max() <= 1
    coords = (torch.rand(3, 20, 2, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    v = bumps.values(coords)
    (g,) = torch.autograd.grad(v.sum(), coords, create_graph=True)
    assert torch.allclose(bumps.gradient(coords)[:, :, 0], g)
    lap = sum(torch.autograd.grad(g[..., k].sum(), coords, retain_graph=True)[0][..., k] for k in range(2))
    assert torch.allclose(bumps.laplacian(coords)[..., 0], lap)
    img = bumps.images((6, 5))
    assert img.shape == (3, 1, 6, 5)
    from funknn.sampling import grid_coords

    centres = grid_coords(6, 5, dtype=torch.float64)[None].expand(3, -1, -1)
    assert torch.allclose(img[1, 0, 2, 3].double(), bumps.values(centres)[1, 2 * 5 + 3, 0])
    with pytest.raises(ValueError, match="sigma_range"):
        GaussianBumps.random(2, sigma_range=(0.0, 0.4))
    with pytest.raises(ValueError, match="shape"):
        GaussianBumps(torch.zeros(3, 2))


def test_ellipse_phantoms_reproducible_and_resolution_consistent():
    from funknn.data import Ellipses, ellipse_phantoms, ellipse_set

    a = ellipse_phantoms("train", 6, 16)
    assert a.shape == (6, 1, 16, 16) and a.min() >= 0 and a.max() <= 1 and a.max() > 0.1
    assert torch.equal(a[:3], ellipse_phantoms("train", 3, 16))          # prefix independent of count
    assert not torch.equal(a[:3], ellipse_phantoms("test", 3, 16))       # splits are other draws
    fine = ellipse_set("train", 6).images(32)
    coarse = F.avg_pool2d(fine, 2)
    assert (coarse - a).abs().mean() < 0.02                              # same phantoms at 2× resolution
    corners = torch.tensor([[[0.99, 0.99], [-0.99, 0.99]]], dtype=torch.float64).expand(6, -1, -1)
    assert (ellipse_set("train", 6).values(corners) == 0).all()          # zero outside the unit disc
    one = Ellipses([torch.tensor([[0.5, 0.4, 0.2, 0.0, 0.0, 0.0]])])
    inside = one.values(torch.tensor([[[0.35, 0.0], [0.0, 0.19], [0.0, 0.25]]]))[0, :, 0]
    assert inside.tolist() == [0.5, 0.5, 0.0]
    with pytest.raises(ValueError, match="shape"):
        Ellipses([torch.zeros(2, 5)])
    with pytest.raises(ValueError, match="split"):
        ellipse_phantoms("extra", 2, 8)
    assert not torch.equal(ellipse_phantoms("validation", 3, 16), a[:3])     # its own draw


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


def test_ellipse_raster_by_bounding_boxes_equals_the_exact_values():
    from funknn.data import ellipse_set
    from funknn.sampling import grid_coords

    phantoms = ellipse_set("test", 12)
    fast = phantoms.images((20, 24), supersample=3)
    points = grid_coords(60, 72, dtype=torch.float64).unsqueeze(0).expand(12, -1, -1)
    exact = F.avg_pool2d(phantoms.values(points)[..., 0].reshape(12, 1, 60, 72), 3).float()
    assert torch.allclose(fast, exact, atol=1e-6) and fast.abs().sum() > 0


# ---------------------------------------------------------------------------------------------
# streaming datasets and their uint8 cache


def _photo_folder(folder, count=4):
    """Tiny PNG and JPEG files of different sizes and modes (one grey)."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    shapes = [(40, 30, 3), (25, 50, 3), (33, 33), (20, 24, 3), (31, 27, 3)]
    for i in range(count):
        array = rng.integers(0, 256, shapes[i % len(shapes)], dtype=np.uint8)
        Image.fromarray(array).save(folder / f"{i:05d}.{'jpg' if i % 2 else 'png'}")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _lodopab_folder(folder):
    import h5py

    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    for k, n in enumerate([3, 2]):
        with h5py.File(folder / f"ground_truth_train_00{k}.hdf5", "w") as h:
            h["data"] = rng.random((n, 21, 21)).astype(np.float32) * (k + 1)
    return folder


def test_image_folder_dataset_yields_the_in_memory_images(tmp_path):
    import pickle

    from funknn.data import ImageFolderDataset, celeba_hq_dataset

    folder = _photo_folder(tmp_path / "photos", 5)
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


def test_lodopab_dataset_yields_the_in_memory_slices(tmp_path):
    import pickle

    from funknn.data import LoDoPaBDataset, lodopab_ct

    folder = _lodopab_folder(tmp_path)
    for kwargs in ({}, {"limit": 4, "scale": 2.0}, {"limit": 2}):
        ds = LoDoPaBDataset(folder, "train", size=8, **kwargs)
        ref = lodopab_ct(folder, "train", size=8, **kwargs)
        assert len(ds) == len(ref) and all(torch.equal(ds[i], ref[i]) for i in range(len(ds)))
    assert len(ds.files) == 1                                  # limit 2: the second file is not indexed
    opened = LoDoPaBDataset(folder, "train", size=8)
    opened[4]                                                  # handles open in this process
    again = pickle.loads(pickle.dumps(opened))                 # ... and are not pickled
    assert torch.equal(again[3], opened[3])


def test_datasets_through_dataloader_workers(tmp_path):
    from torch.utils.data import DataLoader

    from funknn.data import ImageFolderDataset, LoDoPaBDataset, lodopab_ct

    folder = _photo_folder(tmp_path / "photos", 4)
    photos = ImageFolderDataset(folder, 8, cache=tmp_path / "cache")
    ref = image_folder(folder, 8)
    batches = list(DataLoader(photos, batch_size=2, num_workers=2))   # workers fill the cache
    assert torch.cat(batches).shape == (4, 3, 8, 8)
    assert (torch.cat(batches) - torch.stack(ref.images)).abs().max() <= 0.5 / 255 + 1e-6
    assert photos.cache.filled().all()
    ct = LoDoPaBDataset(_lodopab_folder(tmp_path / "ct"), size=8)
    ct[0]                                                     # the parent holds an open HDF5 handle
    slices = torch.cat(list(DataLoader(ct, batch_size=3, num_workers=2)))
    assert torch.equal(slices, lodopab_ct(tmp_path / "ct", size=8))



@pytest.mark.slow
def test_datasets_in_a_spawned_worker(tmp_path):
    """The spawn start method pickles the datasets (about 3 s: the worker imports torch)."""
    from torch.utils.data import ConcatDataset, DataLoader

    from funknn.data import ImageFolderDataset, LoDoPaBDataset, lodopab_ct

    folder = _photo_folder(tmp_path / "photos", 2)
    ct = LoDoPaBDataset(_lodopab_folder(tmp_path / "ct"), size=8, cache=tmp_path / "cache")
    ct[0]                                                     # open HDF5 handle and cache map in the parent
    both = ConcatDataset([ImageFolderDataset(folder, 8, channels=1), ct])
    out = torch.cat(list(DataLoader(both, batch_size=7, num_workers=1, multiprocessing_context="spawn")))
    assert torch.equal(out[:2], torch.stack(image_folder(folder, 8, channels=1).images))
    assert (out[2:] - lodopab_ct(tmp_path / "ct", size=8)).abs().max() <= 0.5 / 255 + 1e-6
    assert ct.cache.filled().all()                            # the worker's writes reach the parent

def test_image_cache_is_read_back_and_keyed_by_configuration(tmp_path, monkeypatch):
    import funknn.data
    from funknn.data import ImageFolderDataset

    folder = _photo_folder(tmp_path / "photos", 3)
    cache = tmp_path / "cache"
    decoded = []
    load = funknn.data._load_image
    monkeypatch.setattr(funknn.data, "_load_image", lambda f, *a: decoded.append(f.name) or load(f, *a))
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


def test_half_filled_and_foreign_cache_files_are_not_trusted(tmp_path):
    from funknn.data import ImageFolderDataset

    folder = _photo_folder(tmp_path / "photos", 3)
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


def test_lodopab_cache(tmp_path, monkeypatch):
    from funknn.data import LoDoPaBDataset, lodopab_ct

    folder = _lodopab_folder(tmp_path / "ct")
    ds = LoDoPaBDataset(folder, size=8, scale=2.0, cache=tmp_path / "cache")
    ds.fill_cache()
    monkeypatch.setattr(LoDoPaBDataset, "_decode", lambda self, i: pytest.fail("decoded again"))
    cached = torch.stack([LoDoPaBDataset(folder, size=8, scale=2.0, cache=tmp_path / "cache")[i]
                          for i in range(5)])
    assert (cached - lodopab_ct(folder, size=8, scale=2.0)).abs().max() <= 0.5 / 255 + 1e-6
    for other in ({"scale": 1.0}, {"scale": 2.0, "limit": 4}, {"scale": 2.0, "size": 6}):
        config = {"size": 8, **other}
        assert LoDoPaBDataset(folder, cache=tmp_path / "cache", **config).cache.path != ds.cache.path


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

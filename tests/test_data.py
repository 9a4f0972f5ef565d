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

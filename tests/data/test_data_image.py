import pytest
import torch

from funknn.data import ImageCollection, resize


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
    # the source image of each tile, in the order of tiles(), for every combination of options
    assert c.tile_sources(16) == [0] * 6 + [1] * 4
    for kw in (dict(per_image=2), dict(limit=7), dict(per_image=3, limit=5)):
        sources = c.tile_sources(16, **kw)
        assert len(sources) == len(c.tiles(16, **kw))
        for tile, k in zip(c.tiles(16, **kw), sources):
            height, width = c[k].shape[1:]
            corners = [(t, x) for t in range(0, height - 15, 16) for x in range(0, width - 15, 16)]
            assert any(torch.equal(tile, c[k][:, t:t + 16, x:x + 16]) for t, x in corners)
    with pytest.raises(ValueError, match="per_image"):
        c.tile_sources(16, per_image=0)
    with pytest.raises(ValueError, match="larger than"):
        c.random_crops(1, 34)


def test_resize_antialiased():
    x = torch.rand(2, 3, 32, 32)
    assert resize(x, 8).shape == (2, 3, 8, 8)
    assert resize(x, (16, 8)).shape == (2, 3, 16, 8)
    const = torch.full((1, 1, 32, 32), 0.5)
    assert torch.allclose(resize(const, 7), torch.full((1, 1, 7, 7), 0.5), atol=1e-6)
    with pytest.raises(ValueError, match="size"):
        resize(x, 0)


def test_random_crops_is_the_one_crop_helper():
    from funknn import training
    from funknn.data import random_crops

    images = torch.rand(4, 3, 20, 18)
    crops = random_crops(images, 9, torch.Generator().manual_seed(3))
    assert crops.shape == (4, 3, 9, 9)
    assert torch.equal(crops, random_crops(list(images), 9, torch.Generator().manual_seed(3)))
    if hasattr(training, "crop_each"):                       # the trainer's streamed crops: the same draws
        assert torch.equal(crops, training.crop_each(images, 9, torch.Generator().manual_seed(3)))
    # ImageCollection.random_crops: which images, then random_crops of them
    c = ImageCollection([torch.rand(1, 30, 30), torch.rand(1, 25, 40)])
    g = torch.Generator().manual_seed(5)
    which = torch.randint(2, (6,), generator=g)
    ref = random_crops([c[i] for i in which.tolist()], 12, g, flips=False)
    assert torch.equal(c.random_crops(6, 12, torch.Generator().manual_seed(5), flips=False), ref)
    assert c.random_crops(0, 12).shape == (0, 1, 12, 12)
    # every crop lies inside its image; flips happen
    base = torch.arange(20 * 18, dtype=torch.float32).reshape(1, 1, 20, 18).expand(64, -1, -1, -1)
    many = random_crops(base, 5, torch.Generator().manual_seed(0))
    assert (many[:, 0, 0, 1] - many[:, 0, 0, 0]).abs().eq(1).all()
    assert (many[:, 0, 0, 1] < many[:, 0, 0, 0]).any() and (many[:, 0, 0, 1] > many[:, 0, 0, 0]).any()
    with pytest.raises(ValueError, match="crop size 21 exceeds the size 20×18 of image 0"):
        random_crops(images, 21)
    with pytest.raises(ValueError, match="at least one image"):
        random_crops([], 4)


def test_rescale_short_side():
    from funknn.data import rescale_short_side

    x = torch.rand(3, 40, 60)
    assert rescale_short_side(x, None) is x
    y = rescale_short_side(x, 20)
    assert y.shape == (3, 20, 30) and 0 <= float(y.min()) and float(y.max()) <= 1

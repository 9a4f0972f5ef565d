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

from pathlib import Path

import pytest
import torch

import funknn.data
from funknn.data import make, names, register
from funknn.data import registry as registry_module


def test_the_package_not_the_test_folder_is_imported():
    assert Path(funknn.data.__file__).parts[-3:] == ("funknn", "data", "__init__.py")


def test_names_cover_the_command_line_data():
    assert names() == ("bumps", "celeba-hq", "ellipses", "folder", "lodopab", "lsun-bedroom", "photos")
    assert all(registry_module.source(n) is not None for n in names())


def test_make_each_source(tmp_path, photo_folder, lodopab_folder):
    from funknn import data

    photos = photo_folder(tmp_path / "photos", 5)
    ct = lodopab_folder(tmp_path / "ct")
    got = make("photos", split="test", short_side=32).collection()
    ref = data.embedded_photos("test", short_side=32)
    assert got.names == ref.names and all(torch.equal(a, b) for a, b in zip(got.images, ref.images))
    assert torch.equal(make("ellipses", split="test", count=3, size=16).tensor(),
                       data.ellipse_phantoms("test", 3, 16))
    assert isinstance(make("bumps"), data.RandomBumps)
    assert make("bumps", sigma_range=(0.2, 0.3)).sigma_range == (0.2, 0.3)
    folder = make("folder", path=photos, size=8, channels=1, limit=3)
    assert isinstance(folder, data.ImageFolder) and len(folder) == 3
    assert all(torch.equal(a, b) for a, b in zip(folder.collection().images,
                                                   data.image_folder(photos, 8, 1, limit=3).images))
    celeba = make("celeba-hq", root=photos, split="test", size=8, test_count=2)
    assert celeba.names == data.celeba_hq(photos, "test", 8, test_count=2).names == ["00003.jpg", "00004.png"]
    lsun = make("lsun-bedroom", root=photos, size=8, limit=2)
    assert torch.equal(lsun.tensor(), torch.stack(data.lsun_bedroom(photos, 8, 2).images))
    assert torch.equal(make("lodopab", root=ct, size=8, limit=4).tensor(),
                       data.lodopab_ct(ct, size=8, limit=4))


def test_make_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown dataset 'celeba'; expected one of \('bumps', 'celeba-hq'"):
        make("celeba")
    with pytest.raises(ValueError, match="'ellipses' has no argument 'colour'; its arguments: split, count"):
        make("ellipses", colour=3)
    with pytest.raises(ValueError, match="dataset 'folder' needs the argument 'path'"):
        make("folder", size=8)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make("folder", path=tmp_path / "missing")
    with pytest.raises(ValueError, match="unknown split"):
        make("ellipses", split="extra")


def test_register_by_decorator(monkeypatch):
    monkeypatch.setattr(registry_module, "_SOURCES", dict(registry_module._SOURCES))

    @register("constant")
    class Constant(funknn.data.Source):
        def __init__(self, count: int = 2, value: float = 0.5) -> None:
            self.count, self.value = count, value

        def __len__(self) -> int:
            return self.count

        def _decode(self, i: int) -> torch.Tensor:
            return torch.full((1, 4, 4), self.value)

    assert "constant" in names() and registry_module.source("constant") is Constant
    made = make("constant", count=3)
    assert isinstance(made, Constant) and made.tensor().shape == (3, 1, 4, 4)
    assert made.collection().names == ["0", "1", "2"]
    assert register("constant")(Constant) is Constant                # registering again is harmless
    with pytest.raises(ValueError, match="'constant' is already registered by .*Constant"):
        register("constant")(funknn.data.RandomBumps)
    with pytest.raises(ValueError, match="non-empty string"):
        register("")

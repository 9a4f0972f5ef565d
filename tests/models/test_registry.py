import pytest
from torch import nn

from funknn import models
from funknn.models import registry


class _Tiny(nn.Module):
    def __init__(self, in_channels: int = 3, width: int = 4) -> None:
        super().__init__()
        self.config = dict(in_channels=in_channels, width=width)


@pytest.fixture
def tiny():
    registry.register("tiny-test", task="super-resolution")(_Tiny)
    registry.register("tiny-test-wide", _Tiny, task="super-resolution", width=16)
    yield
    registry.unregister("tiny-test")
    registry.unregister("tiny-test-wide")


def test_every_family_registers_itself():
    assert models.names() == ["autoencoder", "funknn", "gasp", "interpolator", "liif", "liif-140k",
                              "liif-edsr", "realnvp", "unet"]
    assert models.names(task="super-resolution") == ["funknn", "liif", "liif-140k", "liif-edsr", "unet"]
    assert (models.names(task="autoencoder"), models.names(task="flow"), models.names(task="gasp")) == (
        ["autoencoder"], ["realnvp"], ["gasp"])
    assert registry.entry("liif-140k").cls is models.LIIF
    assert registry.entry("liif-140k").preset == {"preset": "140k"}
    assert registry.entry("interpolator").task is None
    assert models.register is registry.register and models.build is registry.build


def test_decorator_presets_and_build(tiny):
    assert models.build("tiny-test").config == {"in_channels": 3, "width": 4}
    assert models.build("tiny-test-wide", in_channels=1).config == {"in_channels": 1, "width": 16}
    assert "tiny-test" in models.names(task="super-resolution")
    assert models.model_class("_Tiny") is _Tiny
    with pytest.raises(ValueError, match="registered already"):
        registry.register("tiny-test")(_Tiny)


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown model 'nonet'; expected one of"):
        models.build("nonet")
    with pytest.raises(ValueError, match=r"takes no argument\(s\) \['depth'\]"):
        models.build("funknn", depth=3)
    with pytest.raises(ValueError, match="unknown model class 'Nonet'"):
        models.model_class("Nonet")
    with pytest.raises(ValueError, match="unknown model"):
        registry.unregister("nonet")


def test_presets_build_their_sizes():
    assert models.build("liif-140k").config["width"] == 32
    assert models.build("liif-edsr").config["blocks"] == 16

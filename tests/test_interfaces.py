"""The named interfaces: the model factory, the protocols, complete configs, the checkpoint
format's version check, one home per utility, and the installed wheel (the library alone: no book
code, and every module imports without the book's packages)."""

import ast
import inspect
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import torch

import funknn
from funknn import checkpoints
from funknn.models import build, complete_config, kind, names
from funknn.models.protocols import CellModel, CoordinateModel, FixedScaleModel
from funknn.sampling import as_size

SMALL = {"funknn": dict(in_channels=1, network="mlp"), "liif": dict(width=4, blocks=1, hidden=(8,)),
         "liif-edsr": {}, "liif-140k": {}, "unet": dict(width=4, depth=2),
         "autoencoder": dict(image_size=16, latent_dim=8, width=4, max_width=8),
         "realnvp": dict(dim=4, blocks=1, hidden=(8,)), "interpolator": dict(kernel="cubic_conv"),
         "gasp": dict(image_size=16, latent_dim=4, frequencies=4, hidden=(8,), hypernet=(8,),
                      disc_channels=(4,))}
ROOT = Path(__file__).resolve().parents[1]
#: what the book and the notebooks use and the library must not need at import time
BOOK_PACKAGES = ("matplotlib", "pandas", "myst_nb", "IPython")
#: run in a fresh interpreter: import funknn and every module of it with BOOK_PACKAGES blocked
IMPORT_EVERY_MODULE = f"""
import importlib, importlib.abc, pkgutil, sys
BLOCKED = {BOOK_PACKAGES!r}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{{name}} is blocked: the library must import without it", name=name)
        return None
assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED]
sys.meta_path.insert(0, Blocker())
import funknn
names = sorted(m.name for m in pkgutil.walk_packages(funknn.__path__, "funknn."))
for name in names:
    importlib.import_module(name)
print(funknn.__file__)
print(" ".join(names))
"""


def library_modules(root: Path) -> list[str]:
    """The dotted names of every module of ``root/funknn`` (packages included, ``funknn`` itself not)."""
    names = []
    for path in sorted((root / "funknn").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(n for n in names if n != "funknn")


@pytest.mark.parametrize("name", names())
def test_every_model_keeps_its_complete_constructor_arguments(name, tmp_path):
    model = build(name, **SMALL[name])
    params = set(inspect.signature(type(model)).parameters)
    assert set(model.config) == params, (name, set(model.config) ^ params)
    rebuilt = type(model)(**model.config)                       # the config alone rebuilds it
    assert rebuilt.config == model.config
    if name != "interpolator":
        funknn.save(model, tmp_path / "m.pt")
        loaded = funknn.load(tmp_path / "m.pt")
        assert loaded.config == model.config
        pairs = zip(loaded.state_dict().values(), model.state_dict().values())
        assert all(torch.equal(a, b) for a, b in pairs)


def test_build_errors():
    with pytest.raises(ValueError, match="unknown model 'gan'"):
        build("gan")
    with pytest.raises(ValueError, match="takes no argument"):
        build("funknn", colour=True)


def test_old_files_with_partial_configs_load_and_resume(tmp_path):
    from funknn.training import TrainConfig, train

    photos = funknn.data.embedded_photos("train", short_side=48)
    model = funknn.FunkNN(3, network="mlp")
    config = TrainConfig(mode="single", size=16, steps=1, batch_images=2, batch_pixels=8, checkpoint_every=1)
    train(model, photos, config, checkpoint=tmp_path / "run.pt", progress=False)
    record = torch.load(tmp_path / "run.pt", weights_only=True)
    for key in ("boundary", "output_init", "centred_input"):   # keys older files lack
        del record["model_config"][key]
    checkpoints.write_atomic(record, tmp_path / "run.pt")
    assert funknn.load(tmp_path / "run.pt").config == model.config
    more = TrainConfig(**{**config.__dict__, "steps": 2})
    history = train(funknn.FunkNN(3, network="mlp"), photos, more, checkpoint=tmp_path / "run.pt",
                    progress=False)
    assert history["step"] == [1, 2]
    assert complete_config(funknn.FunkNN, {"in_channels": 1}) == funknn.FunkNN(1).config


def test_checkpoint_version_check(tmp_path):
    funknn.save(build("realnvp", dim=4), tmp_path / "f.pt")
    record = torch.load(tmp_path / "f.pt", weights_only=True)
    checkpoints.write_atomic({**record, "version": "99.0.0"}, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="written by funknn 99.0.0"):
        funknn.load(tmp_path / "future.pt")
    checkpoints.write_atomic({**record, "format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a funknn checkpoint"):
        checkpoints.read(tmp_path / "other.pt")


def test_protocols_name_what_a_model_can_do():
    unet, liif, fk = build("unet", width=4, depth=2), build("liif", **SMALL["liif"]), build("funknn")
    assert isinstance(unet, FixedScaleModel) and not isinstance(fk, FixedScaleModel)
    assert isinstance(liif, CellModel) and not isinstance(build("autoencoder"), CellModel)
    assert isinstance(fk, CoordinateModel)
    assert [kind(m) for m in (unet, liif, fk)] == ["fixed_scale", "cell", "coordinate"]
    with pytest.raises(TypeError, match="not a model"):
        kind(3)


def test_a_plain_function_is_a_coordinate_model():
    def blur(coords, image):          # no nn.Module, no attributes: the protocol is all it needs
        return funknn.sample(image, coords, "bilinear")

    low = torch.rand(2, 3, 8, 8)
    plain = funknn.render(funknn.Interpolator("bilinear"), low, 16)
    assert torch.allclose(funknn.render(blur, low, 16), plain)
    result = funknn.evaluate(blur, torch.rand(2, 3, 32, 32), 8, scales=(2,))
    assert result[2]["snr"].shape == (2,)


def test_as_size_is_the_one_size_check():
    assert as_size(3) == (3, 3) and as_size((2, 5)) == (2, 5) and as_size(torch.Size([4, 6])) == (4, 6)
    for bad in (0, (1, 2, 3), "12", (0, 4)):
        with pytest.raises(ValueError, match="size"):
            as_size(bad)


def test_no_private_name_is_used_outside_its_module():
    """``from x import _name`` and ``obj._name`` on anything but self/cls are not allowed."""
    def private(name: str) -> bool:
        return name.startswith("_") and not name.endswith("__")

    offenders = []
    for path in sorted((ROOT / "funknn").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                offenders += [f"{path.name}: import {a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
            elif isinstance(node, ast.Attribute) and private(node.attr):
                if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    offenders.append(f"{path.name}:{node.lineno}: .{node.attr}")
    assert not offenders, offenders


def test_the_library_imports_without_the_books_packages():
    """Every module of funknn imports with matplotlib, pandas, myst_nb and IPython unavailable:
    plotting, tables and glue are the book's (funknn_book), never the library's."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", IMPORT_EVERY_MODULE], capture_output=True, text=True, env=env,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    where, imported = out.stdout.splitlines()
    assert Path(where).is_relative_to(ROOT / "funknn") and imported.split() == library_modules(ROOT)
    assert not [n for n in library_modules(ROOT) if "book" in n or "plotting" in n]


@pytest.mark.slow
def test_the_wheel_installs_and_loads_a_pretrained_model(tmp_path):
    """A wheel built from the repository, installed into a fresh virtual environment (the
    dependencies come from this environment's site-packages, funknn only from the wheel), runs
    funknn.pretrained("photos_factor") from outside the source tree. The wheel holds the library
    and its checkpoints only (every module of funknn/, no book code), and every module of it
    imports with the book's packages blocked."""
    source = tmp_path / "source"          # a copy: the build leaves nothing in the repository
    for part in ("funknn", "data/checkpoints"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(source)], check=True)
    wheel = next(wheels.glob("funknn-*.whl"))
    files = zipfile.ZipFile(wheel).namelist()
    code_files = sorted(f for f in files if f.endswith(".py"))
    assert code_files == sorted(str(p.relative_to(ROOT)) for p in (ROOT / "funknn").rglob("*.py"))
    assert all(f.startswith(("funknn/", "funknn-")) for f in files), files
    assert not [f for f in files if "book" in f or "plotting" in f], files
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    deps = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "deps.pth").write_text("\n".join(deps) + "\n")   # plain paths: no editable finder runs
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)],
                   check=True)
    code = ("import funknn, torch; m = funknn.pretrained('photos_factor'); "
            "print(funknn.__file__); print(funknn.render(m, torch.rand(1, 3, 8, 8), 16).shape)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FUNKNN_CHECKPOINTS")}
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path,
                         env=env).stdout.split("\n")
    assert out[0].startswith(site) and out[1] == "torch.Size([1, 3, 16, 16])", out
    blocked = subprocess.run([str(python), "-c", IMPORT_EVERY_MODULE], capture_output=True, text=True,
                             cwd=tmp_path, env=env)
    assert blocked.returncode == 0, blocked.stderr
    where, imported = blocked.stdout.splitlines()
    assert where.startswith(site) and imported.split() == library_modules(ROOT)

"""Every shipped checkpoint has its recipe in configs/, the recipe agrees with what the checkpoint
records (its command, model and training settings) and with data/checkpoints/README.md, and every
recipe runs for 2 steps on tiny data."""

import re
import shlex
from pathlib import Path

import pytest

import funknn
from funknn.checkpoints import read, stored_config
from funknn.cli import build_parser, main
from funknn.cli.options import spec_from_args
from funknn.config import TASKS, RunSpec
from funknn.models import build

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = ROOT / "data" / "checkpoints"
RECIPES = sorted((ROOT / "configs").glob("*.yaml"))
NAMES = [p.stem for p in RECIPES]


def _spec_of_command(command: str) -> RunSpec:
    """The recipe a recorded command line ``python -m funknn train …`` stands for."""
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "funknn"], command
    return spec_from_args(build_parser().parse_args(argv[3:]))


def _comparable(spec: RunSpec) -> dict:
    """A recipe without where it writes (the shipped GASP was trained elsewhere, then released)."""
    recipe = spec.to_dict(full=True)
    for key in ("out", "release"):
        recipe.pop(key, None)
    return recipe


def test_one_recipe_per_shipped_checkpoint():
    assert NAMES == sorted(p.stem for p in CHECKPOINTS.glob("*.pt"))
    for path in RECIPES:
        assert RunSpec.from_yaml(path).out == f"data/checkpoints/{path.stem}.pt"


@pytest.mark.parametrize("name", NAMES)
def test_recipe_agrees_with_its_checkpoint(name):
    recipe = RunSpec.from_yaml(ROOT / "configs" / f"{name}.yaml")
    record = read(CHECKPOINTS / f"{name}.pt")
    assert _comparable(_spec_of_command(record["meta"]["command"])) == _comparable(recipe)
    dim = {"dim": stored_config(record)["dim"]} if recipe.task == "flow" else {}
    fixed = {"in_channels": 1} if "in_channels" in TASKS[recipe.task].fixed else {}
    model = build(recipe.model.name, **recipe.model.args, **dim, **fixed)
    assert type(model).__name__ == record["model_class"]
    assert model.config == stored_config(record)
    trained = record["meta"]["train_config"]
    for key, value in trained.items():
        if key in TASKS[recipe.task].hidden:
            continue
        got = getattr(recipe.training, key)
        assert (list(got) if isinstance(got, tuple) else got) == (list(value) if isinstance(value, tuple)
                                                                  else value), key
    assert recipe.release == ("released" in record["meta"])


def _readme_commands() -> dict[str, list[str]]:
    """name → the commands of its 'produced by' cell in data/checkpoints/README.md."""
    rows = {}
    for line in (CHECKPOINTS / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`\w+`", cells[0]):
            rows[cells[0].strip("`")] = re.findall(r"`(python -m funknn [^`]+)`", cells[2])
    return rows


def test_checkpoints_readme_agrees_with_the_recipes():
    rows = _readme_commands()
    assert sorted(rows) == NAMES
    for name, commands in rows.items():
        recipe = RunSpec.from_yaml(ROOT / "configs" / f"{name}.yaml")
        train = [c for c in commands if " release " not in c + " "]
        assert len(train) == 1, (name, commands)
        assert _comparable(_spec_of_command(train[0])) == _comparable(recipe), name
        assert any(c.startswith("python -m funknn release") for c in commands) == recipe.release, name


#: per task, the options that make a recipe's data and batches tiny
TINY = {"super-resolution": ["--count", "4", "--short-side", "32", "--size", "16", "--batch-images", "2",
                             "--batch-pixels", "16"],
        "autoencoder": ["--count", "4", "--batch", "2"],
        "flow": ["--count", "4", "--batch", "2",
                 "--autoencoder", str(CHECKPOINTS / "ellipses40k_autoencoder.pt")],
        "gasp": ["--count", "4", "--batch", "2", "--size", "16"]}


@pytest.mark.parametrize("name", NAMES)
def test_every_recipe_trains_two_steps(name, tmp_path, capsys):
    recipe = RunSpec.from_yaml(ROOT / "configs" / f"{name}.yaml")
    out = tmp_path / f"{name}.pt"
    config = str(ROOT / "configs" / f"{name}.yaml")
    assert main(["train", "--config", config, "--steps", "2", "--out", str(out), "--no-progress",
                 *TINY[recipe.task]]) == 0
    model = funknn.load(out)
    assert model.meta["steps"] == 2 and model.meta["command"].startswith("python -m funknn train --config")
    ran = RunSpec.from_dict(model.meta["recipe"])
    assert ran.task == recipe.task and ran.model.name == recipe.model.name
    assert ran.training.lr == recipe.training.lr and ran.training.seed == recipe.training.seed
    assert ("released" in model.meta) == recipe.release


def test_options_override_the_recipe(tmp_path, capsys):
    config = str(ROOT / "configs" / "ellipses64_factor.yaml")
    out = tmp_path / "m.pt"
    assert main(["train", "--config", config, "--steps", "2", "--lr", "3e-4", "--network", "cnn",
                 "--out", str(out), "--no-progress", *TINY["super-resolution"]]) == 0
    model = funknn.load(out)
    assert model.config["network"] == "cnn" and model.config["kernel"] == "cubic_conv"   # the recipe's
    trained = model.meta["train_config"]
    assert (trained["lr"], trained["lr_drop_at"], trained["mode"]) == (3e-4, 3600, "factor")
    assert "ellipse" in model.meta["data"]


def test_a_recipe_runs_only_under_its_task(tmp_path, capsys):
    config = str(ROOT / "configs" / "photos_factor.yaml")
    assert main(["train-gasp", "--config", config, "--out", str(tmp_path / "g.pt")]) == 2
    assert "is a recipe of train (task 'super-resolution'), not of train-gasp" in capsys.readouterr().err

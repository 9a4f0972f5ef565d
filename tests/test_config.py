from pathlib import Path

import pytest

from funknn.config import CHOICES, TASKS, DataSpec, EvalSpec, RunSpec
from funknn.generative import FitConfig, GASPConfig
from funknn.training import LOSSES, MODES, TrainConfig

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_defaults_are_the_librarys():
    spec = RunSpec()
    assert spec.task == "super-resolution" and spec.model.name == "funknn" and spec.training == TrainConfig()
    assert RunSpec.default("autoencoder").training == FitConfig()
    assert RunSpec.default("gasp").training == GASPConfig()
    assert RunSpec.default("flow").data.name == "ellipses"
    assert CHOICES["mode"] == MODES and CHOICES["loss"] == LOSSES
    assert set(CHOICES["task"]) == set(TASKS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_recipes_round_trip(path, tmp_path):
    spec = RunSpec.from_yaml(path)
    for full in (False, True):
        again = RunSpec.from_yaml(Path(spec.to_yaml(tmp_path / "r.yaml", full=full) and tmp_path / "r.yaml"))
        assert again == spec


def test_a_recipe_names_what_it_changes():
    spec = RunSpec.from_dict({"model": {"name": "unet", "bicubic_skip": False},
                              "training": {"mode": "single", "lr": "1e-3"}, "out": "x.pt"})
    assert spec.training.lr == 1e-3 and isinstance(spec.training.lr, float)     # YAML 1.1 reads 1e-3 as text
    assert spec.to_dict() == {"task": "super-resolution", "model": {"name": "unet", "bicubic_skip": False},
                              "training": {"mode": "single", "lr": 1e-3}, "out": "x.pt"}
    gasp = RunSpec.from_dict({"task": "gasp", "training": {"betas": [0.0, 0.9]}})
    assert gasp.training.betas == (0.0, 0.9)


@pytest.mark.parametrize("recipe,message", [
    ({"stepz": 1}, "r.yaml: unknown key 'stepz' in the recipe"),
    ({"training": {"stepz": 1}}, "r.yaml: unknown key 'stepz' in training"),
    ({"data": {"size": 1}}, "r.yaml: unknown key 'size' in data"),
    ({"model": {"name": "funknn", "depth": 2}}, "r.yaml: unknown key 'depth' in model"),
    ({"task": "autoencoder", "model": {"in_channels": 3}}, "unknown key 'in_channels' in model"),
    ({"task": "flow", "training": {"perceptual": "vgg"}}, "unknown key 'perceptual' in training"),
    ({"task": "painting"}, "r.yaml: unknown task 'painting'"),
    ({"model": {"name": "nonet"}}, "r.yaml: unknown model 'nonet'"),
    ({"model": {"name": "gasp"}}, "model 'gasp' is not trained by task 'super-resolution'"),
    ({"model": {"network": "rnn"}}, "unknown network 'rnn'"),
    ({"model": {"patch_size": 9.5}}, "patch_size must be int, got 9.5"),
    ({"model": {"centred_input": "yes"}}, "centred_input must be bool"),
    ({"training": {"steps": 0}}, "r.yaml: steps must be positive, got 0"),
    ({"training": {"loss": "huber"}}, "unknown loss 'huber'"),
    ({"training": {"lr": "fast"}}, "lr must be float, got 'fast'"),
    ({"task": "gasp", "training": {"betas": 0.5}}, "betas must be a list"),
    ({"data": {"count": 0}}, "count must be positive"),
    ({"amp": "fp8"}, "unknown amp 'fp8'"),
    ({"accumulate": 0}, "accumulate must be positive"),
    ({"training": [1, 2]}, "training must be a mapping"),
    ([1, 2], "a recipe must be a mapping"),
])
def test_bad_recipes_name_the_key_and_the_file(recipe, message):
    with pytest.raises(ValueError, match="^r.yaml: ") as err:
        RunSpec.from_dict(recipe, where="r.yaml")
    assert message in str(err.value)


def test_bad_recipe_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RunSpec.from_yaml(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("model: [unclosed\n")
    with pytest.raises(ValueError, match="bad.yaml: not a YAML recipe"):
        RunSpec.from_yaml(tmp_path / "bad.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert RunSpec.from_yaml(tmp_path / "empty.yaml") == RunSpec()


def test_data_and_evaluation_settings_are_checked():
    with pytest.raises(ValueError, match="short_side must be positive"):
        DataSpec(short_side=0)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        EvalSpec(split="dev")
    with pytest.raises(ValueError, match="scales must be positive"):
        EvalSpec(scales=())


def test_recipe_builds_the_shipped_checkpoints_model():
    import funknn
    from funknn.config import recipe

    spec = recipe("photos_unet_paper")
    assert spec.task == "super-resolution" and spec.training.steps == 1500
    shipped = funknn.checkpoints.read(funknn.pretrained_path("photos_unet_paper"))
    assert spec.model.build().config == funknn.checkpoints.stored_config(shipped)
    wider = spec.model.build(width=8)
    assert wider.config["width"] == 8 and wider.config["depth"] == shipped["model_config"]["depth"]
    with pytest.raises(FileNotFoundError, match=r"no recipe 'nope' in .*recipes there: \[.*'photos_factor'"):
        recipe("nope")


def test_changed_departs_from_a_recipe_and_names_a_wrong_key():
    from funknn.config import recipe

    spec = recipe("ellipses64_gasp")
    paper = spec.changed(model=dict(frequencies=128, hidden=None), training=dict(steps=7, batch=None))
    assert paper.model.args["frequencies"] == 128 and paper.model.args["hidden"] == spec.model.args["hidden"]
    assert paper.training.steps == 7 and paper.training.batch == spec.training.batch
    assert spec.training.steps == 12000                                  # the recipe itself is unchanged
    assert paper.model.build(image_size=16).config["frequencies"] == 128
    with pytest.raises(ValueError, match=r"unknown key 'batch_images' in training of task 'gasp'"):
        spec.changed(training=dict(batch_images=4))
    with pytest.raises(ValueError, match=r"unknown key 'colour' in model 'gasp'"):
        spec.changed(model=dict(colour=3))

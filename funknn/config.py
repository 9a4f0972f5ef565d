"""Run recipes: a :class:`RunSpec` (task, model, data, training settings) that loads from YAML.

A recipe is what ``python -m funknn train --config FILE`` runs; ``configs/`` holds one per
shipped checkpoint. Every setting a recipe leaves out takes the library's default: the task's
config dataclass (:class:`~funknn.tasks.super_resolution.TrainConfig`, :class:`~funknn.generative.FitConfig`,
:class:`~funknn.generative.FlowConfig`, :class:`~funknn.generative.GASPConfig`), the model's
constructor and :class:`DataSpec`. The command line's options and their choices are made from
the same fields (``funknn.cli``), so the two cannot drift apart. A recipe with a key that no
field has, a value of the wrong type or out of range is refused with a ``ValueError`` naming the
key and the file.

Example:
    >>> spec = RunSpec.from_dict({"model": {"name": "funknn", "network": "mlp"},
    ...                           "training": {"mode": "single", "steps": 10}})
    >>> spec.task, spec.model.args, spec.training.steps, spec.data.name
    ('super-resolution', {'network': 'mlp'}, 10, 'photos')
    >>> RunSpec.from_dict({"training": {"stepz": 10}}, where="x.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: x.yaml: unknown key 'stepz' in training; expected one of ['batch_images', ...]
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import checks
from .engine import AMP
from .generative import PERCEPTUAL, FitConfig, FlowConfig, GASPConfig
from .models import NETWORKS
from .models.funknn import ACTIVATIONS
from .models.gasp import POOLS
from .models.registry import build, entry, names
from .sampling import BOUNDARIES, KERNELS
from .tasks.super_resolution import LOSSES, MODES, TrainConfig

__all__ = ["CHOICES", "TASKS", "DataSpec", "EvalSpec", "ModelSpec", "RunSpec", "Task",
           "field_types", "recipe"]

#: image channels: grey or RGB
CHANNELS = (1, 3)
#: the data splits of every source
SPLITS = ("train", "validation", "test")


@dataclass
class DataSpec:
    """Where the training images come from.

    Attributes:
        name: ``"photos"`` (the embedded photos), ``"bumps"`` (Gaussian bumps, grey),
            ``"ellipses"`` (random-ellipse phantoms, grey), ``"lodopab:DIR"`` (LoDoPaB-CT's HDF5
            files) or a folder of images (e.g. CelebA-HQ).
        count: number of images (phantoms, LoDoPaB slices, folder images).
        short_side: embedded photos: short side after resizing; phantoms: their side.
        stream: read a folder / ``lodopab:DIR`` lazily with DataLoader workers instead of into memory.
        cache: with ``stream``: folder of a uint8 cache of the resized images.
        workers: DataLoader worker processes for ``stream`` (None: sized to the machine).
    """

    name: str = "photos"
    count: int = 1000
    short_side: int = 256
    stream: bool = False
    cache: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        checks.positive(self, "count", "short_side")
        if self.workers is not None:
            checks.non_negative(self, "workers")


@dataclass
class EvalSpec:
    """Settings of ``python -m funknn evaluate`` and ``render``.

    Attributes:
        split: the data split to evaluate on. tile: side of the ground-truth tiles.
        low_size: side of the low-resolution inputs. scales: super-resolution factors.
        limit: at most this many tiles (None: all). chunk: queries per rendering pass.
    """

    split: str = "test"
    tile: int = 128
    low_size: int = 32
    scales: tuple[int, ...] = (2, 4)
    limit: int | None = None
    chunk: int = 1024

    def __post_init__(self) -> None:
        checks.choice(self, "split", SPLITS)
        checks.positive(self, "tile", "low_size", "chunk")
        if self.limit is not None:
            checks.positive(self, "limit")
        if not self.scales or min(self.scales) < 1:
            raise ValueError(f"scales must be positive integers, got {list(self.scales)}")


@dataclass(frozen=True)
class Task:
    """What a recipe trains and how the command line offers it.

    Attributes:
        command: the subcommand (``train``, ``train-autoencoder`` …).
        config: the training settings' dataclass.
        model: the task's default model (a registry name).
        data: the default data.
        data_fields: the :class:`DataSpec` fields the task uses.
        renamed: model argument → option name (``in_channels`` → ``channels``).
        fixed: model arguments the task sets itself (not options, not in recipes).
        hidden: training fields the task does not use.
    """

    command: str
    config: type
    model: str
    data: DataSpec
    data_fields: tuple[str, ...] = ("name", "count", "stream", "cache", "workers")
    renamed: dict[str, str] = field(default_factory=dict)
    fixed: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()


#: the tasks a recipe can name, by ``task:``
TASKS: dict[str, Task] = {
    "super-resolution": Task("train", TrainConfig, "funknn", DataSpec("photos", count=1000),
                             data_fields=("name", "count", "short_side", "stream", "cache", "workers"),
                             renamed={"in_channels": "channels"}),
    "autoencoder": Task("train-autoencoder", FitConfig, "autoencoder", DataSpec("ellipses", count=4000),
                        renamed={"image_size": "size"}, fixed=("in_channels",)),
    "flow": Task("train-flow", FlowConfig, "realnvp", DataSpec("ellipses", count=4000), fixed=("dim",),
                 hidden=("perceptual", "perceptual_weight", "vgg_weights")),
    "gasp": Task("train-gasp", GASPConfig, "gasp", DataSpec("ellipses", count=4000),
                 renamed={"image_size": "size"}, fixed=("in_channels",)),
}

#: the data settings that say which data (the others say how they are read)
_DATA_IDENTITY = ("name", "count", "short_side")

#: the allowed values of named settings wherever they occur (training, model, data, run)
CHOICES: dict[str, tuple[Any, ...]] = {
    "mode": MODES, "loss": LOSSES, "perceptual": PERCEPTUAL, "amp": AMP, "network": NETWORKS,
    "activation": ACTIVATIONS, "kernel": KERNELS, "boundary": BOUNDARIES, "in_channels": CHANNELS,
    "couplings": (1, 2), "split": SPLITS, "task": tuple(TASKS), "disc_pool": POOLS,
}


@dataclass(eq=False)
class ModelSpec:
    """A registered model (:func:`funknn.models.names`) and the constructor arguments a recipe
    gives it (the others take the constructor's defaults). Two specs are equal when they build
    the same model: the same name and the same complete arguments."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelSpec):
            return NotImplemented
        return self.name == other.name and _plain(self.complete()) == _plain(other.complete())

    def parameters(self) -> dict[str, inspect.Parameter]:
        """The constructor arguments of the model's class."""
        return dict(inspect.signature(entry(self.name).cls).parameters)

    def complete(self) -> dict[str, Any]:
        """Every constructor argument: the given ones, else the constructor's defaults."""
        full = {k: p.default for k, p in self.parameters().items()
                if p.default is not inspect.Parameter.empty}
        return {**full, **self.args}

    def build(self, **changes: Any) -> Any:
        """The model, untrained: :func:`funknn.models.build` of the recipe's arguments, with
        ``changes`` (constructor arguments) overriding them."""
        return build(self.name, **{**self.args, **changes})

    def minimal(self) -> dict[str, Any]:
        """The given arguments that differ from the constructor's defaults."""
        defaults = {k: p.default for k, p in self.parameters().items()}
        return {k: v for k, v in self.args.items() if not _same(v, defaults.get(k, inspect.Parameter.empty))}


@dataclass
class RunSpec:
    """One training run: task, model, data, training settings and where the checkpoint goes.

    Attributes:
        task: one of :data:`TASKS`.
        model: the model and its constructor arguments.
        data: the training data.
        training: the task's config dataclass (e.g. :class:`~funknn.tasks.super_resolution.TrainConfig`).
        out: the checkpoint file (resumed if it exists).
        autoencoder: task ``flow``: the autoencoder checkpoint whose latent codes the flow learns.
        accumulate: parts of the global batch per process (gradient accumulation).
        amp: mixed precision of the forward passes (super-resolution).
        compile: ``torch.compile`` the model (super-resolution).
        release: after training, drop the optimiser state (``python -m funknn release``).
    """

    task: str = "super-resolution"
    model: ModelSpec = field(default_factory=lambda: ModelSpec("funknn"))
    data: DataSpec = field(default_factory=DataSpec)
    training: Any = field(default_factory=TrainConfig)
    out: str | None = None
    autoencoder: str | None = None
    accumulate: int = 1
    amp: str = "off"
    compile: bool = False
    release: bool = False

    def __post_init__(self) -> None:
        checks.choice(self, "task", tuple(TASKS))
        checks.positive(self, "accumulate")
        checks.choice(self, "amp", AMP)
        allowed = names(task=self.task)
        if self.model.name not in allowed:
            raise ValueError(f"model {self.model.name!r} is not trained by task {self.task!r}; "
                             f"expected one of {allowed}")
        config = TASKS[self.task].config
        if type(self.training) is not config:
            raise ValueError(f"task {self.task!r} takes training settings {config.__name__}, "
                             f"got {type(self.training).__name__}")

    def changed(self, model: dict[str, Any] | None = None, training: dict[str, Any] | None = None) -> RunSpec:
        """A copy with some constructor arguments (``model``) and training settings (``training``)
        changed, as a profile departs from a recipe; ``None`` values are left out (papermill's "not
        given").

        Raises:
            ValueError: a training setting the task's config does not have (checked values are
                checked again), or a model argument the model does not take.
        """
        def given(changes: dict[str, Any] | None) -> dict[str, Any]:
            return {k: v for k, v in (changes or {}).items() if v is not None}

        args = {**self.model.args, **given(model)}
        _unknown(args, list(self.model.parameters()), f"model {self.model.name!r}")
        settings = given(training)
        _unknown(settings, _fields(type(self.training)), f"training of task {self.task!r}")
        return dataclasses.replace(self, model=ModelSpec(self.model.name, args),
                                   training=dataclasses.replace(self.training, **settings))

    @classmethod
    def default(cls, task: str = "super-resolution") -> RunSpec:
        """The recipe of ``task`` with every setting at its default."""
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {tuple(TASKS)}")
        t = TASKS[task]
        return cls(task=task, model=ModelSpec(t.model), data=dataclasses.replace(t.data), training=t.config())

    @classmethod
    def from_dict(cls, recipe: Any, where: str = "recipe") -> RunSpec:
        """A spec from a recipe's mapping; ``where`` (the file) starts every error message."""
        try:
            return _from_dict(cls, recipe, where)
        except ValueError as err:
            message = str(err)
            raise ValueError(message if message.startswith(where) else f"{where}: {message}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunSpec:
        """Read a recipe file.

        Raises:
            FileNotFoundError: no such file. ValueError: not YAML, or a key or value the
                recipe may not have (the message names it and the file).
        """
        import yaml

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"recipe {str(path)!r} does not exist")
        try:
            recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ValueError(f"{path}: not a YAML recipe: {first}") from None
        return cls.from_dict(recipe, where=str(path))

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        """The recipe as a mapping: what differs from the defaults, or with ``full`` every setting
        (what a shipped recipe holds, so that a change of a library default cannot change it)."""
        t = TASKS[self.task]
        model = {"name": self.model.name, **(_model_full(self.model, t) if full else self.model.minimal())}
        recipe: dict[str, Any] = {"task": self.task, "model": model}
        hidden = set(t.hidden)
        config_fields = [n for n in _fields(t.config) if n not in hidden]
        data = {**_changed(self.data, t.data, [n for n in t.data_fields if n in _DATA_IDENTITY], full),
                **_changed(self.data, t.data, [n for n in t.data_fields if n not in _DATA_IDENTITY])}
        training = _changed(self.training, t.config(), config_fields, full)
        run_fields = ["out", "accumulate", "release"] + (["autoencoder"] if self.task == "flow" else []) + (
            ["amp", "compile"] if self.task == "super-resolution" else [])
        run = _changed(self, RunSpec(), run_fields, full)
        for key, part in (("data", data), ("training", training)):
            if part:
                recipe[key] = part
        return _plain({**recipe, **run})

    def to_yaml(self, path: str | Path | None = None, full: bool = False, header: str = "") -> str:
        """The recipe as YAML text (written to ``path`` if given), after ``header`` as comments."""
        import yaml

        comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
        text = comments + yaml.safe_dump(self.to_dict(full), sort_keys=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def field_types(owner: Any) -> dict[str, Any]:
    """The resolved type of every field of a dataclass, or of every constructor argument of a
    class (its annotations)."""
    target = owner if dataclasses.is_dataclass(owner) else owner.__init__
    hints = typing.get_type_hints(target)
    return {k: v for k, v in hints.items() if k != "return"}


def _fields(config: Any) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(config))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    numbers = isinstance(a, float) and isinstance(b, int | float)
    return bool(a == b) and (type(a) is type(b) or numbers)


def _changed(obj: Any, default: Any, names: Sequence[str], full: bool = False) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names if full or not _same(getattr(obj, n), getattr(default, n))}


def _model_full(model: ModelSpec, task: Task) -> dict[str, Any]:
    """Every constructor argument of ``model`` but those the task sets; a name with a preset
    (``liif-140k``) stands for its sizes, so only the arguments given beside it."""
    if entry(model.name).preset:
        return model.minimal()
    return {k: v for k, v in model.complete().items() if k not in task.fixed}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a mapping of settings, got {value!r}")
    return dict(value)


def _unknown(given: dict[str, Any], allowed: Sequence[str], what: str) -> None:
    for key in given:
        if key not in allowed:
            raise ValueError(f"unknown key {key!r} in {what}; expected one of {sorted(allowed)}")


def _typed(key: str, value: Any, hint: Any) -> Any:
    """``value`` checked against (and, for numbers, converted to) the type ``hint``."""
    origin, parts = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in parts:
            return None
        errors = []
        for part in (p for p in parts if p is not type(None)):
            try:
                return _typed(key, value, part)
            except ValueError as err:
                errors.append(err)
        raise errors[0]
    if origin in (tuple, list) or (origin is not None and issubclass(origin, Sequence) and origin is not str):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{key} must be a list, got {value!r}")
        item = parts[0] if parts else Any
        items = [_typed(key, v, item) for v in value]
        return tuple(items) if origin is tuple else items
    return _scalar(key, value, hint)


def _scalar(key: str, value: Any, hint: Any) -> Any:
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        if isinstance(value, str):          # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:
        return value
    if not ok:
        raise ValueError(f"{key} must be {hint.__name__}, got {value!r}")
    if key in CHOICES and value not in CHOICES[key]:
        raise ValueError(f"unknown {key} {value!r}; expected one of {CHOICES[key]}")
    return value


def _settings(given: dict[str, Any], hints: dict[str, Any], allowed: Sequence[str], what: str
              ) -> dict[str, Any]:
    _unknown(given, allowed, what)
    return {k: _typed(k, v, hints[k]) if k in hints else v for k, v in given.items()}


def _model(recipe: dict[str, Any], task: Task) -> ModelSpec:
    given = _mapping(recipe.get("model"), "model")
    name = given.pop("name", task.model)
    if not isinstance(name, str):
        raise ValueError(f"model.name must be a model's name, got {name!r}")
    entry(name)
    spec = ModelSpec(name)
    allowed = [k for k in spec.parameters() if k not in task.fixed]
    spec.args = _settings(given, field_types(entry(name).cls), allowed, "model")
    return spec


def _from_dict(cls: type[RunSpec], recipe: Any, where: str) -> RunSpec:
    recipe = _mapping(recipe, "a recipe")
    top = [f.name for f in dataclasses.fields(cls)]
    _unknown(recipe, top, "the recipe")
    task_name = recipe.get("task", "super-resolution")
    if task_name not in TASKS:
        raise ValueError(f"unknown task {task_name!r}; expected one of {tuple(TASKS)}")
    task = TASKS[task_name]
    model = _model(recipe, task)
    data_given = _mapping(recipe.get("data"), "data")
    data = dataclasses.replace(task.data,
                               **_settings(data_given, field_types(DataSpec), task.data_fields, "data"))
    config = task.config
    allowed = [n for n in _fields(config) if n not in task.hidden]
    training = config(**_settings(_mapping(recipe.get("training"), "training"), field_types(config), allowed,
                                  "training"))
    run_fields = ("out", "autoencoder", "accumulate", "amp", "compile", "release")
    given = {k: v for k, v in recipe.items() if k in run_fields}
    run = _settings(given, field_types(cls), run_fields, "recipe")
    return cls(task=task_name, model=model, data=data, training=training, **run)


#: where the shipped checkpoints' recipes are, the ``configs/`` folder of a clone (not in the wheel)
_RECIPES = Path(__file__).resolve().parents[1] / "configs"


def recipe(name: str, directory: str | Path | None = None) -> RunSpec:
    """The recipe that made the shipped checkpoint ``name`` (``configs/<name>.yaml``), e.g. for a
    chapter that retrains it: ``spec.model.build()`` and ``spec.training`` (changed with
    :meth:`RunSpec.changed` where a profile departs from it).

    Raises:
        FileNotFoundError: no such recipe in ``directory`` (default: the clone's ``configs/``); the
            message lists the recipes there.
    """
    folder = Path(directory) if directory is not None else _RECIPES
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise FileNotFoundError(f"no recipe {name!r} in {folder} (the repository's configs/ folder, not "
                                f"in the wheel); recipes there: {known}")
    return RunSpec.from_yaml(path)

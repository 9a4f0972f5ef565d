"""The command line's options, made from the recipe's fields (:mod:`funknn.config`) and the model
registry (:mod:`funknn.models.registry`): a training subcommand has one option per field of its
task's config dataclass, per :class:`~funknn.config.DataSpec` field it uses, per constructor
argument of its models and per run setting. Their defaults are the recipe's values (a
``--config`` file, else the library's defaults) and their choices :data:`funknn.config.CHOICES`,
so no default or choice is written twice.

The task's default model takes its arguments unprefixed (``--network``); the other model
families of the task take them with the family's name (``--unet-width``). A name that a model
argument and a training field share (GASP's ``seed``) is one option that sets both.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import typing
from dataclasses import dataclass
from typing import Any

from ..config import CHOICES, TASKS, DataSpec, ModelSpec, RunSpec, field_types
from ..models.registry import entry, names

__all__ = ["Option", "add_option", "add_task_options", "spec_from_args"]

#: help of the options whose name alone does not say enough
HELP = {
    "model": "the model (a registered name of funknn.models)",
    "unet_width": "U-Net: channels of the first level", "unet_depth": "U-Net: number of levels",
    "unet_bicubic_skip": "U-Net: add its output to the bicubic up-sampling (--no-unet-bicubic-skip: the "
                         "paper's U-Net)",
    "gradient_weight": "weight of a loss on spatial gradients (needs --data bumps)",
    "laplacian_weight": "weight of a loss on Laplacians (needs --data bumps and --kernel cubic_conv)",
    "boundary": "continuation beyond the border ('extrapolate': cubic_conv only)",
    "output_init": "initial scale of the output layer (0: start as plain interpolation; 1: PyTorch's "
                   "default, the paper)",
    "centred_input": "feed the network the patch minus its centre value (--no-centred-input: the raw patch, "
                     "the paper)",
    "count": "number of images (phantoms, LoDoPaB slices, folder images)",
    "size": "side of the high-resolution crops (train) or of the model's images",
    "short_side": "embedded photos: short side after resizing; phantoms: their side",
    "amp": "mixed precision of the forward passes (bf16 / fp16 with a gradient scaler)",
    "compile": "torch.compile the model (first steps compile)",
    "lr_drop_at": "from this step on, the learning rate times --lr-drop (0: never)",
    "out": "checkpoint file (resumed if it exists)",
    "accumulate": "parts of the global batch per process (gradient accumulation); under torchrun the batch "
                  "is cut into world size × accumulate parts",
    "stream": "read a folder / lodopab:DIR lazily with DataLoader workers instead of into memory",
    "cache": "with --stream: folder of a uint8 cache of the resized images",
    "workers": "DataLoader worker processes for --stream (default: sized to the machine)",
    "release": "after training, drop the optimiser state (as python -m funknn release)",
    "autoencoder": "autoencoder checkpoint (its latent codes are the flow's data)",
    "bottleneck": "side of the smallest feature map",
    "spatial": "code = flattened small-channel bottleneck map (latent-dim / bottleneck² channels)",
    "vgg_weights": "local torchvision VGG-16 state dict (--perceptual vgg)",
    "couplings": "affine couplings per block (1: the paper's coupling block)",
    "sigma": "standard deviation of the Fourier frequencies",
    "r1_every": "lazy R1: every this many steps, weighted by as much",
    "lr_disc": "the discriminator's learning rate (--lr: the hypernetwork's)",
    "weightnet": "GASP: width of the discriminator's weight networks",
    "weightnet_depth": "GASP: linear layers per weight network (GASP's published net: 4)",
    "weightnet_batchnorm": "GASP: batch normalisation in the weight networks",
    "weightnet_final_activation": "GASP: batch norm and LeakyReLU after the weight network's last layer too",
    "disc_batchnorm": "GASP: batch normalisation after the discriminator's PointConvs",
    "disc_pool": "GASP: pooling over each kept point's neighbours ('mean': GASP's published average pooling)",
    "generator_slope": "GASP: LeakyReLU slope of the function and the hypernetwork (GASP's published: 0.1)",
}

#: --data's help per task
DATA_HELP = {
    "super-resolution": "'photos' (embedded), 'bumps' (Gaussian bumps, grey), 'ellipses' (phantoms, grey), "
                        "'lodopab:DIR' or a folder of images",
    "prior": "'ellipses' (embedded phantoms), 'lodopab:DIR' (LoDoPaB-CT HDF5 files) or a folder of images "
             "(e.g. CelebA-HQ, read as grey)",
}


@dataclass(frozen=True)
class Option:
    """Where an option's value goes: ``part`` (``training``, ``model``, ``data``, ``run``) and
    its ``key`` there; a model argument belongs to ``family`` (a class of the task's models)."""

    dest: str
    part: str
    key: str
    family: type | None = None


def add_option(parser: argparse.ArgumentParser, dest: str, hint: Any, default: Any, choices: Any = None,
               help: str | None = None) -> None:
    """One ``--dest`` option of type ``hint`` (bool: ``--x/--no-x``; a list or tuple: several values)."""
    kwargs: dict[str, Any] = {"dest": dest, "default": default, "help": help if help else HELP.get(dest)}
    origin, parts = typing.get_origin(hint), typing.get_args(hint)
    if origin is not None and type(None) in parts:                    # X | None
        hint = next(p for p in parts if p is not type(None))
        origin, parts = typing.get_origin(hint), typing.get_args(hint)
    if origin is not None and type(None) not in parts and len(parts) > 1 and origin is not tuple:
        hint = parts[0]                                                 # tuple[int, ...] | list[int]
        origin, parts = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif origin is not None:                                            # a sequence
        fixed = origin is tuple and parts and parts[-1] is not Ellipsis
        kwargs["nargs"] = len(parts) if fixed else "+"
        kwargs["type"] = parts[0] if parts else str
        kwargs["default"] = list(default) if default is not None else None
    else:
        kwargs["type"] = hint if hint in (int, float, str) else str
    if choices is not None:
        kwargs["choices"] = choices
    parser.add_argument("--" + dest.replace("_", "-"), **kwargs)


def _families(task: str) -> list[tuple[str, type]]:
    """(prefix, class) of the task's models: the default model's family unprefixed first."""
    default = entry(TASKS[task].model).cls
    out: list[tuple[str, type]] = [("", default)]
    for name in names(task=task):
        cls = entry(name).cls
        if all(cls is not c for _, c in out):
            out.append((name + "_", cls))
    return out


def _model_options(parser: argparse.ArgumentParser, task: str, spec: RunSpec, added: dict[str, Option]
                   ) -> list[Option]:
    t = TASKS[task]
    chosen = entry(spec.model.name).cls
    options = []
    for prefix, cls in _families(task):
        preset_keys = {k for n in names() if entry(n).cls is cls for k in entry(n).preset}
        hints = field_types(cls)
        current = spec.model.complete() if cls is chosen else ModelSpec(_name_of(cls)).complete()
        for arg, param in inspect.signature(cls).parameters.items():
            if arg in t.fixed or arg in preset_keys or param.default is inspect.Parameter.empty:
                continue
            dest = t.renamed.get(arg) or prefix + arg
            options.append(Option(dest, "model", arg, None if arg in t.renamed else cls))
            if dest not in added:
                add_option(parser, dest, hints.get(arg, str), current[arg], CHOICES.get(arg))
                added[dest] = options[-1]
    return options


def _name_of(cls: type) -> str:
    return next(n for n in names() if entry(n).cls is cls)


def add_task_options(parser: argparse.ArgumentParser, task: str, spec: RunSpec | None = None) -> None:
    """Every option of ``task``'s training subcommand, with ``spec``'s values as defaults."""
    t = TASKS[task]
    spec = spec if spec is not None and spec.task == task else RunSpec.default(task)
    options: list[Option] = []
    added: dict[str, Option] = {}
    data_hints = field_types(DataSpec)
    for name in t.data_fields:
        dest = "data" if name == "name" else name
        kind = "super-resolution" if task == "super-resolution" else "prior"
        help = DATA_HELP[kind] if name == "name" else None
        add_option(parser, dest, data_hints[name], getattr(spec.data, name), help=help)
        options.append(Option(dest, "data", name))
    if len(names(task=task)) > 1:
        parser.add_argument("--model", choices=names(task=task), default=spec.model.name, help=HELP["model"])
    options += _model_options(parser, task, spec, added)
    config_hints = field_types(t.config)
    for f in dataclasses.fields(t.config):
        if f.name in t.hidden:
            continue
        options.append(Option(f.name, "training", f.name))
        if f.name not in added:
            add_option(parser, f.name, config_hints[f.name], getattr(spec.training, f.name),
                       CHOICES.get(f.name))
    _run_options(parser, task, spec, options)
    parser.set_defaults(task=task, options=options, base=spec)


def _run_options(parser: argparse.ArgumentParser, task: str, spec: RunSpec, options: list[Option]) -> None:
    hints = field_types(RunSpec)
    run = ["out", "accumulate", "release"] + (["amp", "compile"] if task == "super-resolution" else []) + (
        ["autoencoder"] if task == "flow" else [])
    for name in run:
        add_option(parser, name, hints[name], getattr(spec, name), CHOICES.get(name))
        options.append(Option(name, "run", name))
    parser.add_argument("--config", default=None, help="a recipe (YAML, see configs/); options override it")
    parser.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--no-progress", action="store_true")


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """The recipe of a parsed training command: its base recipe with every option's value."""
    base: RunSpec = args.base
    name = getattr(args, "model", base.model.name)
    chosen = entry(name).cls
    parts: dict[str, dict[str, Any]] = {"training": {}, "model": {}, "data": {}, "run": {}}
    for opt in args.options:
        if opt.part == "model" and opt.family is not None and opt.family is not chosen:
            continue
        value = getattr(args, opt.dest)
        parts[opt.part][opt.key] = tuple(value) if isinstance(value, list) and opt.key == "betas" else value
    training = dataclasses.replace(base.training, **parts["training"])
    data = dataclasses.replace(base.data, **parts["data"])
    return RunSpec(task=args.task, model=ModelSpec(name, parts["model"]), data=data, training=training,
                   **{**_run_of(base), **parts["run"]})


def _run_of(spec: RunSpec) -> dict[str, Any]:
    return {k: getattr(spec, k) for k in ("out", "autoencoder", "accumulate", "amp", "compile", "release")}

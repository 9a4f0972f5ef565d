"""The training subcommands: the parsed options → a :class:`~funknn.config.RunSpec` → the task's
trainer. ``train --config FILE`` runs any recipe (it dispatches on the recipe's task)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, cast

import numpy as np
import torch

from .. import data as data_mod
from .. import distributed
from ..checkpoints import load, release
from ..config import TASKS, RunSpec
from ..models import GASP, Autoencoder, RealNVP, build, count_parameters
from .data import describe, source
from .options import add_task_options, spec_from_args

__all__ = ["add_parsers", "run"]

HELP = {
    "super-resolution": "train a FunkNN (or a LIIF / U-Net baseline) and write a resumable checkpoint",
    "autoencoder": "train the autoencoder of the generative prior",
    "flow": "train the RealNVP flow on an autoencoder's latent codes",
    "gasp": "train GASP, the continuous GAN of Dupont et al. (2022): hypernetwork + Fourier-feature MLP, "
            "point-cloud discriminator",
}


def device(name: str | None) -> torch.device:
    """``name``, else ``cuda`` when available, else ``cpu``."""
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def say(message: str) -> None:
    """Print on rank 0 only (every rank of a torchrun run executes the same command)."""
    if distributed.current().main:
        print(message)


def _command(args: argparse.Namespace) -> str:
    """The command line of this run, as recorded in a checkpoint's metadata."""
    return "python -m funknn " + " ".join(shlex.quote(a) for a in args.argv)


def _meta(args: argparse.Namespace, spec: RunSpec, **more: Any) -> dict[str, Any]:
    return {"command": _command(args), "recipe": spec.to_dict(), **more}


def _common(args: argparse.Namespace, spec: RunSpec) -> dict[str, Any]:
    """The trainers' shared keyword arguments: checkpoint, resume, progress, parallel parts."""
    workers = spec.data.workers if spec.data.workers is not None else (
        data_mod.default_workers() if spec.data.stream else 0)
    return {"checkpoint": spec.out, "resume": not args.restart, "progress": not args.no_progress,
            "accumulate": spec.accumulate, "workers": workers}


def _done(history: dict, out: str, label: str, fmt: str) -> None:
    tail = history["loss"][-50:]
    say(f"done: step {history['step'][-1]}, mean {label} of the last {len(tail)} steps "
        f"{np.mean(tail):{fmt}}, {history['seconds']:.0f} s; checkpoint {out}")


def _label(spec: RunSpec, model: Any) -> str:
    c = model.config
    if spec.model.name == "funknn":
        return f"FunkNN ({c['network']}, {c['kernel']})"
    if spec.model.name == "unet":
        skip = "bicubic skip" if c["bicubic_skip"] else "no global skip"
        return f"U-Net (width {c['width']}, depth {c['depth']}, ×{c['scale']}, {skip})"
    name = spec.model.name
    return f"LIIF ({name.split('-', 1)[-1]})" if name.startswith("liif") else name


def _check_model(spec: RunSpec, **fixed: Any) -> None:
    """Build the model once without touching the random state: a bad argument fails before the
    data are made (which draws from the generator that the initial weights then draw from)."""
    with torch.random.fork_rng(devices=[]):
        build(spec.model.name, **spec.model.args, **fixed)


def train_super_resolution(args: argparse.Namespace, spec: RunSpec, dev: torch.device) -> None:
    from ..tasks.super_resolution import train

    config = spec.training
    _check_model(spec)
    images = source(spec.data, "train", int(spec.model.complete()["in_channels"]))
    model = build(spec.model.name, **spec.model.args).to(dev)
    if spec.compile:
        model.compile()
    meta = _meta(args, spec, data=describe(spec.data, spec.task, config.size),
                 low_resolution_sizes="d in [n/8, n/2) with target 2d" if config.mode == "factor" else
                 ("d = n/2" if config.mode == "single" else "d in [n/4, n/2)"),
                 crop_size=config.size, parameters=count_parameters(model))
    say(f"{_label(spec, model)}: {count_parameters(model):,} parameters; "
        f"{config.mode} mode, {config.steps} steps on {dev}")
    history = train(model, images, config, meta=meta, amp=spec.amp, **_common(args, spec))
    _done(history, str(spec.out), "loss", ".5f")


def train_autoencoder(args: argparse.Namespace, spec: RunSpec, dev: torch.device) -> None:
    from ..generative import train_autoencoder as fit

    _check_model(spec, in_channels=1)
    size = int(spec.model.complete()["image_size"])
    images = source(spec.data, "train", 1, size)             # (the data first, then the initial weights)
    model = cast(Autoencoder, build(spec.model.name, in_channels=1, **spec.model.args)).to(dev)
    meta = _meta(args, spec, data=describe(spec.data, spec.task, size), parameters=count_parameters(model))
    say(f"autoencoder: {count_parameters(model):,} parameters, latent {model.latent_dim}; "
        f"{len(images)} images of {size}²; {spec.training.steps} steps on {dev}")
    history = fit(model, images, spec.training, meta=meta, **_common(args, spec))
    _done(history, str(spec.out), "loss", ".5f")


def train_flow(args: argparse.Namespace, spec: RunSpec, dev: torch.device) -> None:
    from ..generative import encode
    from ..generative import train_flow as fit

    if not spec.autoencoder:
        raise ValueError("train-flow needs --autoencoder (or autoencoder: in the recipe)")
    autoencoder = load(spec.autoencoder, device=dev)
    if not isinstance(autoencoder, Autoencoder):
        raise ValueError(f"--autoencoder {spec.autoencoder!r} holds a {type(autoencoder).__name__}, "
                         "not an autoencoder")
    size = autoencoder.image_size
    common = _common(args, spec)
    codes = encode(autoencoder, source(spec.data, "train", 1, size), workers=common.pop("workers"))
    flow = cast(RealNVP, build(spec.model.name, dim=autoencoder.latent_dim, **spec.model.args)).to(dev)
    meta = _meta(args, spec, data="latent codes of " + describe(spec.data, spec.task, size),
                 autoencoder=str(spec.autoencoder), parameters=count_parameters(flow))
    say(f"RealNVP: {count_parameters(flow):,} parameters on {len(codes)} codes of size "
        f"{autoencoder.latent_dim}; {spec.training.steps} steps on {dev}")
    history = fit(flow, codes, spec.training, meta=meta, **common)
    _done(history, str(spec.out), "NLL (bits/dim)", ".4f")


def train_gasp(args: argparse.Namespace, spec: RunSpec, dev: torch.device) -> None:
    from ..generative import train_gasp as fit

    _check_model(spec, in_channels=1)
    size = int(spec.model.complete()["image_size"])
    images = source(spec.data, "train", 1, size)
    model = cast(GASP, build(spec.model.name, in_channels=1, **spec.model.args)).to(dev)
    n_gen = sum(p.numel() for p in model.generator_parameters())
    n_disc = count_parameters(model.discriminator)
    meta = _meta(args, spec, data=describe(spec.data, spec.task, size),
                 parameters={"generator": n_gen, "discriminator": n_disc})
    say(f"GASP: generator (hypernetwork) {n_gen:,} parameters -> functions of "
        f"{model.function.num_weights:,} weights; point-cloud discriminator {n_disc:,}; "
        f"{len(images)} images of {size}²; {spec.training.steps} steps on {dev}")
    history = fit(model, images, spec.training, meta=meta, **_common(args, spec))
    tail = slice(-50, None)
    say(f"done: step {history['step'][-1]}, mean of the last 50 steps: discriminator loss "
        f"{np.mean(history['d_loss'][tail]):.3f}, generator loss {np.mean(history['g_loss'][tail]):.3f}, "
        f"{history['seconds']:.0f} s; checkpoint {spec.out}")


#: task → its trainer
TRAINERS = {"super-resolution": train_super_resolution, "autoencoder": train_autoencoder, "flow": train_flow,
            "gasp": train_gasp}


def run(args: argparse.Namespace) -> int:
    """Run the training command ``args`` (its recipe with the given options)."""
    spec = spec_from_args(args)
    if not spec.out:
        raise ValueError(f"{TASKS[spec.task].command} needs --out (or out: in the recipe)")
    torch.manual_seed(spec.training.seed)
    dev = distributed.setup(device(args.device))
    TRAINERS[spec.task](args, spec, dev)
    if spec.release and distributed.current().main:
        release(spec.out)
        say(f"released {spec.out}")
    return 0


def add_parsers(sub: Any, recipe: RunSpec | None = None) -> None:
    """The subcommands ``train``, ``train-autoencoder``, ``train-flow``, ``train-gasp``; the one of
    ``recipe``'s task takes its defaults from it."""
    for task, t in TASKS.items():
        parser = sub.add_parser(t.command, help=HELP[task])
        add_task_options(parser, task, recipe)
        parser.set_defaults(func=run)

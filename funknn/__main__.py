"""Command line: ``python -m funknn train|evaluate|render|train-autoencoder|train-flow|train-gasp|release``.

A user's mistake (a missing file, a bad option value) prints one line ``error: …`` and exits
with status 2; ``--debug`` shows the traceback instead. Every default comes from the library
(the config dataclasses and the model constructors), so the two cannot drift apart.

Examples::

    python -m funknn train --mode factor --steps 2000 --out data/checkpoints/photos_factor.pt
    python -m funknn evaluate --checkpoint data/checkpoints/photos_factor.pt --hierarchical
    python -m funknn render --checkpoint data/checkpoints/photos_factor.pt --input low.png \
        --size 512 512 --output high.png
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import shlex
import sys
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from . import data as data_mod
from . import distributed
from .checkpoints import load
from .evaluation import evaluate
from .generative import FitConfig, FlowConfig, GASPConfig
from .models import GASP, Autoencoder, Configured, FunkNN, RealNVP, UNet, build, count_parameters
from .sampling import KERNELS, Interpolator
from .training import AMP, LOSSES, MODES, TrainConfig, train


def default(owner: Any, name: str) -> Any:
    """The library's default of ``name``: a dataclass field or a constructor argument of ``owner``."""
    if dataclasses.is_dataclass(owner):
        return {f.name: f.default for f in dataclasses.fields(owner)}[name]
    return inspect.signature(owner).parameters[name].default


def _images(spec: str, split: str, count: int, size: int) -> torch.Tensor:
    """Grey training images (N, 1, size, size) for the generative prior."""
    if spec == "ellipses":
        return data_mod.ellipse_phantoms(split, count, size)
    if spec.startswith("lodopab:"):
        return data_mod.lodopab_ct(spec.split(":", 1)[1], split, size, limit=count)
    return data_mod.image_folder(spec, size=size, channels=1, limit=count).tiles(size)


def _dataset(spec: str, split: str, channels: int, short_side: int, count: int = 1000
             ) -> data_mod.ImageCollection | data_mod.RandomBumps:
    if spec == "ellipses" or spec.startswith("lodopab:"):
        if channels != 1:
            raise ValueError(f"--data {spec} is grey: pass --channels 1")
        return data_mod.ImageCollection(list(_images(spec, split, count, short_side)))
    if spec == "bumps":
        if channels != 1:
            raise ValueError("--data bumps is grey: pass --channels 1")
        return data_mod.RandomBumps()
    if spec == "photos":
        return data_mod.embedded_photos(split, short_side=short_side, channels=channels)
    return data_mod.image_folder(spec, channels=channels)


def _device(name: str | None) -> torch.device:
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _say(message: str) -> None:
    """Print on rank 0 only (every rank of a torchrun run executes the same command)."""
    if distributed.current().main:
        print(message)


def _train_device(args: argparse.Namespace) -> torch.device:
    """The device of a training command; under torchrun, joins the process group first."""
    return distributed.setup(_device(args.device))


def _parallel(args: argparse.Namespace) -> dict[str, Any]:
    """The trainers' keyword arguments for parallel runs and streamed data."""
    workers = args.workers if args.workers is not None else (data_mod.default_workers() if args.stream else 0)
    return {"accumulate": args.accumulate, "workers": workers}


def _streamed(args: argparse.Namespace, channels: int, size: int) -> Any:
    """``--stream``: the training data set read lazily (and cached as uint8 with ``--cache``)."""
    if args.data.startswith("lodopab:"):
        if channels != 1:
            raise ValueError(f"--data {args.data} is grey: pass --channels 1")
        return data_mod.LoDoPaBDataset(args.data.split(":", 1)[1], "train", size, limit=args.count,
                                       cache=args.cache)
    if args.data in ("ellipses", "bumps", "photos"):
        raise ValueError(f"--stream reads a folder of images or lodopab:DIR, not the embedded {args.data!r}")
    return data_mod.ImageFolderDataset(args.data, size, channels=channels, limit=args.count, cache=args.cache)


def _prior_images(args: argparse.Namespace, size: int) -> Any:
    """The generative prior's grey training images: in memory, or streamed with ``--stream``."""
    return _streamed(args, 1, size) if args.stream else _images(args.data, "train", args.count, size)


def cmd_train(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    device = _train_device(args)
    images = (_streamed(args, args.channels, args.short_side) if args.stream else
              _dataset(args.data, "train", args.channels, args.short_side, args.count))
    if args.model == "funknn":
        model = build("funknn", in_channels=args.channels, network=args.network, kernel=args.kernel,
                      patch_size=args.patch_size, activation=args.activation,
                      boundary=args.boundary, output_init=args.output_init,
                      centred_input=args.centred_input)
        label = f"FunkNN ({args.network}, {args.kernel})"
    elif args.model == "unet":
        model = build("unet", in_channels=args.channels, width=args.unet_width, depth=args.unet_depth,
                      bicubic_skip=args.unet_bicubic_skip)
        label = (f"U-Net (width {args.unet_width}, depth {args.unet_depth}, ×2, "
                 f"{'bicubic skip' if args.unet_bicubic_skip else 'no global skip'})")
    else:
        model = build(args.model, in_channels=args.channels)
        label = f"LIIF ({args.model.split('-', 1)[1]})"
    model = model.to(device)
    if args.compile:
        model.compile()
    config = TrainConfig(mode=args.mode, size=args.size, steps=args.steps,
                         batch_images=args.batch_images, batch_pixels=args.batch_pixels, lr=args.lr,
                         loss=args.loss, seed=args.seed, checkpoint_every=args.checkpoint_every,
                         lr_drop_at=args.lr_drop_at, lr_drop=args.lr_drop,
                         gradient_weight=args.gradient_weight,
                         laplacian_weight=args.laplacian_weight)
    command = _command(args)
    described = {"photos": f"embedded photos (train split: {', '.join(data_mod.EMBEDDED_SPLITS['train'])}), "
                           f"short side {args.short_side}",
                 "bumps": "random Gaussian bumps (centre uniform in [-1, 1]², sigma uniform in [0.1, 0.4]), "
                          "exact values and derivatives at random coordinates",
                 "ellipses": f"{args.count} random-ellipse phantoms (funknn.data.ellipse_phantoms, train "
                             f"split) at {args.short_side}²"}
    meta = {"command": command, "data": described.get(args.data, args.data),
            "low_resolution_sizes": "d in [n/8, n/2) with target 2d" if args.mode == "factor" else
            ("d = n/2" if args.mode == "single" else "d in [n/4, n/2)"),
            "crop_size": args.size, "parameters": count_parameters(model)}
    _say(f"{label}: {count_parameters(model):,} parameters; "
          f"{args.mode} mode, {args.steps} steps on {device}")
    history = train(model, images, config, checkpoint=args.out, resume=not args.restart,
                    progress=not args.no_progress, meta=meta, amp=args.amp, **_parallel(args))
    _done(history, args.out, "loss", ".5f")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line of this run, as recorded in a checkpoint's metadata."""
    return "python -m funknn " + " ".join(shlex.quote(a) for a in args.argv)


def _done(history: dict, out: str, label: str, fmt: str) -> None:
    tail = history["loss"][-50:]
    _say(f"done: step {history['step'][-1]}, mean {label} of the last {len(tail)} steps "
          f"{np.mean(tail):{fmt}}, {history['seconds']:.0f} s; checkpoint {out}")


def _prior_data_description(args: argparse.Namespace) -> str:
    if args.data == "ellipses":
        return (f"{args.count} random-ellipse phantoms (funknn.data.ellipse_phantoms, train split) "
                f"at {args.size}²")
    return f"{args.data} (train split, up to {args.count} images) at {args.size}²"


def cmd_train_autoencoder(args: argparse.Namespace) -> int:
    from .generative import train_autoencoder

    torch.manual_seed(args.seed)
    device = _train_device(args)
    images = _prior_images(args, args.size)
    model = cast(Autoencoder, build("autoencoder", in_channels=1, image_size=args.size,
                                    latent_dim=args.latent_dim, width=args.width, max_width=args.max_width,
                                    bottleneck=args.bottleneck, spatial=args.spatial)).to(device)
    config = FitConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                       checkpoint_every=args.checkpoint_every, lr_drop_at=args.lr_drop_at,
                       lr_drop=args.lr_drop, perceptual=args.perceptual,
                       perceptual_weight=args.perceptual_weight, vgg_weights=args.vgg_weights)
    meta = {"command": _command(args),
            "data": _prior_data_description(args), "parameters": count_parameters(model)}
    _say(f"autoencoder: {count_parameters(model):,} parameters, latent {args.latent_dim}; "
          f"{len(images)} images of {args.size}²; {args.steps} steps on {device}")
    history = train_autoencoder(model, images, config, checkpoint=args.out, resume=not args.restart,
                                progress=not args.no_progress, meta=meta, **_parallel(args))
    _done(history, args.out, "loss", ".5f")
    return 0


def cmd_train_flow(args: argparse.Namespace) -> int:
    from .generative import encode, train_flow

    torch.manual_seed(args.seed)
    device = _train_device(args)
    autoencoder = load(args.autoencoder, device=device)
    if not isinstance(autoencoder, Autoencoder):
        raise ValueError(f"--autoencoder {args.autoencoder!r} holds a {type(autoencoder).__name__}, "
                         "not an autoencoder")
    size = autoencoder.image_size
    args.size = size
    images = _prior_images(args, size)
    codes = encode(autoencoder, images, workers=_parallel(args)["workers"])
    flow = cast(RealNVP, build("realnvp", dim=autoencoder.latent_dim, blocks=args.blocks,
                               hidden=args.hidden, couplings=args.couplings)).to(device)
    config = FlowConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                        checkpoint_every=args.checkpoint_every, lr_drop_at=args.lr_drop_at,
                        lr_drop=args.lr_drop)
    meta = {"command": _command(args),
            "data": "latent codes of " + _prior_data_description(args),
            "autoencoder": str(args.autoencoder), "parameters": count_parameters(flow)}
    _say(f"RealNVP: {count_parameters(flow):,} parameters on {len(codes)} codes of size "
          f"{autoencoder.latent_dim}; {args.steps} steps on {device}")
    history = train_flow(flow, codes, config, checkpoint=args.out, resume=not args.restart,
                         progress=not args.no_progress, meta=meta, accumulate=args.accumulate)
    _done(history, args.out, "NLL (bits/dim)", ".4f")
    return 0


def cmd_train_gasp(args: argparse.Namespace) -> int:
    from .generative import train_gasp

    torch.manual_seed(args.seed)
    device = _train_device(args)
    images = _prior_images(args, args.size)
    model = cast(GASP, build("gasp", image_size=args.size, in_channels=1, latent_dim=args.latent_dim,
                             frequencies=args.frequencies, sigma=args.sigma, hidden=args.hidden,
                             hypernet=args.hypernet, disc_channels=args.disc_channels,
                             neighbours=args.neighbours, weightnet=args.weightnet, seed=args.seed)).to(device)
    config = GASPConfig(steps=args.steps, batch=args.batch, lr=args.lr, lr_disc=args.lr_disc,
                        betas=(args.betas[0], args.betas[1]), r1_weight=args.r1_weight,
                        r1_every=args.r1_every, seed=args.seed, checkpoint_every=args.checkpoint_every)
    n_gen = sum(p.numel() for p in model.generator_parameters())
    n_disc = count_parameters(model.discriminator)
    meta = {"command": _command(args), "data": _prior_data_description(args),
            "parameters": {"generator": n_gen, "discriminator": n_disc}}
    _say(f"GASP: generator (hypernetwork) {n_gen:,} parameters -> functions of "
          f"{model.function.num_weights:,} weights; point-cloud discriminator {n_disc:,}; "
          f"{len(images)} images of {args.size}²; "
          f"{args.steps} steps on {device}")
    history = train_gasp(model, images, config, checkpoint=args.out, resume=not args.restart,
                         progress=not args.no_progress, meta=meta, **_parallel(args))
    tail = slice(-50, None)
    _say(f"done: step {history['step'][-1]}, mean of the last 50 steps: discriminator loss "
          f"{np.mean(history['d_loss'][tail]):.3f}, generator loss {np.mean(history['g_loss'][tail]):.3f}, "
          f"{history['seconds']:.0f} s; checkpoint {args.out}")
    return 0


def _channels(model: object, default: int) -> int:
    """Image channels a model expects (``config["in_channels"]``; ``default`` if it has none)."""
    return int(model.config.get("in_channels", default)) if isinstance(model, Configured) else default


def cmd_evaluate(args: argparse.Namespace) -> int:
    device = _device(args.device)
    model = load(args.checkpoint, device=device) if args.checkpoint else Interpolator(args.kernel)
    channels = _channels(model, default=3)
    data = _dataset(args.data, args.split, channels, args.short_side)
    if not isinstance(data, data_mod.ImageCollection):
        raise ValueError(f"--data {args.data} is not a set of images to evaluate on")
    images = data.tiles(args.tile, args.limit)
    results = evaluate(model, images.to(device), args.low_size, args.scales, hierarchical=args.hierarchical)
    table = {f"x{s}": {k: (round(float(v.mean()), 3) if torch.is_tensor(v) else round(v, 3))
                       for k, v in r.items()} for s, r in results.items()}
    print(json.dumps({"images": len(images), "low_size": args.low_size, "results": table}, indent=2))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from PIL import Image

    from .rendering import render

    device = _device(args.device)
    model = load(args.checkpoint, device=device)
    channels = _channels(model, default=3)
    src = Path(args.input)
    if not src.is_file():
        raise FileNotFoundError(f"input image {str(src)!r} does not exist")
    with Image.open(src) as im:
        array = np.asarray(im.convert("RGB" if channels == 3 else "L"))
    low = data_mod.to_tensor(array, channels)[None].to(device)
    out = render(model, low, tuple(args.size), chunk=args.chunk, hierarchical=args.hierarchical)
    pixels = (out[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(args.output)
    print(f"rendered {tuple(low.shape[-2:])} -> {tuple(out.shape[-2:])}: {args.output}")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from .checkpoints import release

    before = Path(args.checkpoint).stat().st_size if Path(args.checkpoint).is_file() else 0
    out = release(args.checkpoint, args.out)
    print(f"released {out}: {before / 1e6:.1f} MB -> {out.stat().st_size / 1e6:.1f} MB")
    return 0


def _train_parser(sub: Any) -> None:
    t = sub.add_parser("train", help="train a FunkNN (or a LIIF / U-Net baseline) and write a "
                                     "resumable checkpoint")
    t.add_argument("--data", default="photos",
                   help="'photos' (embedded), 'bumps' (Gaussian bumps, grey) or a folder of images")
    t.add_argument("--mode", choices=MODES, default=default(TrainConfig, "mode"))
    t.add_argument("--model", choices=("funknn", "liif-edsr", "liif-140k", "unet"), default="funknn",
                   help="FunkNN (default) or a baseline of Table 1: LIIF with the EDSR-baseline encoder "
                        "(~1.5M parameters) or pruned to ~140K, or a U-Net for ×2 (needs --mode single)")
    t.add_argument("--unet-width", type=int, default=default(UNet, "width"),
                   help="U-Net: channels of the first level")
    t.add_argument("--unet-depth", type=int, default=default(UNet, "depth"), help="U-Net: number of levels")
    t.add_argument("--unet-bicubic-skip", action=argparse.BooleanOptionalAction,
                   default=default(UNet, "bicubic_skip"),
                   help="U-Net: add its output to the bicubic up-sampling "
                        "(--no-unet-bicubic-skip: the paper's U-Net)")
    t.add_argument("--network", choices=("cnn", "mlp"), default=default(FunkNN, "network"))
    t.add_argument("--kernel", choices=KERNELS, default=default(FunkNN, "kernel"))
    t.add_argument("--patch-size", type=int, default=default(FunkNN, "patch_size"))
    t.add_argument("--activation", choices=("relu", "sine"), default=default(FunkNN, "activation"))
    t.add_argument("--gradient-weight", type=float, default=default(TrainConfig, "gradient_weight"),
                   help="weight of a loss on spatial gradients (needs --data bumps)")
    t.add_argument("--laplacian-weight", type=float, default=default(TrainConfig, "laplacian_weight"),
                   help="weight of a loss on Laplacians (needs --data bumps and --kernel cubic_conv)")
    t.add_argument("--boundary", choices=("reflection", "extrapolate"), default=default(FunkNN, "boundary"),
                   help="continuation beyond the border ('extrapolate': cubic_conv only)")
    t.add_argument("--output-init", type=float, default=default(FunkNN, "output_init"),
                   help="initial scale of the output layer (0: start as plain interpolation; 1: "
                        "PyTorch's default, the paper)")
    t.add_argument("--centred-input", action=argparse.BooleanOptionalAction,
                   default=default(FunkNN, "centred_input"),
                   help="feed the network the patch minus its centre value (--no-centred-input: the "
                        "raw patch, the paper)")
    t.add_argument("--channels", type=int, choices=(1, 3), default=default(FunkNN, "in_channels"))
    t.add_argument("--count", type=int, default=1000, help="--data ellipses / lodopab:DIR: number of images")
    t.add_argument("--size", type=int, default=default(TrainConfig, "size"),
                   help="high-resolution crop side n")
    t.add_argument("--short-side", type=int, default=256, help="embedded photos: short side after resizing")
    t.add_argument("--steps", type=int, default=default(TrainConfig, "steps"))
    t.add_argument("--batch-images", type=int, default=default(TrainConfig, "batch_images"))
    t.add_argument("--batch-pixels", type=int, default=default(TrainConfig, "batch_pixels"))
    t.add_argument("--lr", type=float, default=default(TrainConfig, "lr"))
    t.add_argument("--loss", choices=LOSSES, default=default(TrainConfig, "loss"))
    t.add_argument("--amp", choices=AMP, default="off",
                   help="mixed precision of the forward passes (bf16 / fp16 with a gradient scaler)")
    t.add_argument("--compile", action="store_true", help="torch.compile the model (first steps compile)")
    _run_options(t, TrainConfig)
    t.set_defaults(func=cmd_train)


def _run_options(q: argparse.ArgumentParser, config: Any) -> None:
    """Options every trainer shares: seed, checkpoint, resume, device, progress."""
    q.add_argument("--seed", type=int, default=default(config, "seed"))
    q.add_argument("--checkpoint-every", type=int, default=default(config, "checkpoint_every"))
    q.add_argument("--lr-drop-at", type=int, default=default(config, "lr_drop_at"),
                   help="from this step on, the learning rate times --lr-drop (0: never)")
    q.add_argument("--lr-drop", type=float, default=default(config, "lr_drop"))
    q.add_argument("--out", required=True, help="checkpoint file (resumed if it exists)")
    q.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    q.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    q.add_argument("--no-progress", action="store_true")
    _scale_options(q)


def _scale_options(q: argparse.ArgumentParser) -> None:
    """Options of the trainers for paper-scale runs: parts of the batch, streamed data."""
    q.add_argument("--accumulate", type=int, default=1,
                   help="parts of the global batch per process (gradient accumulation); under torchrun "
                        "the batch is cut into world size × accumulate parts")
    q.add_argument("--stream", action="store_true",
                   help="read a folder / lodopab:DIR lazily with DataLoader workers instead of into memory")
    q.add_argument("--cache", default=None,
                   help="with --stream: folder of a uint8 cache of the resized images")
    q.add_argument("--workers", type=int, default=None,
                   help="DataLoader worker processes for --stream (default: sized to the machine)")


def _prior_parsers(sub: Any) -> None:
    prior_data = ("'ellipses' (embedded phantoms), 'lodopab:DIR' (LoDoPaB-CT HDF5 files) or a folder of "
                  "images (e.g. CelebA-HQ, read as grey)")
    a = sub.add_parser("train-autoencoder", help="train the autoencoder of the generative prior")
    a.add_argument("--data", default="ellipses", help=prior_data)
    a.add_argument("--count", type=int, default=4000, help="number of training images")
    a.add_argument("--size", type=int, default=default(Autoencoder, "image_size"),
                   help="image side (a power of two)")
    a.add_argument("--latent-dim", type=int, default=default(Autoencoder, "latent_dim"))
    a.add_argument("--width", type=int, default=default(Autoencoder, "width"))
    a.add_argument("--max-width", type=int, default=default(Autoencoder, "max_width"))
    a.add_argument("--bottleneck", type=int, default=default(Autoencoder, "bottleneck"),
                   help="side of the smallest feature map")
    a.add_argument("--spatial", action="store_true",
                   help="code = flattened small-channel bottleneck map (latent-dim / bottleneck² channels)")
    a.add_argument("--perceptual", choices=("laplacian", "vgg", "none"),
                   default=default(FitConfig, "perceptual"))
    a.add_argument("--perceptual-weight", type=float, default=default(FitConfig, "perceptual_weight"))
    a.add_argument("--vgg-weights", default=default(FitConfig, "vgg_weights"),
                   help="local torchvision VGG-16 state dict (--perceptual vgg)")
    b = sub.add_parser("train-flow", help="train the RealNVP flow on an autoencoder's latent codes")
    b.add_argument("--autoencoder", required=True, help="autoencoder checkpoint")
    b.add_argument("--data", default="ellipses", help=prior_data)
    b.add_argument("--count", type=int, default=4000, help="number of training images")
    b.add_argument("--blocks", type=int, default=default(RealNVP, "blocks"))
    b.add_argument("--hidden", type=int, nargs="+", default=list(default(RealNVP, "hidden")))
    b.add_argument("--couplings", type=int, choices=(1, 2), default=default(RealNVP, "couplings"),
                   help="affine couplings per block (1: the paper's coupling block)")
    for q, config in ((a, FitConfig), (b, FlowConfig)):
        q.add_argument("--steps", type=int, default=default(config, "steps"))
        q.add_argument("--batch", type=int, default=default(config, "batch"))
        q.add_argument("--lr", type=float, default=default(config, "lr"))
        _run_options(q, config)
    a.set_defaults(func=cmd_train_autoencoder)
    b.set_defaults(func=cmd_train_flow)
    _gasp_parser(sub, prior_data)


def _gasp_parser(sub: Any, prior_data: str) -> None:
    g = sub.add_parser("train-gasp", help="train GASP, the continuous GAN of Dupont et al. (2022): "
                                          "hypernetwork + Fourier-feature MLP, point-cloud discriminator")
    g.add_argument("--data", default="ellipses", help=prior_data)
    g.add_argument("--count", type=int, default=4000, help="number of training images")
    g.add_argument("--size", type=int, default=default(GASP, "image_size"), help="side of the training grid")
    for name in ("latent_dim", "frequencies", "neighbours", "weightnet"):
        g.add_argument("--" + name.replace("_", "-"), type=int, default=default(GASP, name))
    g.add_argument("--sigma", type=float, default=default(GASP, "sigma"),
                   help="standard deviation of the Fourier frequencies")
    for name in ("hidden", "hypernet", "disc_channels"):
        g.add_argument("--" + name.replace("_", "-"), type=int, nargs="+", default=list(default(GASP, name)))
    g.add_argument("--steps", type=int, default=default(GASPConfig, "steps"))
    g.add_argument("--batch", type=int, default=default(GASPConfig, "batch"))
    g.add_argument("--lr", type=float, default=default(GASPConfig, "lr"), help="the hypernetwork's")
    g.add_argument("--lr-disc", type=float, default=default(GASPConfig, "lr_disc"))
    g.add_argument("--betas", type=float, nargs=2, default=list(default(GASPConfig, "betas")))
    g.add_argument("--r1-weight", type=float, default=default(GASPConfig, "r1_weight"))
    g.add_argument("--r1-every", type=int, default=default(GASPConfig, "r1_every"),
                   help="lazy R1: every this many steps, weighted by as much")
    g.add_argument("--seed", type=int, default=default(GASPConfig, "seed"))
    g.add_argument("--checkpoint-every", type=int, default=default(GASPConfig, "checkpoint_every"))
    g.add_argument("--out", required=True, help="checkpoint file (resumed if it exists)")
    g.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    g.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    g.add_argument("--no-progress", action="store_true")
    _scale_options(g)
    g.set_defaults(func=cmd_train_gasp)


def _use_parsers(sub: Any) -> None:
    e = sub.add_parser("evaluate", help="super-resolution SNR of a checkpoint (or a plain kernel)")
    e.add_argument("--checkpoint", default=None, help="checkpoint file; omit to evaluate --kernel")
    e.add_argument("--kernel", choices=KERNELS, default=default(Interpolator, "kernel"))
    e.add_argument("--data", default="photos")
    e.add_argument("--split", choices=tuple(data_mod.EMBEDDED_SPLITS), default="test")
    e.add_argument("--short-side", type=int, default=256)
    e.add_argument("--tile", type=int, default=128, help="side of the ground-truth tiles")
    e.add_argument("--low-size", type=int, default=32)
    e.add_argument("--scales", type=int, nargs="+", default=[2, 4])
    e.add_argument("--limit", type=int, default=None)
    e.add_argument("--hierarchical", action="store_true")
    e.add_argument("--device", default=None)
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("render", help="render an image file at any size with a checkpoint")
    r.add_argument("--checkpoint", required=True)
    r.add_argument("--input", required=True)
    r.add_argument("--output", required=True)
    r.add_argument("--size", type=int, nargs=2, required=True, metavar=("H", "W"))
    r.add_argument("--chunk", type=int, default=1024)
    r.add_argument("--hierarchical", action="store_true")
    r.add_argument("--device", default=None)
    r.set_defaults(func=cmd_render)

    x = sub.add_parser("release", help="drop a checkpoint's optimiser state (weights, metadata and "
                                       "history stay; the file can no longer be resumed)")
    x.add_argument("checkpoint")
    x.add_argument("--out", default=None, help="output file (default: overwrite the input)")
    x.set_defaults(func=cmd_release)


# --- export (funknn.export): a self-contained block
def _export_parser(sub: Any) -> None:
    from .export import DEFAULT_OPSET

    def run(args: argparse.Namespace) -> int:
        from .export import export_checkpoint

        out = export_checkpoint(args.checkpoint, args.out, opset=args.opset)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): inputs image (B, C, h, w) and "
              "coords (B, N, 2), output values (B, N, C)")
        return 0

    o = sub.add_parser("export", help="export a coordinate model (FunkNN, interpolator) to ONNX")
    o.add_argument("--checkpoint", required=True, help="checkpoint file, or a shipped model's name")
    o.add_argument("--out", required=True, help="the .onnx file to write")
    o.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (16 to 20)")
    o.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m funknn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _prior_parsers(sub)
    _use_parsers(sub)
    _export_parser(sub)
    return parser


#: what a user's mistake raises (a missing or corrupt file, a bad value, a wrong kind of file)
USER_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, ValueError,
               ImportError)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = [a for a in argv if a != "--debug"]
    try:
        code = int(args.func(args))
        distributed.teardown()
        return code
    except USER_ERRORS as err:
        if args.debug:
            raise
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

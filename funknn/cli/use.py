"""The subcommands that use a checkpoint: ``evaluate``, ``render`` and ``release``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import data as data_mod
from ..checkpoints import load
from ..config import CHOICES, DataSpec, EvalSpec, ModelSpec, field_types
from ..models import Configured
from ..sampling import Interpolator
from .data import source
from .options import add_option
from .train import device

__all__ = ["add_parsers"]


def _channels(model: object, default: int) -> int:
    """Image channels a model expects (``config["in_channels"]``; ``default`` if it has none)."""
    return int(model.config.get("in_channels", default)) if isinstance(model, Configured) else default


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate

    settings = EvalSpec(split=args.split, tile=args.tile, low_size=args.low_size, scales=tuple(args.scales),
                        limit=args.limit)
    spec = dataclasses.replace(DataSpec(), name=args.data, short_side=args.short_side)
    dev = device(args.device)
    model = load(args.checkpoint, device=dev) if args.checkpoint else Interpolator(args.kernel)
    data = source(spec, settings.split, _channels(model, default=3))
    if not isinstance(data, data_mod.ImageCollection):
        raise ValueError(f"--data {args.data} is not a set of images to evaluate on")
    images = data.tiles(settings.tile, settings.limit)
    results = evaluate(model, images.to(dev), settings.low_size, settings.scales,
                       hierarchical=args.hierarchical)
    table = {f"x{s}": {k: (round(float(v.mean()), 3) if torch.is_tensor(v) else round(v, 3))
                       for k, v in r.items()} for s, r in results.items()}
    print(json.dumps({"images": len(images), "low_size": settings.low_size, "results": table}, indent=2))
    return 0


def _read_image(path: str, channels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    src = Path(path)
    if not src.is_file():
        raise FileNotFoundError(f"input image {str(src)!r} does not exist")
    try:
        with Image.open(src) as im:
            return np.asarray(im.convert("RGB" if channels == 3 else "L"))
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"input image {str(src)!r} is not a readable image: {err}") from None


def cmd_render(args: argparse.Namespace) -> int:
    from PIL import Image

    from ..rendering import render

    settings = EvalSpec(chunk=args.chunk)
    if min(args.size) < 1:
        raise ValueError(f"--size must be positive, got {args.size}")
    dev = device(args.device)
    model = load(args.checkpoint, device=dev)
    channels = _channels(model, default=3)
    low = data_mod.to_tensor(_read_image(args.input, channels), channels)[None].to(dev)
    out = render(model, low, tuple(args.size), chunk=settings.chunk, hierarchical=args.hierarchical)
    pixels = (out[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    try:
        Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(args.output)
    except (OSError, ValueError) as err:       # a missing folder, an unknown extension
        raise ValueError(f"cannot write --output {args.output!r}: {err}") from None
    print(f"rendered {tuple(low.shape[-2:])} -> {tuple(out.shape[-2:])}: {args.output}")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from ..checkpoints import release

    before = Path(args.checkpoint).stat().st_size if Path(args.checkpoint).is_file() else 0
    out = release(args.checkpoint, args.out)
    print(f"released {out}: {before / 1e6:.1f} MB -> {out.stat().st_size / 1e6:.1f} MB")
    return 0


def _defaults(cls: Any) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls)}


def add_parsers(sub: Any) -> None:
    """The subcommands ``evaluate``, ``render`` and ``release``."""
    e = sub.add_parser("evaluate", help="super-resolution SNR of a checkpoint (or a plain kernel)")
    e.add_argument("--checkpoint", default=None, help="checkpoint file; omit to evaluate --kernel")
    e.add_argument("--kernel", choices=CHOICES["kernel"],
                   default=ModelSpec("interpolator").complete()["kernel"],
                   help="the kernel of plain interpolation (without --checkpoint)")
    data, hints = DataSpec(), field_types(DataSpec)
    add_option(e, "data", hints["name"], data.name,
               help="'photos' (embedded), 'ellipses' or a folder of images")
    add_option(e, "short_side", hints["short_side"], data.short_side)
    evaluation, hints = _defaults(EvalSpec), field_types(EvalSpec)
    for name in ("split", "tile", "low_size", "scales", "limit"):
        add_option(e, name, hints[name], evaluation[name], CHOICES.get(name))
    e.add_argument("--hierarchical", action="store_true")
    e.add_argument("--device", default=None)
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("render", help="render an image file at any size with a checkpoint")
    r.add_argument("--checkpoint", required=True)
    r.add_argument("--input", required=True)
    r.add_argument("--output", required=True)
    r.add_argument("--size", type=int, nargs=2, required=True, metavar=("H", "W"))
    add_option(r, "chunk", hints["chunk"], evaluation["chunk"], help="queries per rendering pass")
    r.add_argument("--hierarchical", action="store_true")
    r.add_argument("--device", default=None)
    r.set_defaults(func=cmd_render)

    x = sub.add_parser("release", help="drop a checkpoint's optimiser state (weights, metadata and "
                                       "history stay; the file can no longer be resumed)")
    x.add_argument("checkpoint")
    x.add_argument("--out", default=None, help="output file (default: overwrite the input)")
    x.set_defaults(func=cmd_release)

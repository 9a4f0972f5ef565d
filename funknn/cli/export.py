"""The ``export`` subcommand: a coordinate model's checkpoint (or a shipped model's name) to ONNX
(:mod:`funknn.export`)."""

from __future__ import annotations

import argparse
from typing import Any

from ..export import DEFAULT_OPSET, export_checkpoint

__all__ = ["add_parsers"]


def cmd_export(args: argparse.Namespace) -> int:
    out = export_checkpoint(args.checkpoint, args.out, opset=args.opset)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): inputs image (B, C, h, w) and "
          "coords (B, N, 2), output values (B, N, C)")
    return 0


def add_parsers(sub: Any) -> None:
    o = sub.add_parser("export", help="export a coordinate model (FunkNN, interpolator) to ONNX")
    o.add_argument("--checkpoint", required=True, help="checkpoint file, or a shipped model's name")
    o.add_argument("--out", required=True, help="the .onnx file to write")
    o.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (16 to 20)")
    o.set_defaults(func=cmd_export)

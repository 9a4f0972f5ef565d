"""Build-time assets of the live zoom page (book/live_zoom.md), written into the book's static
folder ``book/_static/zoom/`` (Sphinx copies it into ``_build/html/_static/zoom/``):

- ``models/*.onnx``: the shipped FunkNN checkpoints the page offers and the bicubic
  interpolator, exported with :func:`funknn.export.onnx` (inputs ``image`` (B, C, h, w) and
  ``coords`` (B, N, 2), output ``values`` (B, N, C));
- ``images/*.u8``: the low-resolution test images, embedded photos that no model saw in
  training (:func:`funknn.data.embedded_photos` ``"test"`` split, short side 96), quantised to
  8 bits and stored raw, channels first (C, h, w), so that the page and the Python check read the
  very same values;
- ``ort/``: onnxruntime-web's WebAssembly build, copied from ``book/node_modules`` (installed
  from ``book/package-lock.json`` by ``npm ci``): the page needs no network;
- ``manifest.json``: what the page offers, and its default window.

Usage: ``python book/prepare_zoom.py [--out DIR] [--node-modules DIR]`` (``make`` runs it before
the book builds). Offline: checkpoints and images come from the repository and scikit-image.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch

BOOK = Path(__file__).resolve().parent
DEFAULT_OUT = BOOK / "_static" / "zoom"
DEFAULT_NODE_MODULES = BOOK / "node_modules"
#: the shipped checkpoints the page offers: name → label (the first is the default)
MODELS = {"photos_factor": "FunkNN (factor)", "photos_continuous": "FunkNN (continuous)"}
#: the interpolator rendered beside the model
BICUBIC = "bicubic"
#: short side of the low-resolution images (pixels)
LOW_SIDE = 96
#: onnxruntime-web's files the page loads: the WebAssembly-only build, its loader and binary
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
#: the window rendered when the page opens (its render time is reported by the browser check)
DEFAULT_VIEW = {"scale": 4.0, "size": 48, "x": 50.0, "y": 25.0}
#: the scales the page offers
SCALES = {"min": 1.5, "max": 16.0, "step": 0.1}
#: output sides (pixels) the page offers: the window covers size/scale low-resolution pixels
SIZES = (32, 48, 64, 96, 128)


def quantise(image: torch.Tensor) -> np.ndarray:
    """(C, h, w) float in [0, 1] → uint8 (C, h, w)."""
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def read_image(path: Path, channels: int, height: int, width: int) -> torch.Tensor:
    """An image written by :func:`prepare` as the (1, C, h, w) float32 tensor the page feeds."""
    raw = np.fromfile(path, dtype=np.uint8).reshape(channels, height, width)
    return torch.from_numpy(raw.astype(np.float32) / np.float32(255))[None]


def export_models(out: Path) -> tuple[list[dict], dict]:
    """Export the offered models and the bicubic interpolator; their manifest entries."""
    from funknn import export
    from funknn.models import count_parameters
    from funknn.pretrained import PRETRAINED, pretrained
    from funknn.sampling import Interpolator

    (out / "models").mkdir(parents=True, exist_ok=True)
    models = []
    for name, label in MODELS.items():
        model = pretrained(name).eval()
        file = export.onnx(model, out / "models" / f"{name}.onnx")
        models.append({"id": name, "label": label, "checkpoint": name, "description": PRETRAINED[name],
                       "parameters": count_parameters(model), "file": f"models/{Path(file).name}"})
    file = export.onnx(Interpolator(BICUBIC).eval(), out / "models" / f"{BICUBIC}.onnx")
    return models, {"id": BICUBIC, "label": "Bicubic", "kernel": BICUBIC, "file": f"models/{Path(file).name}"}


def write_images(out: Path) -> list[dict]:
    """The low-resolution test images as raw uint8 files; their manifest entries."""
    from funknn.data import embedded_photos

    photos = embedded_photos("test", short_side=LOW_SIDE)
    (out / "images").mkdir(parents=True, exist_ok=True)
    images = []
    for name, image in zip(photos.names, photos.images):
        pixels = quantise(image)
        pixels.tofile(out / "images" / f"{name}.u8")
        images.append({"id": name, "label": name.replace("_", " "), "file": f"images/{name}.u8",
                       "channels": int(pixels.shape[0]), "height": int(pixels.shape[1]),
                       "width": int(pixels.shape[2])})
    return images


def copy_ort(node_modules: Path, out: Path) -> dict:
    """Copy onnxruntime-web's WebAssembly build into ``out/ort``; its manifest entry."""
    package = node_modules / "onnxruntime-web"
    dist = package / "dist"
    missing = [f for f in ORT_FILES if not (dist / f).is_file()]
    if missing:
        raise FileNotFoundError(f"onnxruntime-web is not installed in {node_modules} (missing {missing}): "
                                "run `npm ci --prefix book` (make does)")
    (out / "ort").mkdir(parents=True, exist_ok=True)
    for name in ORT_FILES:
        shutil.copy2(dist / name, out / "ort" / name)
    if (package / "LICENSE").is_file():
        shutil.copy2(package / "LICENSE", out / "ort" / "LICENSE.txt")
    version = json.loads((package / "package.json").read_text())["version"]
    return {"version": version, "script": f"ort/{ORT_FILES[0]}", "wasm_paths": "ort/"}


def prepare(out: Path = DEFAULT_OUT, node_modules: Path = DEFAULT_NODE_MODULES) -> dict:
    """Write every asset of the page into ``out``; returns the manifest (also ``out/manifest.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    ort = copy_ort(node_modules, out)
    models, bicubic = export_models(out)
    images = write_images(out)
    manifest = {"ort": ort, "models": models, "bicubic": bicubic, "images": images,
                "default": {"model": models[0]["id"], "image": images[0]["id"], **DEFAULT_VIEW},
                "scales": SCALES, "sizes": list(SIZES)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the page's asset folder")
    parser.add_argument("--node-modules", type=Path, default=DEFAULT_NODE_MODULES,
                        help="where `npm ci` installed onnxruntime-web")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    manifest = prepare(args.out, args.node_modules)
    print(f"live zoom assets: {len(manifest['models'])} models + {BICUBIC}, "
          f"{len(manifest['images'])} images, onnxruntime-web {manifest['ort']['version']} in {args.out}")


if __name__ == "__main__":
    main()

"""ONNX export of the coordinate models (FunkNN and the plain interpolators), to run them
outside PyTorch: with ``onnxruntime`` in Python, C++ or C#, or with ``onnxruntime-web`` in a
browser.

The exported graph has two inputs and one output, every size but the channels dynamic:

* ``image``: (B, C, h, w) float32, the low-resolution image;
* ``coords``: (B, N, 2) float32, the query coordinates (x along the width, y along the height,
  in [-1, 1], the convention of :mod:`funknn.sampling`);
* ``values``: (B, N, C) float32, the model's intensity at each query.

One file serves every image size and number of points. The graph is the model's forward pass
written with operators that ONNX has (``GridSample`` for the bilinear and bicubic kernels,
gathers and small matrix products for ``cubic_conv``), traced by torch's TorchScript exporter
(``dynamo=False``: it needs no ``onnxscript`` and exports in a fraction of a second).
``tests/test_export.py`` runs the files with ``onnxruntime`` against PyTorch: the largest
difference is below 1e-5 in float32 (about 1e-6 for images in [0, 1]). The graph checks
nothing at run time: coordinates outside [-1, 1] are sampled with the model's boundary
continuation instead of being refused, and ``boundary="extrapolate"`` needs h, w ≥ 3.
Only values are exported, not gradients.

Example:
    >>> import tempfile, pathlib
    >>> from funknn.models import build
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "funknn.onnx"
    >>> onnx(build("funknn", in_channels=1, network="mlp"), out).name
    'funknn.onnx'
    >>> import numpy as np, onnxruntime
    >>> session = onnxruntime.InferenceSession(out, providers=["CPUExecutionProvider"])
    >>> image, coords = np.zeros((1, 1, 8, 8), np.float32), np.zeros((1, 5, 2), np.float32)
    >>> session.run(["values"], {"image": image, "coords": coords})[0].shape
    (1, 5, 1)
"""

from __future__ import annotations

import copy
import importlib.util
import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import write_file_atomic
from .models.funknn import FunkNN
from .models.protocols import CellModel, FixedScaleModel
from .sampling import EXTRAPOLATE_PAD, Interpolator, keys_weights, linear_weights

#: the ONNX opsets :func:`onnx` writes (``GridSample`` needs 16; the TorchScript exporter
#: that writes the file knows opsets up to 20)
OPSETS = range(16, 21)
#: the opset written by default, 17, which onnxruntime and onnxruntime-web run
DEFAULT_OPSET = 17
#: names of the graph's inputs and output
INPUTS = ("image", "coords")
OUTPUT = "values"


# ------------------------------------------------------------------ export-friendly sampling
# The library's samplers size some tensors from data (the K pixels a cubic_conv patch covers)
# and take image sizes as Python ints; a traced graph would freeze both. These versions
# compute the same values from the image's shape as a tensor and with a K fixed at export.

def _sizes(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, W) of a (B, C, H, W) image as 0-d int64 tensors (while tracing, the shape's entries
    are tensors: the sizes stay dynamic in the exported graph)."""
    return torch.as_tensor(image.shape[2]), torch.as_tensor(image.shape[3])


def _reflect(idx: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """Integer indices reflected about the border, edge pixels repeated (as grid_sample);
    also right for size 1 (every index becomes 0)."""
    period = 2 * size
    idx = torch.remainder(idx, period)
    return torch.where(idx >= size, period - 1 - idx, idx)


def _extrapolate(image: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad (B, C, H, W) by ``pad`` samples per side with the quadratic through the three
    outermost samples of each column, then of each row (:func:`funknn.sampling.extrapolate`)."""
    ks = range(pad, 0, -1)                              # outermost first
    before = torch.tensor([[(k + 1) * (k + 2) / 2, -k * (k + 2), k * (k + 1) / 2] for k in ks],
                          dtype=image.dtype)            # (pad, 3), integers: exact in float32
    after = before.flip(0).flip(1)                      # weights of the last three samples
    image = torch.cat([before @ image[:, :, :3], image, after @ image[:, :, -3:]], dim=2)
    return torch.cat([image[..., :3] @ before.T, image, image[..., -3:] @ after.T], dim=3)


def _pixel_values(image: torch.Tensor, iy: torch.Tensor, ix: torch.Tensor) -> torch.Tensor:
    """Pixels (B, N, Ky, Kx, C) at every pair of row indices iy (B, N, Ky) and column indices
    ix (B, N, Kx) (indices already inside the image)."""
    B, C = image.shape[0], image.shape[1]
    W = _sizes(image)[1]
    flat = (iy.unsqueeze(-1) * W + ix.unsqueeze(-2)).reshape(B, -1)     # (B, N*Ky*Kx)
    values = image.reshape(B, C, -1).transpose(1, 2)                    # (B, H*W, C)
    gathered = torch.gather(values, 1, flat.unsqueeze(-1).expand(-1, -1, C))
    return gathered.reshape(B, iy.shape[1], iy.shape[2], ix.shape[2], C)


def _taps(pos: torch.Tensor, size: torch.Tensor, pad: int, a: float | None
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights (..., 4) and indices (..., 4) of the four taps of continuous indices ``pos``."""
    f = torch.floor(pos)
    w = linear_weights(pos - f) if a is None else keys_weights(pos - f, a)
    idx = f.long().unsqueeze(-1) + torch.arange(-1, 3)
    if pad:
        return w, torch.minimum(torch.clamp(idx + pad, min=0), size + 2 * pad - 1)
    return w, _reflect(idx, size)


def cubic_conv(image: torch.Tensor, coords: torch.Tensor, a: float | None = -0.5,
               boundary: str = "reflection") -> torch.Tensor:
    """:func:`funknn.sampling.cubic_conv` (also its linear and a = -0.75 cases), exportable."""
    H, W = _sizes(image)
    pad = EXTRAPOLATE_PAD if boundary == "extrapolate" else 0
    wx, ix = _taps(((coords[..., 0] + 1) * W - 1) / 2, W, pad, a)       # (B, N, 4)
    wy, iy = _taps(((coords[..., 1] + 1) * H - 1) / 2, H, pad, a)
    if pad:
        image = _extrapolate(image, pad)
    block = _pixel_values(image, iy, ix)                                # (B, N, 4, 4, C)
    return torch.einsum("bni,bnj,bnijc->bnc", wy, wx, block)


def _patch_axis(pos: torch.Tensor, size: torch.Tensor, pad: int, K: int, a: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights (B, N, p, K) of K consecutive pixel indices (B, N, K) covering the taps of the
    patch points ``pos`` (B, N, p); K is fixed (large enough for the model's spacing), columns
    beyond the taps get weight 0."""
    f = torch.floor(pos)
    lowest = f.amin(dim=-1, keepdim=True)                               # (B, N, 1)
    cover = (f - lowest).long().unsqueeze(-1) + torch.arange(4)         # (B, N, p, 4)
    onehot = cover.unsqueeze(-1) == torch.arange(K)                     # (B, N, p, 4, K)
    w = keys_weights(pos - f, a).unsqueeze(-1)                          # (B, N, p, 4, 1)
    weights = torch.where(onehot, w, torch.zeros_like(w)).sum(-2)       # (B, N, p, K)
    index = lowest.long() - 1 + torch.arange(K)                         # (B, N, K)
    if pad:
        return weights, torch.minimum(torch.clamp(index + pad, min=0), size + 2 * pad - 1)
    return weights, _reflect(index, size)


def cubic_conv_patches(image: torch.Tensor, coords: torch.Tensor, offsets: torch.Tensor,
                       spacing: torch.Tensor, boundary: str, K: tuple[int, int]) -> torch.Tensor:
    """:func:`funknn.sampling.cubic_conv_patches` with K = (Kx, Ky) pixels per axis fixed."""
    H, W = _sizes(image)
    pad = EXTRAPOLATE_PAD if boundary == "extrapolate" else 0
    px = ((coords[..., :1] + offsets * (spacing[0] * (2.0 / W)) + 1) * W - 1) / 2   # (B, N, p)
    py = ((coords[..., 1:] + offsets * (spacing[1] * (2.0 / H)) + 1) * H - 1) / 2
    wx, ix = _patch_axis(px, W, pad, K[0], -0.5)
    wy, iy = _patch_axis(py, H, pad, K[1], -0.5)
    if pad:
        image = _extrapolate(image, pad)
    block = _pixel_values(image, iy, ix)                                # (B, N, Ky, Kx, C)
    B, N, C, p = image.shape[0], coords.shape[1], image.shape[1], offsets.shape[0]
    rows = (wy @ block.reshape(B, N, K[1], K[0] * C)).reshape(B, N, p, K[0], C).permute(0, 1, 4, 2, 3)
    return rows @ wx.transpose(-1, -2).unsqueeze(2)                     # (B, N, C, p, p)


def grid_sample(image: torch.Tensor, coords: torch.Tensor, kernel: str) -> torch.Tensor:
    """``bilinear`` / ``bicubic`` values (B, N, C) with reflection, as :func:`funknn.sampling.sample`."""
    out = F.grid_sample(image, coords.unsqueeze(1), mode=kernel, padding_mode="reflection",
                        align_corners=False)
    return out[:, :, 0].transpose(1, 2)


# ------------------------------------------------------------------ the exported modules

class _ExportedInterpolator(nn.Module):
    def __init__(self, model: Interpolator) -> None:
        super().__init__()
        self.kernel, self.boundary, self.pure = model.kernel, model.boundary, model.pure

    def forward(self, image: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        if self.kernel == "cubic_conv":
            return cubic_conv(image, coords, boundary=self.boundary)
        if self.pure:
            return cubic_conv(image, coords, a=None if self.kernel == "bilinear" else -0.75)
        return grid_sample(image, coords, self.kernel)


class _ExportedFunkNN(nn.Module):
    def __init__(self, model: FunkNN) -> None:
        super().__init__()
        self.model = model
        p = model.patch_size
        # the pixels a patch covers along an axis: its span (p - 1)·|spacing| plus the 4 taps,
        # plus one for a span that starts just below a pixel boundary (and a margin for rounding)
        span = (p - 1) * model.scale.detach().abs()
        self.K = (int(math.floor(float(span[0]) + 1e-3)) + 5, int(math.floor(float(span[1]) + 1e-3)) + 5)

    def patches(self, image: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """(B, N, C, p, p), as :meth:`FunkNN.patches`."""
        m = self.model
        B, N, C, p = image.shape[0], coords.shape[1], image.shape[1], m.patch_size
        if m.kernel == "cubic_conv":
            offsets = torch.arange(p, dtype=image.dtype) - m.centre
            return cubic_conv_patches(image, coords, offsets, m.scale, m.boundary, self.K)
        H, W = _sizes(image)
        pixel = 2.0 / torch.stack([W, H]).to(image.dtype)
        where = coords.unsqueeze(2) + m.offsets * (m.scale * pixel)      # (B, N, p*p, 2)
        values = grid_sample(image, where.reshape(B, -1, 2), m.kernel)
        return values.reshape(B, N, p, p, C).permute(0, 1, 4, 2, 3)

    def forward(self, image: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        m = self.model
        B, N, C, p = image.shape[0], coords.shape[1], image.shape[1], m.patch_size
        flat = self.patches(image, coords).reshape(-1, C, p, p)
        centre = flat[:, :, m.centre, m.centre]
        local = flat - centre[:, :, None, None] if m.centred_input else flat
        return (m.net(local) + centre).reshape(B, N, C)


#: what each kind of model that cannot be exported is, for the error
_UNSUPPORTED = {
    CellModel: "a cell model (LIIF: it encodes the image and is queried with the output cell); "
               "export its encoder and decoder separately",
    FixedScaleModel: "a fixed-scale model (the U-Net maps whole images, not coordinates)",
}


def _exportable(model: nn.Module) -> nn.Module:
    if isinstance(model, FunkNN):
        return _ExportedFunkNN(model)
    if isinstance(model, Interpolator):
        return _ExportedInterpolator(model)
    for protocol, what in _UNSUPPORTED.items():
        if isinstance(model, protocol):
            raise TypeError(f"cannot export {type(model).__name__} to ONNX: it is {what}; "
                            "funknn.export supports FunkNN and Interpolator only")
    raise TypeError(f"cannot export {type(model).__name__} to ONNX: funknn.export supports the "
                    "coordinate models FunkNN and Interpolator only (not GASP, the autoencoder or "
                    "the flow)")


def onnx(model: nn.Module, path: str | Path, *, opset: int = DEFAULT_OPSET) -> Path:
    """Export a coordinate model to an ONNX file: ``values = model(image, coords)``.

    Inputs ``image`` (B, C, h, w) and ``coords`` (B, N, 2), output ``values`` (B, N, C), all
    float32; B, h, w and N are dynamic (C too for an :class:`~funknn.sampling.Interpolator`).
    The file is written atomically (a temporary file renamed over ``path``).

    Only the forward pass is exported: **gradients are not**, so derivatives of the
    continuous image (``funknn.derivatives``, the ``|∇u|`` maps) need PyTorch, or finite
    differences of the exported model's values. The model is exported in float32 on the CPU
    (a copy; ``model`` itself is left as it is).

    Args:
        model: a :class:`~funknn.models.FunkNN` (network ``"cnn"`` or ``"mlp"``, every kernel
            and boundary) or an :class:`~funknn.sampling.Interpolator`.
        path: the ``.onnx`` file to write.
        opset: ONNX opset, one of :data:`OPSETS`.

    Returns:
        ``path`` as a :class:`pathlib.Path`.

    Raises:
        TypeError: a model that cannot be exported (LIIF, the U-Net, GASP, the generative
            prior's models, anything else), named in the message.
        ValueError: an opset outside :data:`OPSETS`.
    """
    if not isinstance(opset, int) or opset not in OPSETS:
        raise ValueError(f"opset must be an int from {OPSETS.start} to {OPSETS.stop - 1} "
                         f"(GridSample needs 16), got {opset!r}")
    if importlib.util.find_spec("onnx") is None:
        raise ImportError("funknn.export needs the onnx package (pip install 'funknn[export]')")
    if not isinstance(model, nn.Module):
        raise TypeError(f"cannot export {type(model).__name__} to ONNX: expected a FunkNN or an "
                        "Interpolator")
    module = _exportable(copy.deepcopy(model).float().cpu().eval())
    C = int(getattr(model, "in_channels", 1))
    example = (torch.rand(2, C, 7, 6), torch.rand(2, 5, 2) * 2 - 1)
    axes = {"image": {0: "batch", 2: "height", 3: "width"}, "coords": {0: "batch", 1: "points"},
            OUTPUT: {0: "batch", 1: "points"}}
    if isinstance(model, Interpolator):
        axes["image"][1] = axes[OUTPUT][2] = "channels"

    def write(tmp: str) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            # the TorchScript exporter's deprecation notice, its notes on constant folding, and
            # tracer warnings for the patch CNN's comparison of (static) channel and patch sizes;
            # tests/test_export.py runs one file at several sizes, which a frozen size would fail
            warnings.simplefilter("ignore")
            torch.onnx.export(module, example, tmp, input_names=list(INPUTS), output_names=[OUTPUT],
                              opset_version=opset, dynamic_axes=axes, dynamo=False)

    out = Path(path)
    write_file_atomic(out, write)
    return out


def export_checkpoint(checkpoint: str | Path, out: str | Path, *, opset: int = DEFAULT_OPSET) -> Path:
    """``python -m funknn export``: the model of a checkpoint file (or of a shipped checkpoint,
    by name: :func:`funknn.available_pretrained`) as an ONNX file (:func:`onnx`).

    Raises:
        ValueError: a checkpoint whose model cannot be exported (the message names it), or a bad
            opset; FileNotFoundError for a missing file.
    """
    from .checkpoints import load
    from .pretrained import available_pretrained, pretrained_path

    path = Path(checkpoint)
    if not path.exists() and str(checkpoint) in available_pretrained():
        path = pretrained_path(str(checkpoint))
    model = load(path)
    try:
        return onnx(model, out, opset=opset)
    except TypeError as err:
        raise ValueError(f"checkpoint {str(path)!r}: {err}") from err

"""ONNX export (funknn.export): the exported files, run with onnxruntime, give PyTorch's values.

Tolerance: max |onnxruntime - PyTorch| ≤ 1e-5 in float32, for every network × kernel × boundary
with random weights (output layer at PyTorch's default scale, so that the network's part is not
small, and a patch spacing other than one pixel) and for every shipped coordinate model; the
differences measured are about 1e-6 (summation order of GridSample, matrix products and the
network's layers). Each model's one file is run at two image sizes, two batch sizes and two
point counts: the axes are dynamic, not frozen at the tracing example.
"""

import numpy as np
import pytest
import torch

import funknn
from funknn.__main__ import main
from funknn.checkpoints import read
from funknn.export import INPUTS, OUTPUT, export_checkpoint, onnx
from funknn.models import build
from funknn.sampling import Interpolator

ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-5
#: (batch, channels' image height, width, points): one exported file must serve them all
SIZES = ((2, 16, 16, 37), (1, 11, 23, 300))
#: every kernel with every boundary it supports
SAMPLERS = (("bilinear", "reflection"), ("bicubic", "reflection"), ("cubic_conv", "reflection"),
            ("cubic_conv", "extrapolate"))


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _image(B, C, H, W, smooth):
    """Random pixels, or a smooth field (what Keys' extrapolation is for: random pixels make the
    quadratic continuation grow to ~1e3, where float32's rounding alone is ~1e-4)."""
    if not smooth:
        return torch.rand(B, C, H, W)
    y, x = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
    phase = torch.rand(B, C, 1, 1) * 6
    return 0.5 + 0.4 * torch.sin(2 * x + phase) * torch.cos(1.5 * y - phase)


def _largest_difference(model, path, channels, smooth=False):
    """Max |onnxruntime - PyTorch| over :data:`SIZES`, from one session of one file."""
    session = _session(path)
    assert [i.name for i in session.get_inputs()] == list(INPUTS)
    assert [o.name for o in session.get_outputs()] == [OUTPUT]
    worst = 0.0
    for B, H, W, N in SIZES:
        image = _image(B, channels, H, W, smooth)
        coords = torch.rand(B, N, 2) * 2 - 1
        with torch.no_grad():
            expected = model(coords, image).numpy()
        got = session.run([OUTPUT], {"image": image.numpy(), "coords": coords.numpy()})[0]
        assert got.shape == (B, N, channels) and got.dtype == np.float32
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


@pytest.mark.parametrize("network", ["cnn", "mlp"])
@pytest.mark.parametrize(("kernel", "boundary"), SAMPLERS)
def test_funknn_matches_pytorch(tmp_path, network, kernel, boundary):
    activation = "sine" if network == "mlp" else "relu"
    model = build("funknn", in_channels=3, network=network, kernel=kernel, boundary=boundary,
                  activation=activation, output_init=1.0, centred_input=network == "cnn").eval()
    with torch.no_grad():
        model.scale.copy_(torch.tensor([1.3, 0.8]))       # a spacing that trained models have
    path = onnx(model, tmp_path / "model.onnx")
    assert path == tmp_path / "model.onnx"
    assert _largest_difference(model, path, 3, smooth=boundary == "extrapolate") <= TOLERANCE
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]       # no temporary file left


@pytest.mark.parametrize(("kernel", "boundary", "pure"),
                         [(k, b, False) for k, b in SAMPLERS] + [("bilinear", "reflection", True),
                                                                 ("bicubic", "reflection", True)])
def test_interpolator_matches_pytorch(tmp_path, kernel, boundary, pure):
    model = Interpolator(kernel, boundary, pure=pure)
    path = onnx(model, tmp_path / "interpolator.onnx")
    # channels are dynamic too for the interpolators
    for channels in (1, 3):
        assert _largest_difference(model, path, channels, smooth=boundary == "extrapolate") <= TOLERANCE


def _coordinate_checkpoints():
    return [name for name in funknn.available_pretrained()
            if read(funknn.pretrained_path(name))["model_class"] == "FunkNN"]


def test_the_shipped_coordinate_models_are_found():
    assert {"photos_factor", "bumps_derivatives", "ellipses64_factor"} <= set(_coordinate_checkpoints())


@pytest.mark.parametrize("name", _coordinate_checkpoints())
def test_shipped_models_match_pytorch(tmp_path, name):
    model = funknn.pretrained(name)
    path = export_checkpoint(name, tmp_path / f"{name}.onnx")
    smooth = model.boundary == "extrapolate"
    assert _largest_difference(model, path, model.in_channels, smooth=smooth) <= TOLERANCE


def test_rendering_a_grid_matches_funknn_render(tmp_path):
    """What a page does with the file: the pixel centres of a larger grid, in one call."""
    model = funknn.pretrained("photos_factor")
    session = _session(onnx(model, tmp_path / "m.onnx"))
    low = torch.rand(1, 3, 20, 24)
    coords = funknn.grid_coords(50, 60)[None]
    got = session.run([OUTPUT], {"image": low.numpy(), "coords": coords.numpy()})[0]
    expected = funknn.render(model, low, (50, 60))
    assert np.abs(got.reshape(50, 60, 3).transpose(2, 0, 1) - expected[0].numpy()).max() <= TOLERANCE


@pytest.mark.parametrize(("model", "named"), [
    (lambda: build("liif-140k"), "LIIF"),
    (lambda: build("unet", width=4, depth=2), "UNet"),
    (lambda: build("gasp", image_size=16, latent_dim=4, frequencies=4, hidden=(8,), hypernet=(8,),
                   disc_channels=(4,)), "GASP"),
    (lambda: build("autoencoder", in_channels=1), "Autoencoder"),
    (lambda: torch.nn.Linear(2, 1), "Linear"),
    (lambda: "photos_factor", "str"),
])
def test_models_that_cannot_export_are_named(tmp_path, model, named):
    with pytest.raises(TypeError, match=f"cannot export {named} to ONNX"):
        onnx(model(), tmp_path / "x.onnx")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("opset", [15, 21, 17.0, "17"])
def test_bad_opset(tmp_path, opset):
    with pytest.raises(ValueError, match="opset must be an int from 16 to 20"):
        onnx(Interpolator(), tmp_path / "x.onnx", opset=opset)


def test_every_opset_exports(tmp_path):
    model = build("funknn", in_channels=1, network="mlp", kernel="bicubic")
    for opset in (16, 20):
        path = onnx(model, tmp_path / f"{opset}.onnx", opset=opset)
        assert _largest_difference(model, path, 1) <= TOLERANCE


def test_export_overwrites_atomically(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    onnx(Interpolator("bilinear"), path)
    assert path.stat().st_size > 100 and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_the_model_is_left_as_it_was(tmp_path):
    model = build("funknn", in_channels=1, network="mlp").double().train()
    onnx(model, tmp_path / "m.onnx")
    assert model.training and model.scale.dtype == torch.float64


def test_cli_exports_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "sub" / "ellipses.onnx"
    assert main(["export", "--checkpoint", str(funknn.pretrained_path("ellipses64_factor")),
                 "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    model = funknn.pretrained("ellipses64_factor")
    assert _largest_difference(model, out, 1) <= TOLERANCE


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize(("checkpoint", "message"), [
    ("photos_liif_140k", "cannot export LIIF to ONNX"),
    ("photos_unet", "cannot export UNet to ONNX"),
    ("missing.pt", "does not exist"),
])
def test_cli_errors(tmp_path, capsys, checkpoint, message):
    out = tmp_path / "x.onnx"
    assert main(["export", "--checkpoint", checkpoint, "--out", str(out)]) == 2
    assert message in _error_line(capsys)
    assert not out.exists()


def test_cli_bad_opset(tmp_path, capsys):
    assert main(["export", "--checkpoint", "ellipses64_factor", "--out", str(tmp_path / "x.onnx"),
                 "--opset", "12"]) == 2
    assert "opset" in _error_line(capsys)

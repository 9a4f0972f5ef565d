import pytest
import torch

from funknn import FunkNN, count_parameters, render
from funknn.sampling import Interpolator, grid_coords


@pytest.mark.parametrize("network", ["cnn", "mlp"])
@pytest.mark.parametrize("C", [1, 3])
@pytest.mark.parametrize("kernel", ["bilinear", "bicubic", "cubic_conv"])
def test_shapes_non_square(network, C, kernel):
    model = FunkNN(in_channels=C, network=network, kernel=kernel)
    out = model(torch.rand(2, 17, 2) * 2 - 1, torch.rand(2, C, 13, 9))
    assert out.shape == (2, 17, C)


@pytest.mark.parametrize("C,expected", [(1, 140_291), (3, 140_933)])
def test_parameter_count_close_to_paper(C, expected):
    n = count_parameters(FunkNN(in_channels=C))
    assert n == expected
    assert abs(n - 140_000) / 140_000 < 0.02


def test_scale_parameters_trainable_and_start_at_one_pixel():
    model = FunkNN(3)
    assert torch.equal(model.scale.detach(), torch.ones(2))
    image = torch.rand(1, 3, 10, 10)
    coords = torch.zeros(1, 1, 2)
    patch = model.patches(coords, image)             # (1, 1, 3, 9, 9)
    # with scale 1 the patch samples the pixel grid: neighbours are one low-res pixel apart
    centre_pixel = torch.tensor([[[2 * 5 + 1 - 10, 2 * 5 + 1 - 10]]]) / 10.0  # centre of pixel (5, 5)
    patch = model.patches(centre_pixel, image)
    assert torch.allclose(patch[0, 0, :, 4, 4], image[0, :, 5, 5], atol=1e-6)
    assert torch.allclose(patch[0, 0, :, 4, 5], image[0, :, 5, 6], atol=1e-6)
    assert torch.allclose(patch[0, 0, :, 3, 4], image[0, :, 4, 5], atol=1e-6)
    model(coords, image).sum().backward()
    assert model.scale.grad is not None and model.scale.grad.abs().sum() > 0


@pytest.mark.parametrize("network", ["cnn", "mlp"])
def test_untrained_model_is_plain_interpolation(network):
    model = FunkNN(1, network=network)      # output layer starts small
    image = torch.rand(2, 1, 8, 6)
    coords = torch.rand(2, 30, 2) * 2 - 1
    assert torch.allclose(model(coords, image), Interpolator("bicubic")(coords, image), atol=2e-2)
    torch.nn.init.normal_(model.net.fc_out.weight)
    assert not torch.allclose(model(coords, image), Interpolator("bicubic")(coords, image), atol=1e-3)


def test_gradient_flows_to_coordinates_and_image():
    model = FunkNN(1, kernel="cubic_conv").double()
    image = torch.rand(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    coords = (torch.rand(1, 4, 2, dtype=torch.float64) * 1.6 - 0.8).requires_grad_(True)
    u = model(coords, image)
    (g,) = torch.autograd.grad(u.sum(), coords, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), image)
    assert g.abs().sum() > 0 and h.abs().sum() > 0


def test_render_chunks_agree_and_hierarchical_sizes():
    model = FunkNN(3).eval()
    image = torch.rand(2, 3, 8, 6)
    full = render(model, image, (16, 12), chunk=10_000)
    small = render(model, image, (16, 12), chunk=7)
    assert full.shape == (2, 3, 16, 12)
    assert torch.allclose(full, small, atol=1e-5)
    assert render(model, image, (32, 24), hierarchical=True).shape == (2, 3, 32, 24)
    assert render(model, image, (20, 15), hierarchical=True).shape == (2, 3, 20, 15)
    with pytest.raises(ValueError, match="chunk"):
        render(model, image, 16, chunk=0)
    with pytest.raises(ValueError, match="size"):
        render(model, image, (0, 4))


def test_render_matches_model_on_grid():
    model = FunkNN(1).eval()
    image = torch.rand(1, 1, 5, 7)
    out = render(model, image, (9, 11))
    with torch.no_grad():
        direct = model(grid_coords(9, 11)[None], image)
    assert torch.allclose(out.flatten(2).transpose(1, 2), direct, atol=1e-6)


def test_model_bad_inputs():
    with pytest.raises(ValueError, match="unknown network"):
        FunkNN(3, network="transformer")
    with pytest.raises(ValueError, match="unknown kernel"):
        FunkNN(3, kernel="nearest")
    with pytest.raises(ValueError, match="patch_size"):
        FunkNN(3, patch_size=8)
    with pytest.raises(ValueError, match="in_channels"):
        FunkNN(0)
    model = FunkNN(3)
    with pytest.raises(ValueError, match="channels"):
        model(torch.zeros(1, 4, 2), torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        model(torch.full((1, 4, 2), 2.0), torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="batch size"):
        model(torch.zeros(2, 4, 2), torch.rand(1, 3, 8, 8))


def test_output_init_zero_is_exactly_the_kernel_and_boundary_is_kept():
    from funknn import sample

    model = FunkNN(1, network="mlp", kernel="cubic_conv", boundary="extrapolate", output_init=0.0)
    image = torch.rand(2, 1, 10, 12)
    coords = torch.rand(2, 30, 2) * 2 - 1
    expected = sample(image, coords, "cubic_conv", boundary="extrapolate")
    assert torch.allclose(model(coords, image), expected, atol=1e-6)
    assert FunkNN(1).config["boundary"] == "reflection" and FunkNN(1).config["output_init"] == 0.01
    with pytest.raises(ValueError, match="boundary"):
        FunkNN(1, kernel="bicubic", boundary="extrapolate")
    with pytest.raises(ValueError, match="output_init"):
        FunkNN(1, output_init=-1.0)


def test_raw_patch_input_is_the_papers_network():
    torch.manual_seed(0)
    ours = FunkNN(1, network="mlp")
    paper = FunkNN(1, network="mlp", centred_input=False, output_init=1.0)
    assert ours.config["centred_input"] and not paper.config["centred_input"]
    paper.load_state_dict(ours.state_dict())
    image = torch.rand(1, 1, 10, 10)
    coords = torch.rand(1, 20, 2) * 2 - 1
    patch = ours.patches(coords, image).reshape(20, 1, 9, 9)
    centre = patch[:, :, 4, 4]
    with torch.no_grad():
        assert torch.allclose(ours(coords, image)[0], ours.net(patch - centre[:, :, None, None]) + centre,
                              atol=1e-6)
        assert torch.allclose(paper(coords, image)[0], ours.net(patch) + centre, atol=1e-6)
        # a constant image: the centred network sees zeros, the paper's network the constant
        flat = torch.full((1, 1, 10, 10), 0.7)
        assert torch.allclose(ours(coords, flat), 0.7 + ours.net(torch.zeros(1, 1, 9, 9)), atol=1e-6)
        assert not torch.allclose(paper(coords, flat), ours(coords, flat))
    with pytest.raises(ValueError, match="centred_input"):
        FunkNN(1, centred_input="no")


def _reference_patch_cnn(net, x, activation):
    """The paper's patch CNN written with plain ``F.conv2d`` on the whole batch in one pass: the
    reference that the model's blocked, cache-sized passes must reproduce."""
    import torch.nn.functional as F

    act = F.relu if activation == "relu" else torch.sin
    for g, group in enumerate(net.groups):
        if g > 0:
            x = F.max_pool2d(x, 2)
        for conv in group:
            y = act(F.conv2d(F.pad(x, (1, 0, 1, 0)), conv.weight, conv.bias))
            x = y + x if y.shape == x.shape else y
    h = net.fc_in(x.flatten(1))
    for layer in net.fc_hidden:
        h = act(layer(h)) + h
    return net.fc_out(h)


def _reference_funknn(model, coords, image):
    B, N = coords.shape[:2]
    C, p, c = model.in_channels, model.patch_size, model.centre
    flat = model.patches(coords, image).reshape(B * N, C, p, p)
    centre = flat[:, :, c, c]
    local = flat - centre[:, :, None, None] if model.centred_input else flat
    return (_reference_patch_cnn(model.net, local, model.config["activation"]) + centre).reshape(B, N, C)


def _assert_matches_reference(model, coords, image, tol):
    """Outputs and parameter gradients equal the reference's, to ``tol`` of each one's largest
    magnitude (float32 sums over thousands of terms differ in their order, not in value)."""
    def close(a, b):
        return (a - b).abs().max() <= tol * b.abs().max()

    ref = _reference_funknn(model, coords, image)
    ref_grads = torch.autograd.grad(ref.square().sum(), list(model.parameters()))
    out = model(coords, image)
    grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
    assert close(out, ref)
    for (name, _), g, r in zip(model.named_parameters(), grads, ref_grads):
        assert close(g, r), name
    with torch.no_grad():
        assert close(model(coords, image), ref)


@pytest.fixture(params=[1, 2], ids=["1 thread", "2 threads"])
def cpu_threads(request, monkeypatch):
    """The CNN's passes with a graph run in blocks on a CPU with one thread (as under torchrun),
    and with two threads in one part of the batch per thread, each part in blocks on its own
    thread (the fixture checks that they did)."""
    import funknn.models.funknn as module

    calls = []
    real = module.across_threads
    monkeypatch.setattr(module, "across_threads", lambda *args, **kw: calls.append(1) or real(*args, **kw))
    threads = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield
    torch.set_num_threads(threads)
    assert bool(calls) == (request.param > 1)


@pytest.mark.parametrize("C,kernel,patch_size,width,activation,centred", [
    (3, "bicubic", 9, 64, "relu", True),
    (1, "cubic_conv", 9, 16, "sine", False),
    (3, "bilinear", 5, 8, "relu", True),
    (1, "bicubic", 11, 8, "sine", True),
])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-4), (torch.float64, 1e-10)])
def test_cnn_blocks_equal_one_plain_conv2d_pass(C, kernel, patch_size, width, activation, centred, dtype,
                                                tol, cpu_threads):
    torch.manual_seed(0)
    model = FunkNN(C, kernel=kernel, patch_size=patch_size, width=width, activation=activation,
                   centred_input=centred, output_init=1.0).to(dtype)
    model.training_block, model.inference_block = 7, 5        # blocks of uneven sizes
    image = torch.rand(2, C, 11, 13, dtype=dtype)
    coords = torch.rand(2, 20, 2, dtype=dtype) * 2 - 1
    _assert_matches_reference(model, coords, image, tol)
    model.training_block = None                               # one pass, as on a GPU
    _assert_matches_reference(model, coords, image, tol)
    model.training_block, model.training_parts = 7, 3         # three parts on two threads
    _assert_matches_reference(model, coords, image, tol)


@pytest.mark.parametrize("name", ["photos_single", "bumps_paper"])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-3), (torch.float64, 1e-10)])
def test_shipped_cnn_checkpoints_equal_the_plain_conv2d_pass(name, dtype, tol, cpu_threads):
    from funknn import pretrained

    model = pretrained(name).to(dtype)
    assert model.training_block is not None
    model.training_block = min(model.training_block, 200)
    torch.manual_seed(0)
    image = torch.rand(2, model.in_channels, 16, 16, dtype=dtype)
    coords = torch.rand(2, 300, 2, dtype=dtype) * 2 - 1       # 600 queries: several blocks
    _assert_matches_reference(model, coords, image, tol)


def test_cnn_with_two_threads_differentiates_in_one_plain_pass_where_needed():
    """Derivatives w.r.t. the coordinates (of any order) take the plain pass with two threads
    too, and give one thread's values; a second backward through the parts raises a clear error."""
    from funknn.derivatives import derivatives

    torch.manual_seed(0)
    model = FunkNN(1, kernel="cubic_conv", activation="sine", width=16).double()
    image = torch.rand(2, 1, 10, 10, dtype=torch.float64)
    coords = torch.rand(2, 40, 2, dtype=torch.float64) * 1.6 - 0.8
    threads = torch.get_num_threads()
    try:
        results = []
        for t in (1, 2):
            torch.set_num_threads(t)
            _, grad, laplacian = derivatives(model, image, coords, create_graph=True)
            (weights,) = torch.autograd.grad(laplacian.square().sum(), [model.net.fc_in.weight])
            results.append((grad, laplacian, weights))
        for one, two in zip(*results):
            assert torch.allclose(one, two, atol=1e-10)
        loss = model(coords, image).sum()
        loss.backward(retain_graph=True)
        with pytest.raises(RuntimeError, match="second time"):
            loss.backward()
    finally:
        torch.set_num_threads(threads)
    assert FunkNN(1, network="mlp").training_parts == 1


def test_liif_sizes_match_the_paper_and_rebuild_from_config():
    from funknn.models import LIIF

    big, small = LIIF(preset="edsr"), LIIF(preset="140k")
    assert 1_400_000 < count_parameters(big) < 1_600_000            # "about 1.5M"
    assert abs(count_parameters(small) - 140_000) / 140_000 < 0.02  # "140K"
    assert count_parameters(LIIF(**small.config)) == count_parameters(small)
    with pytest.raises(ValueError, match="preset"):
        LIIF(preset="huge")


def test_liif_is_continuous_and_uses_the_cell():
    from funknn.models import LIIF

    torch.manual_seed(0)
    model = LIIF(preset="140k")
    for p in model.decoder.parameters():
        torch.nn.init.normal_(p, std=0.2)
    image = torch.rand(1, 3, 8, 8)
    t = torch.linspace(-0.99, 0.99, 4001)
    coords = torch.stack([t, torch.full_like(t, 0.13)], -1)[None]
    with torch.no_grad():
        values = model(coords, image, cell=(0.1, 0.1))[0]
        other_cell = model(coords, image, cell=(0.5, 0.5))[0]
    jumps = (values[1:] - values[:-1]).abs().max(1).values
    # local ensemble: no jump where the nearest latent code changes (every 1/4 of the line)
    assert float(jumps.max()) < 5 * float(jumps.median()) + 1e-4
    assert not torch.allclose(values, other_cell)
    # render passes the output cell and encodes once; the result equals direct calls
    out = render(model, image, (12, 20), chunk=37)
    direct = model(grid_coords(12, 20)[None], image, cell=(2 / 20, 2 / 12))
    assert torch.allclose(out[0].flatten(1).T, direct[0], atol=1e-5)


def test_unet_maps_one_scale_only():
    from funknn.evaluation import evaluate
    from funknn.models import UNet

    model = UNet(width=8, depth=3)
    image = torch.rand(2, 3, 8, 8)
    up = torch.nn.functional.interpolate(image, scale_factor=2, mode="bicubic", align_corners=False)
    assert torch.allclose(model(image), up)                         # starts as bicubic (zero output layer)
    assert render(model, image, 16).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="×2"):
        render(model, image, 32)
    with pytest.raises(ValueError, match="divisible"):
        model(torch.rand(1, 3, 5, 5))
    results = evaluate(model, torch.rand(2, 3, 32, 32), 8, scales=(2, 4))
    assert list(results) == [2]                                     # ×4: not supported, left out


def test_the_papers_unet_has_no_global_skip():
    from funknn.models import UNet

    torch.manual_seed(0)
    ours, paper = UNet(width=8, depth=3), UNet(width=8, depth=3, bicubic_skip=False)
    assert count_parameters(ours) == count_parameters(paper) and not paper.config["bicubic_skip"]
    image = torch.rand(2, 3, 8, 8)
    up = torch.nn.functional.interpolate(image, scale_factor=2, mode="bicubic", align_corners=False)
    with torch.no_grad():
        paper.out.weight.zero_()
        paper.out.bias.fill_(0.25)
        assert torch.allclose(paper(image), torch.full_like(up, 0.25))   # the network's output alone
    assert count_parameters(UNet(width=34, depth=5, bicubic_skip=False)) == 8_760_205  # paper: 8.8M
    with pytest.raises(ValueError, match="bicubic_skip"):
        UNet(bicubic_skip=1)

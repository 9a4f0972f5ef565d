import pytest
import torch
import torch.nn.functional as F

from funknn.sampling import KERNELS, cubic_conv, grid_coords, keys_weights, sample

D = torch.float64


def rand_coords(B, N, scale=1.0, dtype=D):
    return (torch.rand(B, N, 2, dtype=dtype) * 2 - 1) * scale


def test_grid_coords_convention():
    c = grid_coords(3, 4)
    assert c.shape == (12, 2)
    # row-major: x varies fastest; pixel (i, j) centre at ((2j+1)/W - 1, (2i+1)/H - 1)
    assert torch.allclose(c[1], torch.tensor([(2 * 1 + 1) / 4 - 1, 1 / 3 - 1]))
    assert torch.allclose(c[4], torch.tensor([1 / 4 - 1, 3 / 3 - 1]))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("C", [1, 3])
def test_pixel_centres_reproduce_image(kernel, C):
    img = torch.randn(2, C, 37, 31, dtype=D)
    c = grid_coords(37, 31, dtype=D)[None].expand(2, -1, -1)
    out = sample(img, c, kernel)
    assert out.shape == (2, 37 * 31, C)
    assert torch.allclose(out, img.flatten(2).transpose(1, 2), atol=1e-12)


def test_bilinear_matches_grid_sample():
    img = torch.randn(2, 3, 9, 13, dtype=D)
    c = rand_coords(2, 50)
    ref = F.grid_sample(img, c[:, None], mode="bilinear", padding_mode="reflection",
                        align_corners=False)[:, :, 0].transpose(1, 2)
    assert torch.allclose(sample(img, c, "bilinear"), ref)


@pytest.mark.parametrize("scale", [1.0, 1.6])
def test_cubic_conv_with_a_075_matches_torch_bicubic(scale):
    img = torch.randn(2, 2, 11, 7, dtype=D)
    c = rand_coords(2, 200, scale)
    ref = sample(img, c, "bicubic", allow_outside=True)
    assert torch.allclose(cubic_conv(img, c, a=-0.75), ref, atol=1e-12)


def test_keys_weights_partition_of_unity_and_linear_reproduction():
    t = torch.linspace(0, 1, 33, dtype=D)[:-1]
    for a in (-0.5, -0.75):
        assert torch.allclose(keys_weights(t, a).sum(-1), torch.ones_like(t))
    # only a = -0.5 reproduces linear functions; a = -0.75 (torch's bicubic) does not
    taps = torch.tensor([-1.0, 0, 1, 2], dtype=D)
    assert torch.allclose((keys_weights(t, -0.5) * taps).sum(-1), t)
    assert not torch.allclose((keys_weights(t, -0.75) * taps).sum(-1), t)
    # a = -0.5 also reproduces quadratics (third order accurate)
    w = keys_weights(t, -0.5)
    assert torch.allclose((w * torch.tensor([1.0, 0, 1, 4], dtype=D)).sum(-1), t * t)


def _image_of(f, H, W):
    c = grid_coords(H, W, dtype=D)
    return f(c[:, 0], c[:, 1]).reshape(1, 1, H, W)


def test_cubic_conv_interpolates_smooth_function_accurately():
    f = lambda x, y: torch.sin(2 * x) * torch.cos(1.5 * y)  # noqa: E731
    H = W = 64
    img = _image_of(f, H, W)
    c = rand_coords(1, 500, 0.9)
    err = (sample(img, c, "cubic_conv")[0, :, 0] - f(c[0, :, 0], c[0, :, 1])).abs().max()
    assert err < 1e-4


def test_cubic_conv_derivatives_of_smooth_function():
    f = lambda x, y: torch.sin(2 * x) * torch.cos(1.5 * y)  # noqa: E731
    img = _image_of(f, 128, 128)
    c = rand_coords(1, 300, 0.8).requires_grad_(True)
    u = sample(img, c, "cubic_conv")
    (g,) = torch.autograd.grad(u.sum(), c, create_graph=True)
    x, y = c[0, :, 0].detach(), c[0, :, 1].detach()
    gx = 2 * torch.cos(2 * x) * torch.cos(1.5 * y)
    gy = -1.5 * torch.sin(2 * x) * torch.sin(1.5 * y)
    assert (g[0, :, 0] - gx).abs().max() < 2e-3
    assert (g[0, :, 1] - gy).abs().max() < 2e-3
    (gxx,) = torch.autograd.grad(g[..., 0].sum(), c, retain_graph=True)
    # piecewise-cubic second derivative is first-order accurate: check the average error
    assert (gxx[0, :, 0] + 4 * f(x, y)).abs().mean() < 0.05


@pytest.mark.parametrize("where", ["random", "centres"])
def test_cubic_conv_linear_images_exact_derivatives(where):
    H, W = 24, 20  # queries within |x|, |y| <= 0.75 keep all taps inside (no reflection)
    a, bx, by = 0.3, 1.7, -2.2
    img = _image_of(lambda x, y: a + bx * x + by * y, H, W)
    const = torch.full((1, 1, H, W), 0.7, dtype=D)
    if where == "random":
        c = rand_coords(1, 200, 0.75)
    else:  # exactly on pixel centres, where a piecewise kernel switches pieces
        c = grid_coords(H, W, dtype=D)[None]
        c = c[:, (c[0].abs() < 0.75).all(-1)]
    c = c.clone().requires_grad_(True)
    for image, expect in ((img, (bx, by)), (const, (0.0, 0.0))):
        u = sample(image, c, "cubic_conv")
        (g,) = torch.autograd.grad(u.sum(), c, create_graph=True)
        assert torch.allclose(g[0, :, 0], torch.full_like(g[0, :, 0], expect[0]), atol=1e-10)
        assert torch.allclose(g[0, :, 1], torch.full_like(g[0, :, 1], expect[1]), atol=1e-10)
        for k in range(2):
            (h,) = torch.autograd.grad(g[..., k].sum(), c, retain_graph=True)
            assert h.abs().max() < 1e-10


def test_cubic_conv_gradcheck_and_gradgradcheck():
    img = torch.randn(1, 2, 6, 5, dtype=D, requires_grad=True)
    c = rand_coords(1, 7, 0.9).requires_grad_(True)
    fn = lambda im, cc: sample(im, cc, "cubic_conv")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (img, c))
    assert torch.autograd.gradgradcheck(fn, (img, c))


@pytest.mark.parametrize("kernel", ["bilinear", "bicubic"])
def test_grid_sample_kernels_gradcheck(kernel):
    img = torch.randn(1, 2, 6, 5, dtype=D, requires_grad=True)
    c = rand_coords(1, 7, 0.9).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda im, cc: sample(im, cc, kernel), (img, c))


def test_sample_bad_inputs():
    img = torch.rand(2, 3, 8, 8)
    c = torch.zeros(2, 5, 2)
    with pytest.raises(ValueError, match="unknown kernel"):
        sample(img, c, "lanczos")
    with pytest.raises(ValueError, match=r"image must have shape \(B, C, H, W\)"):
        sample(img[0], c)
    with pytest.raises(ValueError, match=r"coords must have shape \(B, N, 2\)"):
        sample(img, c[..., :1])
    with pytest.raises(ValueError, match="batch size"):
        sample(img, c[:1])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        sample(img, c + 1.5)
    bad = img.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        sample(bad, c)
    with pytest.raises(ValueError, match="non-finite"):
        sample(img, torch.full((2, 5, 2), float("inf")))
    with pytest.raises(ValueError, match="floating-point"):
        sample(img.long(), c)
    with pytest.raises(TypeError):
        sample(img.numpy(), c)
    with pytest.raises(ValueError, match="grid size"):
        grid_coords(0, 3)


def test_extrapolate_boundary_reproduces_quadratics_up_to_the_border():
    from funknn.sampling import grid_coords

    def f(c):
        x, y = c[..., 0], c[..., 1]
        return 0.7 * x * x - 0.4 * x * y + 0.3 * y * y + 0.2 * x - y + 0.5

    image = f(grid_coords(9, 11, dtype=torch.float64)).reshape(1, 1, 9, 11)
    coords = torch.rand(1, 400, 2, dtype=torch.float64) * 2 - 1
    coords[0, :4] = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1.0, 0.3], [0.99, -0.99]], dtype=torch.float64)
    ext = sample(image, coords, "cubic_conv", boundary="extrapolate")[..., 0]
    assert torch.allclose(ext, f(coords), atol=1e-10)
    ref = sample(image, coords, "cubic_conv")[..., 0]
    assert (ref - f(coords)).abs().max() > 1e-3          # reflection breaks the quadratic at the border
    # derivatives are exact too, also in the outermost half pixel
    c = coords.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(sample(image, c, "cubic_conv", boundary="extrapolate").sum(), c)
    exact = torch.stack([1.4 * coords[..., 0] - 0.4 * coords[..., 1] + 0.2,
                         -0.4 * coords[..., 0] + 0.6 * coords[..., 1] - 1], dim=-1)
    assert torch.allclose(g, exact, atol=1e-8)


def test_boundary_errors():
    image = torch.rand(1, 1, 8, 8)
    coords = torch.zeros(1, 3, 2)
    with pytest.raises(ValueError, match="unknown boundary"):
        sample(image, coords, "cubic_conv", boundary="zeros")
    with pytest.raises(ValueError, match="cubic_conv"):
        sample(image, coords, "bicubic", boundary="extrapolate")
    with pytest.raises(ValueError, match="3×3"):
        sample(torch.rand(1, 1, 2, 8), coords, "cubic_conv", boundary="extrapolate")


@pytest.mark.parametrize("kernel", ["bilinear", "bicubic"])
def test_pure_kernels_match_grid_sample_and_have_second_derivatives(kernel):
    image = torch.rand(2, 3, 7, 9, dtype=torch.float64)
    coords = torch.rand(2, 50, 2, dtype=torch.float64) * 2 - 1
    assert torch.allclose(sample(image, coords, kernel, pure=True), sample(image, coords, kernel), atol=1e-10)
    c = coords.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(sample(image, c, kernel, pure=True).sum(), c, create_graph=True)
    (h,) = torch.autograd.grad(g[..., 0].sum(), c)
    if kernel == "bilinear":
        assert h[..., 0].abs().max() == 0                     # piecewise linear along x
    else:
        assert h[..., 0].abs().max() > 0


@pytest.mark.parametrize("boundary", ["reflection", "extrapolate"])
def test_separable_patches_equal_pointwise_cubic_conv_to_second_derivatives(boundary):
    """FunkNN's cubic_conv spatial transformer (one pixel block per query) against sampling each
    patch point on its own: values, gradient and Laplacian in the coordinates, and the gradients
    of a loss on them with respect to the image and the patch spacing."""
    from funknn.derivatives import derivatives
    from funknn.models import FunkNN

    torch.manual_seed(0)
    model = FunkNN(1, network="mlp", kernel="cubic_conv", boundary=boundary).double()
    with torch.no_grad():
        model.scale.copy_(torch.tensor([1.3, 0.7]))        # neither a pixel nor equal per axis
    image = torch.rand(2, 1, 11, 9, dtype=torch.float64, requires_grad=True)
    coords = (torch.rand(2, 40, 2, dtype=torch.float64) * 2.2 - 1.1).clamp(-1, 1)
    coords[0, :9] = grid_coords(11, 9)[:9].double()        # pixel centres: t = 0 exactly

    def pointwise(q, img):
        p = model.patch_size
        pixel = torch.tensor([2.0 / img.shape[-1], 2.0 / img.shape[-2]], dtype=img.dtype)
        where = q.unsqueeze(2) + model.offsets.double() * (model.scale * pixel)
        values = sample(img, where.reshape(q.shape[0], -1, 2), "cubic_conv", validate=False,
                        boundary=boundary)
        return values.reshape(q.shape[0], q.shape[1], p, p, 1).permute(0, 1, 4, 2, 3)

    assert torch.allclose(model.patches(coords, image), pointwise(coords, image), atol=1e-12)
    results = []
    for patches in (model.patches, pointwise):
        model.patches = patches
        u, g, lap = derivatives(model, image, coords, order=2, create_graph=True)
        results.append((u, g, lap, *torch.autograd.grad(g.pow(2).sum() + lap.sum(), [image, model.scale])))
    del model.patches
    for fast, slow in zip(*results):
        assert torch.allclose(fast, slow, atol=1e-9, rtol=1e-9)

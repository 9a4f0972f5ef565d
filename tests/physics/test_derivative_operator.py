"""funknn.physics.gradients: the derivative operator and its parts (measurements, locations)."""

import pytest
import torch

from funknn.derivatives import gradient
from funknn.physics import (
    DerivativeOperator,
    LinearOperator,
    grid_locations,
    largest_gradients,
    location_mask,
    measure_gradients,
    take_locations,
)
from funknn.sampling import Interpolator


def test_largest_gradients_and_gradient():
    grad = torch.zeros(2, 10, 1, 2)
    grad[0, 3, 0, 0], grad[0, 7, 0, 1], grad[1, 1, 0, 0] = 5.0, -4.0, 1.0
    idx = largest_gradients(grad, fraction=0.2)
    assert idx.shape == (2, 2) and idx[0].tolist() == [3, 7] and idx[1, 0] == 1
    with pytest.raises(ValueError, match="fraction"):
        largest_gradients(grad, 0.0)
    from funknn.sampling import Interpolator

    coords = grid_locations(8, 2)
    assert coords.shape == (2, 64, 2)
    x, y = coords[0, :, 0], coords[0, :, 1]
    image = (0.5 * x + 0.25 * y).reshape(1, 1, 8, 8).expand(2, -1, -1, -1).contiguous()
    g = gradient(Interpolator("cubic_conv", boundary="extrapolate"), image, coords)
    assert torch.allclose(g[..., 0, 0], torch.full((2, 64), 0.5), atol=1e-5)
    assert torch.allclose(g[..., 0, 1], torch.full((2, 64), 0.25), atol=1e-5)


def test_largest_gradients_breaks_ties_at_random_and_keeps_every_larger_value():
    # a 32 × 32 image whose gradient is non-zero at 10% of the locations, all in the first rows
    # (as the phantoms' background is exactly flat): the other 10% of the "largest 20%" are ties
    n, g = 32, torch.Generator().manual_seed(3)
    grad = torch.zeros(2, n * n, 1, 2)
    strict = torch.arange(0, n * n // 10)
    grad[:, strict, 0, 0] = torch.rand(2, strict.numel(), generator=g) + 0.1
    keep = largest_gradients(grad, 0.2)
    assert keep.shape == (2, round(0.2 * n * n))
    for b in range(2):
        kept = set(keep[b].tolist())
        assert set(strict.tolist()) <= kept                      # every strictly larger value kept
        ties = torch.tensor(sorted(kept - set(strict.tolist())))
        rows = ties // n
        # the ties spread over the rows of the zero background (index order would take the next 3 rows)
        assert rows.max() - rows.min() > n // 2 and rows.unique().numel() > n // 2
    # the larger values come first, in decreasing order
    first = grad[0, keep[0, :strict.numel()], 0, 0]
    assert torch.all(first[:-1] >= first[1:]) and torch.all(first > 0)
    # seeded: the same seed gives the same set, another seed another one; None keeps index order
    assert torch.equal(keep, largest_gradients(grad, 0.2))
    assert not torch.equal(keep, largest_gradients(grad, 0.2, seed=1))
    old = largest_gradients(grad, 0.2, seed=None)[0]
    assert sorted(old.tolist()) == list(range(keep.shape[1]))


def test_the_derivative_operator_is_measure_gradients_and_applies_to_continuous_images():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 1, 8, 8, generator=g)
    coords = torch.rand(2, 20, 2, generator=g) * 2 - 1
    op = DerivativeOperator(coords, 8)
    assert isinstance(op, LinearOperator) and op.batch == 2
    assert op.domain_shape == (1, 8, 8) and op.range_shape == (20, 1, 2)
    assert torch.equal(op(image), measure_gradients(image, coords))
    assert torch.equal(DerivativeOperator(grid_locations(8, 2), 8)(image), measure_gradients(image))
    # of(): the same gradient of any continuous image model(·, low), with the graph, or at some locations
    low = image.clone().requires_grad_(True)
    of = op.of(Interpolator("cubic_conv"), low)
    assert torch.allclose(of, op(image)) and of.requires_grad
    index = torch.tensor([3, 0, 7])
    assert torch.allclose(op.of(Interpolator("cubic_conv"), image, index), op(image)[:, index])
    # the sparse locations are a restriction of the dense ones
    keep = largest_gradients(op(image), 0.25)
    sparse = DerivativeOperator(*take_locations(keep, coords), 8)
    assert torch.equal(sparse(image), take_locations(keep, op(image))[0])
    assert location_mask(keep, 20).sum(1).tolist() == [5, 5]
    with pytest.raises(ValueError, match="x must have shape"):
        op(image[:1])
    with pytest.raises(ValueError, match="y must have shape"):
        op.adjoint(torch.zeros(2, 20, 1, 3))
    with pytest.raises(ValueError, match="coords"):
        DerivativeOperator(coords[0], 8)

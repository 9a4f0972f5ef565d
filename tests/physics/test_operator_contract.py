"""The contract of every forward operator of funknn.physics: a LinearOperator whose adjoint is its
adjoint for the plain dot product, <A x, y> = <x, A* y> (the dot test).

A new operator is one entry in OPERATORS: a name and a function that builds a small instance.
"""

import pytest
import torch

from funknn.physics import (
    IMPLS,
    DerivativeOperator,
    LimitedViewCT,
    LinearOperator,
    adjoint_error,
    available_impls,
    check_adjoint,
    grid_locations,
)


def _ct(impl):
    def build():
        if impl not in available_impls():
            pytest.skip(f"the {impl} ray transform is not installed here")
        return LimitedViewCT(24, 12, impl=impl)
    return build


def _derivatives_at_random_locations():
    coords = torch.rand(2, 50, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return DerivativeOperator(coords, (12, 10), channels=2)


#: (name, builder, tolerance of the relative dot-test error). ASTRA computes in float32 (errors
#: ~1e-8); scikit-image's back-projection is the ray transform's adjoint only up to its
#: interpolation (errors 0.04-0.3% here, smaller on finer grids)
TOLERANCE = {"astra_cuda": 1e-5, "astra_cpu": 1e-5, "skimage": 1e-2}
OPERATORS = [(f"ct-{impl}", _ct(impl), TOLERANCE[impl]) for impl in IMPLS] + [
    ("derivatives-dense", lambda: DerivativeOperator(grid_locations(9, 3), 9), 1e-12),
    ("derivatives-random-locations", _derivatives_at_random_locations, 1e-12),
]


@pytest.mark.parametrize("build, tolerance", [pytest.param(b, t, id=name) for name, b, t in OPERATORS])
def test_every_operator_is_linear_and_has_its_adjoint(build, tolerance):
    op = build()
    assert isinstance(op, LinearOperator)
    error = check_adjoint(op, tolerance)
    assert 0 <= error <= tolerance
    assert adjoint_error(op, seed=1) <= tolerance                        # other random tensors
    batch = op.batch or 3
    g = torch.Generator().manual_seed(2)
    x1, x2 = (torch.randn(batch, *op.domain_shape, generator=g, dtype=torch.float64) for _ in range(2))
    lhs, rhs = op(2 * x1 - x2), 2 * op(x1) - op(x2)                     # linearity
    assert torch.allclose(lhs, rhs, atol=1e-4 * float(rhs.abs().max()))


def test_the_dot_test_fails_a_wrong_adjoint_and_a_wrong_shape():
    class Doubling:
        domain_shape, range_shape, batch = (4, 3), (4, 3), None

        def __call__(self, x):
            return 2 * x

        def adjoint(self, y):
            return 2 * y

    class WrongAdjoint(Doubling):
        def adjoint(self, y):
            return 2 * y.flip(-1)

    class WrongShape(Doubling):
        def adjoint(self, y):
            return 2 * y[..., :2]

    assert check_adjoint(Doubling()) < 1e-15
    with pytest.raises(ValueError, match="WrongAdjoint.adjoint is not the adjoint of WrongAdjoint"):
        check_adjoint(WrongAdjoint())
    with pytest.raises(ValueError, match=r"WrongShape.adjoint .* shape \(2, 4, 2\), expected \(2, 4, 3\)"):
        adjoint_error(WrongShape())


def test_the_test_folders_do_not_shadow_the_package():
    """tests/physics and tests/inverse have no __init__.py: they are no package ``physics`` or
    ``inverse`` that could stand in for funknn.physics or funknn.inverse."""
    from pathlib import Path

    import funknn
    import funknn.inverse
    import funknn.physics

    root = Path(funknn.__file__).parent
    assert Path(funknn.physics.__file__) == root / "physics" / "__init__.py"
    assert Path(funknn.inverse.__file__) == root / "inverse" / "__init__.py"
    tests = Path(__file__).resolve().parents[1]
    assert not any((tests / name / "__init__.py").exists() for name in ("physics", "inverse"))

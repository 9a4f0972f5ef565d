"""funknn.inverse.problems and regularisers: a problem is an operator + a data fidelity + scales."""

import pytest
import torch

from funknn.inverse import (
    CTProblem,
    DerivativeProblem,
    OperatorProblem,
    SolverConfig,
    latent_penalty,
    mean_squared_error,
    poisson_tv,
)
from funknn.physics import DerivativeOperator, LimitedViewCT, grid_locations
from funknn.sampling import Interpolator


def test_relative_regularisation_scales_are_unit_free():
    from funknn.inverse import mean_gradient_magnitude

    coords = grid_locations(32, 1)
    for n in (16, 48):                    # a ramp's mean |∇u| in coordinates, at any resolution
        grid = grid_locations(n, 1)[0]
        ramp = (0.3 * grid[:, 0] - 0.4 * grid[:, 1]).reshape(1, 1, n, n)
        assert torch.allclose(mean_gradient_magnitude(ramp), torch.tensor([0.5]), atol=1e-4)
    g = torch.randn(1, coords.shape[1], 1, 2)
    p, p10 = DerivativeProblem(coords, g, 32), DerivativeProblem(coords, 10 * g, 32)
    assert abs(float(p10.data_scale / p.data_scale) - 100) < 1e-3
    assert abs(float(p10.tv_scale / p.tv_scale) - 10) < 1e-4
    assert abs(float(p.tv_scale) - float(g.norm(dim=-1).mean())) < 1e-5
    with pytest.raises(ValueError, match="scale"):
        SolverConfig(scale="log")
    with pytest.raises(ValueError, match="scale"):
        poisson_tv(g.expand(1, -1, -1, -1), None, 32, scale="log")


def test_a_problem_is_an_operator_a_fidelity_and_scales():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 1, 12, 12, generator=g)
    coords = grid_locations(12, 2)
    op = DerivativeOperator(coords, 12)
    measured = op(image)
    cubic = Interpolator("cubic_conv")
    p = DerivativeProblem(coords, measured, 12)
    assert isinstance(p, OperatorProblem) and isinstance(p.operator, DerivativeOperator)
    assert p.batch == 2 and p.size == (12, 12)
    assert torch.equal(p.data_scale, mean_squared_error(torch.zeros_like(measured), measured))
    assert torch.allclose(p.data_scale, measured.pow(2).flatten(1).mean(1))
    # the misfit of a continuous image: the operator's gradient of model(·, low) against the data
    assert torch.allclose(p.loss(cubic, image, g), torch.zeros(2), atol=1e-12)
    assert torch.allclose(p.loss(cubic, 2 * image, g), measured.pow(2).flatten(1).mean(1), rtol=1e-5)
    # batch_points: a random subset of the locations, drawn with the solver's generator
    sub = DerivativeProblem(coords, measured, 12, batch_points=10)
    index = torch.randperm(144, generator=torch.Generator().manual_seed(5))[:10]
    expected = mean_squared_error(op(2 * image)[:, index], measured[:, index])
    assert torch.allclose(sub.loss(cubic, 2 * image, torch.Generator().manual_seed(5)), expected)
    # another data fidelity: its own scale (the misfit of the zero image)
    l1 = DerivativeProblem(coords, measured, 12, fidelity=lambda a, b: (a - b).abs().flatten(1).mean(1))
    assert torch.allclose(l1.data_scale, measured.abs().flatten(1).mean(1))
    with pytest.raises(NotImplementedError):
        OperatorProblem(op, measured, 12, p.tv_scale).loss(cubic, image, g)


def test_the_ct_problem_composes_the_ct_operator():
    from funknn.inverse import mean_gradient_magnitude

    ct = LimitedViewCT(16, 10)
    image = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    y = ct(image)
    p = CTProblem(ct, y)
    assert p.operator is ct and p.ct is ct and p.size == (16, 16) and p.batch == 2
    assert torch.allclose(p.data_scale, y.pow(2).flatten(1).mean(1))
    assert torch.allclose(p.tv_scale, mean_gradient_magnitude(ct.fbp(y)))
    # the cubic interpolant rendered at the pixel centres is the image itself: no misfit
    misfit = p.loss(Interpolator("cubic_conv"), image, torch.Generator())
    assert float(misfit.max()) < 1e-8 * float(p.data_scale.min())


def test_latent_penalty_and_solver_config_checks():
    w = torch.randn(3, 5)
    assert torch.equal(latent_penalty(w), w.pow(2).mean(1))
    for field, value, message in (("steps", -1, "steps must be non-negative, got -1"),
                                  ("finetune_steps", -2, "finetune_steps must be non-negative"),
                                  ("lr", 0.0, "lr must be positive, got 0.0"),
                                  ("finetune_lr", -1e-3, "finetune_lr must be positive"),
                                  ("latent_weight", -1.0, "latent_weight must be non-negative"),
                                  ("tv_weight", float("nan"), "tv_weight must be non-negative"),
                                  ("record_every", 0, "record_every must be positive"),
                                  ("scale", "log", r"unknown scale 'log'; expected one of \('relative', "
                                                   r"'absolute'\)")):
        with pytest.raises(ValueError, match=message):
            SolverConfig(**{field: value})
    with pytest.raises(ValueError, match="nothing to do"):
        SolverConfig(steps=0, finetune_steps=0)

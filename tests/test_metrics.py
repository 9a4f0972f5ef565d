import math

import pytest
import torch

from funknn.metrics import psnr, si_snr, snr


def test_snr_hand_computed():
    ref = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    est = torch.tensor([[3.0, 3.0], [1.0, 0.1]])
    # ||ref||^2 = 25, error 1 -> 10 log10 25; second: 1 / 0.01 -> 20 dB
    assert torch.allclose(snr(est, ref), torch.tensor([10 * math.log10(25), 20.0], dtype=torch.float64))


def test_psnr_hand_computed():
    ref = torch.zeros(1, 1, 2, 2)
    est = torch.full((1, 1, 2, 2), 0.1)
    assert torch.allclose(psnr(est, ref), torch.tensor([20.0], dtype=torch.float64))
    assert torch.allclose(psnr(est, ref, data_range=2.0), torch.tensor([20 + 20 * math.log10(2)],
                                                                       dtype=torch.float64))


def test_si_snr_invariant_to_scale_and_shift_and_hand_computed():
    ref = torch.rand(3, 1, 8, 8)
    est = ref + 0.05 * torch.randn_like(ref)
    base = si_snr(est, ref)
    assert torch.allclose(si_snr(3 * est - 2, ref), base)
    assert (base >= snr(est, ref) - 1e-9).all()
    # hand-computed: reference (1, 2, 3), estimate (0, 1, 0) -> best fit a=0, b=mean=2
    r = torch.tensor([[1.0, 2.0, 3.0]])
    e = torch.tensor([[0.0, 1.0, 0.0]])
    expected = 10 * math.log10(14 / 2)  # ||r||^2 = 14, residual (1-2)^2 + 0 + (3-2)^2 = 2
    assert torch.allclose(si_snr(e, r), torch.tensor([expected], dtype=torch.float64))


def test_metrics_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        snr(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="batched"):
        snr(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="data_range"):
        psnr(torch.zeros(1, 3), torch.zeros(1, 3), data_range=0)


def test_affine_fit_is_what_si_snr_measures():
    from funknn.metrics import affine_fit

    torch.manual_seed(0)
    ref = torch.rand(3, 1, 8, 8)
    est = 2.5 * ref - 0.3 + 0.01 * torch.randn(3, 1, 8, 8)
    fitted = affine_fit(est, ref)
    assert fitted.shape == est.shape and fitted.dtype == est.dtype
    assert torch.allclose(snr(fitted, ref), si_snr(est, ref), atol=1e-4)
    assert float((fitted - ref).abs().max()) < 0.05
    assert torch.allclose(affine_fit(ref, ref), ref, atol=1e-6)


def test_precision_recall_tells_collapse_from_spread():
    from funknn.metrics import precision_recall

    g = torch.Generator().manual_seed(0)
    real = torch.randn(300, 4, generator=g)
    same = precision_recall(real, torch.randn(300, 4, generator=g))
    collapsed = precision_recall(real, 0.05 * torch.randn(300, 4, generator=g))
    spread = precision_recall(real, 4 * torch.randn(300, 4, generator=g))
    assert same["precision"] > 0.6 and same["recall"] > 0.6
    assert collapsed["precision"] > 0.95 and collapsed["recall"] < 0.3
    assert spread["precision"] < 0.4 and spread["recall"] > 0.8
    with pytest.raises(ValueError, match="differ"):
        precision_recall(real, torch.randn(10, 3))
